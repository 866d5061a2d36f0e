"""Timers on the appliance: set through the real SDK tool path, rung, stopped, kept over restarts.

The box runs on the fake devices and talks to the emulator, whose model turns a timer request
in a text turn into the call a model makes (`talkbox.emulator.model.timer_call`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from talkbox.appliance.control import Request, RequestError
from talkbox.appliance.requests import answer
from talkbox.conversation import State, TextAsked
from talkbox.emulator import Emulator
from talkbox.timers.ring import ring_heard_s
from talkbox.timers.store import TimerStore
from talkbox.timers.table import TimerTable

from .conftest import MakeEmulator, recording, running_box, until


def tool_calls(emulator: Emulator) -> list[dict[str, Any]]:
    """Every function call the emulator's model made, in order."""
    return [
        call
        for r in emulator.log.server_messages("toolCall")
        for call in r.message["toolCall"]["functionCalls"]
    ]


def tool_results(emulator: Emulator) -> list[dict[str, Any]]:
    """Every function response the box sent, in order."""
    return [
        response
        for r in emulator.log.client_messages("tool_response")
        for response in r.message["toolResponse"]["functionResponses"]
    ]


async def test_a_timer_asked_for_is_set_through_the_tool_path_rings_and_a_press_stops_it(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path) as box:
        app = box.app
        app.post(TextAsked(text="set a pasta timer for 3 seconds"))
        await until(lambda: bool(tool_results(emulator)), within=5, what="the tool answered")
        assert tool_calls(emulator)[0]["name"] == "set_timer"
        assert tool_calls(emulator)[0]["args"] == {"seconds": 3, "name": "pasta"}
        result = tool_results(emulator)[0]["response"]
        assert result["result"] == "the pasta timer is set"
        assert result["time_zone"]  # the box's local zone is named
        status = answer(app, Request(command="status"))
        assert status["next_timer"]["name"] == "pasta"
        listed = answer(app, Request(command="timers"))
        assert [t["name"] for t in listed["timers"]] == ["pasta"]
        with pytest.raises(RequestError, match="nothing is ringing"):
            answer(app, Request(command="stop"))
        await until(lambda: app.state is State.RINGING, within=8, what="ringing")
        await until(
            lambda: ring_heard_s(box.world.speaker.audio) >= 0.4, within=3, what="the ring played"
        )
        assert app.timers.table.entries == ()
        assert answer(app, Request(command="status"))["next_timer"] is None
        box.world.button.press()
        await until(lambda: app.state is State.IDLE, within=2, what="stopped")
        box.world.button.release()
        played = len(box.world.speaker.audio)
        assert box.world.speaker.flushes >= 1  # the cycle playing was dropped
        # Nothing more of the ring is queued once it stopped.
        await _quiet_for(box, 1.5)
        assert len(box.world.speaker.audio) == played
        assert app.state is State.IDLE


