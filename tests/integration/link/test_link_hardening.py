"""Bounded waits and honest reports: setup timeouts, outages, giving up, fresh starts."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from pathlib import Path

import pytest

from talkbox.ask import ask
from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.events import (
    ContextCompressed,
    ConversationRestarted,
    LinkConnected,
    LinkDisconnected,
    TurnCompleted,
)
from talkbox.live.link import LiveLink

from .conftest import FAST_POLICY, emulator_settings

# Setup answers in milliseconds on the emulator; half a second is a setup that hangs.
QUICK_SETUP = dataclasses.replace(FAST_POLICY, setup_timeout_s=0.5)


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def one_turn(link: LiveLink, recorder: EventRecorder, text: str) -> TurnCompleted:
    turn = link.send_text(text)
    return await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)


@pytest.mark.parametrize(
    ("faults", "connections"),
    [
        (("no_setup_complete@conn=1",), 2),
        (("abort@turn=2", "no_setup_complete@conn=2"), 3),
    ],
    ids=["first-connection", "reconnect-after-a-drop"],
)
async def test_a_setup_that_never_completes_is_a_failed_connection_retried_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, faults: tuple[str, ...], connections: int
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        for fault in faults:
            emu.arm(fault)
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=QUICK_SETUP)
        async with run_in_background(link):
            first = await one_turn(link, recorder, "first")
            second = await one_turn(link, recorder, "second")
        attempts = emu.log.connection_attempts()

    assert first.transcript.startswith("turn 1:")
    assert second.transcript.startswith("turn 2:")
    assert len(attempts) == connections
    assert any("no setupComplete within 0.5s" in line for line in records(caplog, logging.INFO))
    assert [d.reason for d in recorder.of(LinkDisconnected) if "setupComplete" in d.reason]


@pytest.mark.parametrize(
    "fault",
    [
        "reject_upgrade:status=503",
        "reject_upgrade:status=429",
        "quota:max=0",
        "abort",
        "close:preset=internal",
        "no_setup_complete",
    ],
)
async def test_ask_gives_up_on_a_persistent_failure_with_one_error_line(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:
    caplog.set_level(logging.INFO)
    policy = dataclasses.replace(QUICK_SETUP, give_up_after_s=1.0)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm(fault)
        out = io.StringIO()
        started = time.monotonic()
        rc = await ask(
            emulator_settings(emu, tmp_path),
            ["hello", "never asked"],
            out_dir=tmp_path,
            as_json=False,
            out=out,
            policy=policy,
        )
        elapsed = time.monotonic() - started
        turns_sent = emu.log.client_messages("client_content")

    assert rc == 1
    assert out.getvalue() == ""
    (error,) = records(caplog, logging.ERROR)
    assert error.startswith("the Live service cannot be reached: gave up after")
    assert not records(caplog, logging.WARNING)
    # The error line is the one line: ask adds nothing of its own.
    assert capsys.readouterr().err == ""
    # 1 s of retrying plus at most one more attempt of at most 0.5 s, and some slack.
    assert elapsed < 4.0
    assert not turns_sent


async def test_a_long_outage_escalates_to_warnings_and_offline_then_says_when_it_ended(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    policy = dataclasses.replace(FAST_POLICY, offline_after_s=0.3)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("reject_upgrade:status=503")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=policy)
        async with run_in_background(link):
            turn = link.send_text("anyone there?")
            await recorder.wait_for(LinkDisconnected, lambda e: e.offline, within=10)
            offline = link.status().offline
            emu.disarm_all()
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
            after = link.status()

    assert offline
    assert done.transcript.startswith("turn 1:")
    assert not after.offline
    assert after.connected
    warnings = records(caplog, logging.WARNING)
    assert any(w.startswith("offline for ") and "HTTP 503" in w for w in warnings)
    assert warnings[-1].startswith("back online after ")
    infos = records(caplog, logging.INFO)
    assert any(i.startswith("connection refused (HTTP 503") for i in infos)
    assert not records(caplog, logging.ERROR)


async def test_a_connection_lost_before_the_first_handle_continues_as_a_fresh_conversation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("withhold_updates@turn=1")
        emu.arm("abort@turn=2")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = await one_turn(link, recorder, "my name is Ada")
            first_id = link.status().conversation_id
            second = await one_turn(link, recorder, "what is my name?")
            status = link.status()

    connected = recorder.of(LinkConnected)
    assert [c.resumed for c in connected] == [False, False]
    assert connected[1].conversation_id != first_id
    assert status.conversation_id == connected[1].conversation_id
    assert first.conversation_turn == 1
    assert second.conversation_turn == 1  # the service's fresh session: its first turn
    assert second.transcript.startswith("turn 1:")
    (restarted,) = recorder.of(ConversationRestarted)
    assert restarted.conversation_id == status.conversation_id
    assert not recorder.of(ContextCompressed)
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "before the service sent a resumption handle" in warnings[0]
    assert not any("resumed" in line for line in records(caplog, logging.INFO))
    assert not any("compressed" in line for line in records(caplog, logging.INFO))


async def test_the_first_good_connection_after_a_refused_handle_is_the_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        first = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), first, policy=FAST_POLICY)
        async with run_in_background(link):
            await one_turn(link, first, "remember seven")
            async with asyncio.timeout(5):
                await link.settled()
        emu.arm("reject_handle@times=1")
        second = EventRecorder()
        relaunched = LiveLink(emulator_settings(emu, tmp_path), second, policy=FAST_POLICY)
        async with run_in_background(relaunched):
            await one_turn(relaunched, second, "which number?")
            status = relaunched.status()

    (connected,) = second.of(LinkConnected)
    assert connected.reason == "start"
    assert connected.reconnects == 0
    assert status.reconnects == 0
    assert any("refused the resumption handle" in w for w in records(caplog, logging.WARNING))


async def test_a_session_gone_without_a_handle_sent_does_not_blame_a_handle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("close:code=1008,reason=Requested entity was not found@conn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            done = await one_turn(link, recorder, "hello")
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]

    assert all("handle" not in s["sessionResumption"] for s in setups)
    assert done.transcript.startswith("turn 1:")
    (warning,) = records(caplog, logging.WARNING)
    assert "handle" not in warning
    assert "no longer has the conversation" in warning
    assert recorder.of(LinkConnected)[0].reason == "start"


@pytest.mark.parametrize("message", [2, 3], ids=["first-turn", "second-turn"])
async def test_a_service_silent_before_the_answer_starts_is_left_and_the_turn_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, message: int
) -> None:
    caplog.set_level(logging.INFO)
    policy = dataclasses.replace(FAST_POLICY, answer_silence_s=0.5)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        # Right after the client's message N (setup is 1): the question of turn N - 1.
        emu.arm(f"stall:s=3@msg={message}")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=policy)
        async with run_in_background(link):
            started = time.monotonic()
            first = await one_turn(link, recorder, "hello?")
            second = await one_turn(link, recorder, "still there?")
            elapsed = time.monotonic() - started

    assert first.transcript.startswith("turn 1:")
    assert second.transcript.startswith("turn 2:")
    assert elapsed < 2.5  # well before the stall ended on its own
    assert any(
        "no message from the service for 0.5s while a turn waited" in line
        for line in records(caplog, logging.INFO)
    )
    assert len(recorder.of(LinkConnected)) == 2


async def test_a_connection_that_worked_for_a_while_and_then_dropped_is_no_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Anything failing for 0.3 s would be an outage: the connection lives longer than that.
    policy = dataclasses.replace(FAST_POLICY, offline_after_s=0.3)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("abort@t=0.8,conn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=policy)
        async with run_in_background(link):
            await one_turn(link, recorder, "hello")
            await recorder.wait_for(LinkConnected, lambda e: e.reason == "reconnect")

    assert not records(caplog, logging.WARNING)
    assert not [d for d in recorder.of(LinkDisconnected) if d.offline]


async def test_a_turn_asked_during_a_backoff_is_sent_on_an_attempt_made_at_once(
    tmp_path: Path,
) -> None:
    # A backoff of 4-8 s after the drop: the turn need not wait it out.
    policy = dataclasses.replace(FAST_POLICY, base_s=8.0, cap_s=16.0)
    async with Emulator(EmulatorOptions(realtime=False, faults=["abort@t=0.3,conn=1"])) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=policy)
        async with run_in_background(link):
            await recorder.wait_for(LinkConnected)
            lost = await recorder.wait_for(LinkDisconnected, within=5)
            asked = time.monotonic()
            turn = link.send_text("hello?")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=8)
            waited = time.monotonic() - asked
    assert lost.retry_in_s >= 4.0
    assert done.transcript.startswith("turn 1:")
    assert waited < lost.retry_in_s


async def test_asyncios_lines_about_writes_to_a_lost_connection_become_one_line_of_ours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    asyncio_log = logging.getLogger("asyncio")
    async with Emulator(EmulatorOptions(realtime=False, faults=["abort@t=0.5,conn=1"])) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            await recorder.wait_for(LinkConnected)
            # What asyncio's transport says for the 6th and later writes after a send failed.
            asyncio_log.warning("socket.send() raised exception.")
            asyncio_log.warning("socket.send() raised exception.")
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=5)
        asyncio_log.warning("socket.send() raised exception.")  # the link has stopped
    lines = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert [line for line in lines if line[0] == "asyncio"] == [
        ("asyncio", logging.WARNING, "socket.send() raised exception.")
    ]
    ours = [line for line in lines if "in the middle of sending" in line[2]]
    assert ours == [
        (
            "talkbox.live.link",
            logging.INFO,
            "connection 1 was lost in the middle of sending; what it carried goes again",
        )
    ]
