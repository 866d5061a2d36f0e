"""The event log: queries by direction, kind and connection; JSON lines; waiting."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from talkbox.emulator import EventLog


def filled(path: Path | None = None) -> EventLog:
    log = EventLog(path)
    log.add(1, "event", "handshake", {"path": "/ws/x"})
    log.add(1, "in", "setup", {"setup": {}}, index=1)
    log.add(1, "out", "setupComplete", {"setupComplete": {}})
    log.add(1, "in", "realtime_input.text", {"realtimeInput": {"text": "hi"}}, index=2)
    log.add(1, "out", "serverContent.modelTurn", {})
    log.add(1, "out", "serverContent.turnComplete", {})
    log.add(2, "event", "upgrade_refused", {"status": 429})
    log.add(1, "event", "close", {"by": "client", "code": 1000})
    return log


def test_queries_select_by_direction_kind_prefix_and_connection() -> None:
    log = filled()
    assert [r.kind for r in log.client_messages()] == ["setup", "realtime_input.text"]
    assert [r.index for r in log.client_messages()] == [1, 2]
    assert len(log.server_messages("serverContent.")) == 2
    assert log.server_messages("serverContent") == []
    assert [r.kind for r in log.connection_attempts()] == ["handshake", "upgrade_refused"]
    assert [r.message["code"] for r in log.closes(conn=1)] == [1000]
    assert log.kinds("out", conn=1) == [
        "setupComplete",
        "serverContent.modelTurn",
        "serverContent.turnComplete",
    ]
    times = [r.t for r in log.records]
    assert times == sorted(times)


def test_records_are_also_written_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = filled(path)
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == len(log.records)
    assert lines[1] == {
        "t": log.records[1].t,
        "conn": 1,
        "direction": "in",
        "kind": "setup",
        "message": {"setup": {}},
        "index": 1,
        "sent": None,
        "t_send": None,
    }


def test_a_synchronous_wait_wakes_when_another_thread_adds_the_record() -> None:
    log = EventLog()
    timer = threading.Timer(0.05, lambda: log.add(1, "event", "close", {}))
    timer.start()
    log.wait_for_sync(lambda lg: bool(lg.closes()), timeout=5)
    timer.join()
    with pytest.raises(TimeoutError):
        log.wait_for_sync(lambda lg: len(lg.closes()) > 1, timeout=0.05)


async def test_an_async_wait_ends_when_the_condition_holds() -> None:
    log = EventLog()
    asyncio.get_running_loop().call_later(0.02, lambda: log.add(1, "event", "abort", {}))
    async with asyncio.timeout(5):
        await log.wait_for(lambda lg: bool(lg.closes()))
    assert log.closes()[0].kind == "abort"


def test_without_audio_media_payloads_are_replaced_by_their_length() -> None:
    log = EventLog(keep_audio=False)
    blob = {"data": "QUJD" * 10, "mime_type": "audio/pcm"}
    record = log.add(
        1,
        "in",
        "realtime_input.audio",
        {"realtimeInput": {"audio": blob}},
        2,
        sent={"realtime_input": {"audio": blob}},
    )
    assert record.message == {
        "realtimeInput": {"audio": {"data": "<40 base64 chars>", "mime_type": "audio/pcm"}}
    }
    assert record.sent is not None
    assert record.sent["realtime_input"]["audio"]["data"] == "<40 base64 chars>"
    assert log.add(1, "in", "realtime_input.text", {"text": {"data": "x"}}).message == {
        "text": {"data": "x"}
    }


def test_a_bounded_log_keeps_the_newest_records() -> None:
    log = EventLog(max_records=10)
    for n in range(100):
        log.add(1, "event", "tick", {"n": n})
    assert 10 <= len(log.records) <= 20
    assert log.records[-1].message == {"n": 99}
