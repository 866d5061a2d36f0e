"""Function calls through the link: round trips, barge-in, end_conversation, no tools."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.events import (
    AnswerInterrupted,
    LinkConnected,
    ToolCallCancelled,
    ToolCallReceived,
    TurnCompleted,
    TurnFailed,
)
from talkbox.live.handles import HandleStore
from talkbox.live.link import LiveLink
from talkbox.live.tools import NoArguments, ToolRegistry, ToolResult, default_registry

from .conftest import FAST_POLICY, emulator_settings


async def test_a_tool_call_is_answered_and_the_turn_continues(tmp_path: Path) -> None:
    ended: list[bool] = []
    registry = default_registry(
        on_end_conversation=lambda: ended.append(True),
        clock=lambda: datetime(2026, 11, 23, 17, 5, tzinfo=UTC),
    )
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path), recorder, tools=registry, policy=FAST_POLICY
        )
        async with run_in_background(link):
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
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path), recorder, tools=registry, policy=FAST_POLICY
        )
        async with run_in_background(link):
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
        setup = emu.log.client_messages("setup")[0].message["setup"]

    (call,) = recorder.of(ToolCallReceived)
    declared = setup["tools"][0]["functionDeclarations"]
    assert [(d["name"], d["behavior"]) for d in declared] == [("slow_lookup", "BLOCKING")]
    assert cancelled.ids == (call.calls[0].id,)
    assert interrupted.interrupted
    assert AnswerInterrupted(first) in recorder.events
    assert not responses, "a cancelled call must not be answered"
    assert not finished
    assert answered.transcript.startswith("turn 2:")


async def test_end_conversation_lets_the_goodbye_finish_then_starts_a_fresh_conversation(
    tmp_path: Path,
) -> None:
    goodbye = "thanks, please end conversation"
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        # The default tools, end_conversation wired to the link as `ask` wires it.
        tools = default_registry(on_end_conversation=lambda: link.new_conversation(after_turn=True))
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, tools=tools, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("remember seven")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            bye = link.send_text(goodbye)
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == bye)
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=3)
            after = link.send_text("hello again")
            again = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == after)
            async with asyncio.timeout(5):
                await link.settled()
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]
        asked = [
            (r.conn, r.message["clientContent"]["turns"][0]["parts"][0]["text"])
            for r in emu.log.client_messages("client_content")
        ]
        responses = emu.log.client_messages("tool_response")

    (call,) = recorder.of(ToolCallReceived)
    assert [c.name for c in call.calls] == ["end_conversation"]
    assert len(responses) == 1
    # The goodbye was heard in full: one tone note per character, nothing cut.
    assert not done.interrupted
    assert "after calling end_conversation" in done.transcript
    assert done.audio_s == pytest.approx(0.08 * len(goodbye))
    assert not recorder.of(TurnFailed)
    # Then a fresh conversation, and the goodbye was not asked again in it.
    assert len(setups) == 2
    assert "handle" not in setups[1]["sessionResumption"]
    assert asked == [(1, "remember seven"), (1, goodbye), (2, "hello again")]
    assert again.transcript.startswith("turn 1:")
    stored = HandleStore(tmp_path, max_age_s=3600).load()
    assert stored is not None
    assert stored.conversation_id == link.status().conversation_id
    assert stored.turns == 1


async def test_without_tools_a_call_is_answered_with_an_error_and_the_turn_goes_on(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("tool_call:name=get_weather@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, tools=None, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=3)
            # Undeclared, the call is NON_BLOCKING on 3.8: the answer goes on, and the error
            # is spoken when the model is idle, as a turn of its own.
            spoken = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id is None, within=3)
        setup = emu.log.client_messages("setup")[0].message["setup"]
        (response,) = emu.log.client_messages("tool_response")

    assert "tools" not in setup
    (call,) = recorder.of(ToolCallReceived)
    sent = response.message["toolResponse"]["functionResponses"][0]
    assert sent["id"] == call.calls[0].id
    assert sent["name"] == "get_weather"
    assert "unknown function" in sent["response"]["error"]
    assert "scheduling" not in sent
    assert "after calling" not in done.transcript
    assert "result of get_weather" in spoken.transcript