async def _quiet_for(box: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    await until(lambda: time.monotonic() >= end, within=seconds + 2, what="time passed")


async def test_ctl_stop_stops_a_ring_and_a_ring_nobody_stops_times_out(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = await make_emulator(realtime=True)
    caplog.set_level(logging.INFO)
    async with running_box(emulator, tmp_path, timer_ring_s=5) as box:
        app = box.app
        table, _ = app.timers.table.add_timer(time.time(), 1, "tea")
        app.timers.commit(table)
        await until(lambda: app.state is State.RINGING, within=4, what="ringing")
        assert answer(app, Request(command="stop")) == {}
        await until(lambda: app.state is State.IDLE, within=2, what="stopped by ctl")
        table, _ = app.timers.table.add_timer(time.time(), 1, "eggs")
        app.timers.commit(table)
        await until(lambda: app.state is State.RINGING, within=4, what="ringing again")
        rang_at = time.monotonic()
        await until(lambda: app.state is State.IDLE, within=10, what="timed out")
        rang_for = time.monotonic() - rang_at
    assert 4.5 <= rang_for <= 8.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "the eggs timer rang for 5 s and nobody stopped it (TALKBOX_TIMER_RING_S)" in warnings
    assert any("ringing: the eggs timer" in r.getMessage() for r in caplog.records)


async def test_a_timer_pending_over_a_restart_rings_when_due_after_it(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path) as box:
        box.app.post(TextAsked(text="set a timer for 6 seconds"))
        await until(lambda: bool(box.app.timers.table.entries), within=5, what="set")
        due = box.app.timers.table.entries[0].due
    stored = json.loads((tmp_path / "timers.json").read_text(encoding="utf-8"))
    assert [e["due"] for e in stored["entries"]] == [due]
    async with running_box(emulator, tmp_path) as box:
        assert box.app.state is State.IDLE
        assert box.world.indicator.timers  # idle shows a timer is set
        await until(lambda: box.app.state is State.RINGING, within=10, what="rang after restart")
        rang_at = time.time()
        assert not box.world.indicator.timers or box.app.timers.table.entries == ()
    assert due <= rang_at <= due + 3


async def test_at_start_a_timer_due_moments_ago_rings_and_one_long_past_is_missed(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    table, _ = TimerTable().add_timer(now - 4000, 400, "bread")  # due an hour ago
    table, _ = table.add_timer(now - 100, 60, "eggs")  # due 40 s ago
    table, _ = table.add_timer(now, 3600, "stew")
    TimerStore(tmp_path).save(table)
    emulator = await make_emulator(realtime=True)
    with caplog.at_level(logging.INFO):
        async with running_box(emulator, tmp_path, timer_missed_after_s=600) as box:
            await box.state_is(State.RINGING, within=3)
            listed = answer(box.app, Request(command="timers"))
            assert [t["name"] for t in listed["timers"]] == ["stew"]
            assert [t["name"] for t in listed["missed"]] == ["bread"]
            box.world.button.press()
            await box.state_is(State.IDLE, within=3)
    messages = [r.getMessage() for r in caplog.records]
    assert any("the bread timer fell due" in m and "missed, not rung" in m for m in messages)
    assert any(m.startswith("ringing: the eggs timer") for m in messages)
    assert not any(m.startswith("ringing:") and "bread" in m for m in messages)


async def test_the_wake_word_stops_a_ring_without_opening_a_turn(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, wake_word="okay_nabu", follow_up_s=0) as box:
        app = box.app
        table, _ = app.timers.table.add_timer(time.time(), 1, "tea")
        app.timers.commit(table)
        await box.state_is(State.RINGING, within=4)
        box.room.say(recording("wake/okay_nabu-en-us.wav"))
        await box.state_is(State.IDLE, within=8)
        await until(lambda: not box.room.speaking, within=8, what="the word said")
        assert app.counters.wake_words == 1
        assert State.LISTENING not in box.world.indicator.states()
        assert emulator.log.client_messages("realtime_input.activityStart") == []
    assert any(
        r.getMessage() == "the ring stopped: stopped by the wake word okay_nabu"
        for r in caplog.records
    )


async def test_a_ring_over_the_mute_keeps_the_wake_word_detector_off(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, wake_word="okay_nabu") as box:
        app = box.app
        box.world.button.double_press()
        await box.state_is(State.MUTED, within=2)
        table, _ = app.timers.table.add_timer(time.time(), 1, "tea")
        app.timers.commit(table)
        await box.state_is(State.RINGING, within=4)
        box.room.say(recording("wake/okay_nabu-en-us.wav"))
        await until(lambda: not box.room.speaking, within=8, what="the word said")
        await _quiet_for(box, 0.5)
        assert app.counters.wake_words == 0  # muted: not listened to, even while it rings
        assert app.state is State.RINGING
        box.world.button.press()
        await box.state_is(State.MUTED, within=2)
