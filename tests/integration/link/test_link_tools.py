"""Function calls through the link: a round trip, and a call cancelled by barge-in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.events import (
    AnswerInterrupted,
    ToolCallCancelled,
    ToolCallReceived,
    TurnCompleted,
)
from talkbox.live.link import LiveLink
from talkbox.live.tools import NoArguments, ToolRegistry, ToolResult, default_registry

from .conftest import FAST_POLICY, Recorder, emulator_settings, running


async def test_a_tool_call_is_answered_and_the_turn_continues(tmp_path: Path) -> None:
    ended: list[bool] = []
    registry = default_registry(
        on_end_conversation=lambda: ended.append(True),
        clock=lambda: datetime(2026, 11, 23, 17, 5, tzinfo=UTC),
    )
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = Recorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path), recorder, tools=registry, policy=FAST_POLICY
        )
        async with running(link):
            turn = link.send_text("please get time for me")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
        setup = emu.log.client_messages("setup")[0].message["setup"]
        responses = emu.log.client_messages("tool_response")

    declared = [f["name"] for t in setup["tools"] for f in t.get("functionDeclarations", [])]
    assert declared == ["get_time", "end_conversation"]
    (call,) = recorder.of(ToolCallReceived)
    assert call.turn_id == turn
    assert [c.name for c in call.calls] == ["get_time"]
    (response,) = responses
    sent = response.message["toolResponse"]["functionResponses"][0]
    assert sent["id"] == call.calls[0].id
    assert sent["response"]["time"] == "17:05"
    assert "after calling get_time" in done.transcript
    assert not ended


async def test_barge_in_cancels_a_pending_tool_call(tmp_path: Path) -> None:
    started = asyncio.Event()
    finished: list[bool] = []

    async def slow_lookup(_: NoArguments) -> ToolResult:
        started.set()
        await asyncio.sleep(30)
        finished.append(True)
        return {"result": "too late"}

    registry = ToolRegistry()
    registry.register("slow_lookup", "Look something up, slowly.", slow_lookup)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = Recorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path), recorder, tools=registry, policy=FAST_POLICY
        )
        async with running(link):
            first = link.send_text("do a slow lookup please")
            await recorder.wait_for(ToolCallReceived)
            async with asyncio.timeout(5):
                await started.wait()
            # The person talks again before the tool answered: a barge-in.
            second = link.send_text("never mind, what else?")
            cancelled = await recorder.wait_for(ToolCallCancelled)
            interrupted = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            answered = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
        responses = emu.log.client_messages("tool_response")

    (call,) = recorder.of(ToolCallReceived)
    assert cancelled.ids == (call.calls[0].id,)
    assert interrupted.interrupted
    assert AnswerInterrupted(first) in recorder.events
    assert not responses, "a cancelled call must not be answered"
    assert not finished
    assert answered.transcript.startswith("turn 2:")
