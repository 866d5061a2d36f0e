"""How the 3.x rows answer: fast audio, combined parts, interaction status, fillers, tools.

Timing bounds are one-sided where the emulator waits (a sleep never ends early) and generous
where the machine's load could slow it down.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
from google.genai import errors, types

from talkbox.emulator import Emulator, catalog, model

WAIT_S = 15.0
LIVE = "gemini-3.8-live"
THINKING = "gemini-3.8-live-extended-thinking"
NATIVE = "gemini-2.5-flash-native-audio-preview-12-2025"
PCM16K = "audio/pcm;rate=16000"
MANUAL = types.RealtimeInputConfig(
    automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
)
#: A text of 40 characters is answered with a 3.2 s tone phrase (80 ms a character).
LONG = "x" * 40
LONG_S = 3.2


def config(model: str = LIVE, **fields: Any) -> types.LiveConnectConfig:
    base: dict[str, Any] = {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
    }
    if model == THINKING:
        base["thinking_config"] = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)
    base.update(fields)
    return types.LiveConnectConfig(**base)


def tool(name: str, behavior: types.Behavior | None = None) -> types.Tool:
    return types.Tool(
        function_declarations=[types.FunctionDeclaration(name=name, behavior=behavior)]
    )


def voice(seconds: float) -> bytes:
    t = np.arange(int(seconds * 16_000)) / 16_000
    return (np.sin(2 * np.pi * 300 * t) * 12000).astype("<i2").tobytes()


async def send_audio(session: Any, pcm: bytes, frame: int = 640) -> None:
    for i in range(0, len(pcm), frame):
        await session.send_realtime_input(
            audio=types.Blob(data=pcm[i : i + frame], mime_type=PCM16K)
        )


async def interaction(session: Any) -> list[tuple[float, types.LiveServerMessage]]:
    """One receive() call (it ends at IDLE, or turnComplete without a status), timed."""
    async with asyncio.timeout(WAIT_S):
        return [(time.monotonic(), m) async for m in session.receive()]


def contents(timed: list[tuple[float, types.LiveServerMessage]]) -> list[types.LiveServerContent]:
    return [m.server_content for _, m in timed if m.server_content is not None]


# ---- pacing ---------------------------------------------------------------------------


async def test_3_8_sends_answer_audio_faster_than_real_time_and_turn_complete_at_playback_end(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    async with client_for(emulator).aio.live.connect(model=LIVE, config=config()) as session:
        await session.send_realtime_input(text=LONG)
        timed = await interaction(session)
    audio = [t for t, m in timed if m.data]
    generated = next(
        t for t, m in timed if m.server_content and m.server_content.generation_complete
    )
    completed = timed[-1][0]
    assert sum(len(m.data or b"") for _, m in timed) == LONG_S * model.OUTPUT_RATE * 2
    # Four times faster: 0.8 s of streaming; a loaded machine gets more than twice that.
    assert audio[-1] - audio[0] < LONG_S / 2
    assert audio[-1] <= generated < completed
    # turnComplete waits for the client's playback (3.2 s from the first chunk).
    assert completed - audio[0] >= LONG_S - 0.25
    last = timed[-1][1].server_content
    assert last is not None
    assert last.turn_complete
    assert last.interaction_status == types.InteractionStatus.IDLE


async def test_the_fast_audio_factor_is_switchable(make_emulator: Any, client_for: Any) -> None:
    emulator = await make_emulator(realtime=True, fast_audio_factor=1.0)
    async with client_for(emulator).aio.live.connect(model=LIVE, config=config()) as session:
        await session.send_realtime_input(text=LONG)
        timed = await interaction(session)
    audio = [t for t, m in timed if m.data]
    # At real time the last 100 ms chunk starts 3.1 s after the first.
    assert audio[-1] - audio[0] >= LONG_S - 0.2


async def test_the_2_5_rows_keep_real_time_pacing_and_no_interaction_status(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    async with client_for(emulator).aio.live.connect(model=NATIVE, config=config()) as session:
        await session.send_realtime_input(text="x" * 10)
        timed = await interaction(session)
    audio = [t for t, m in timed if m.data]
    assert audio[-1] - audio[0] >= 0.8 - 0.2
    assert all(c.interaction_status is None for c in contents(timed))
    # One part per message: no transcript rides with the audio.
    assert not [c for c in contents(timed) if c.model_turn and c.output_transcription]


# ---- combined parts -------------------------------------------------------------------


async def test_3_8_combines_audio_and_transcript_and_chunks_transcripts_with_finished_last(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=LIVE, config=config()) as session:
        await session.send_realtime_input(text="what is the weather like")
        found = contents(await interaction(session))
    combined = [c for c in found if c.model_turn and c.output_transcription]
    assert len(combined) >= 2
    out = [c.output_transcription for c in found if c.output_transcription]
    assert "".join(t.text or "" for t in out) == (
        'turn 1: tone phrase of 1.92 s for "what is the weather like"'
    )
    assert [bool(t.finished) for t in out] == [False] * (len(out) - 1) + [True]
    heard = [c.input_transcription for c in found if c.input_transcription]
    assert len(heard) >= 2
    assert "".join(t.text or "" for t in heard) == "what is the weather like"
    assert heard[-1].finished


async def test_3_8_sends_interim_input_transcripts_while_the_user_speaks(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(realtime_input_config=MANUAL)
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(1.2))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        found = contents(await interaction(session))
    interim = [c.interim_input_transcription.text for c in found if c.interim_input_transcription]
    assert interim == ["audio 0.50 s", "audio 1.00 s"]
    first_final = next(i for i, c in enumerate(found) if c.input_transcription)
    last_interim = max(i for i, c in enumerate(found) if c.interim_input_transcription)
    assert last_interim < first_final


@pytest.mark.parametrize(("model_name", "expected"), [(LIVE, True), (NATIVE, False)])
async def test_voice_activity_is_sent_under_automatic_detection_by_the_models_that_send_it(
    make_emulator: Any, client_for: Any, model_name: str, expected: bool
) -> None:
    emulator = await make_emulator(silence_ms=200)
    async with client_for(emulator).aio.live.connect(
        model=model_name, config=config(model_name)
    ) as session:
        await send_audio(session, voice(0.3) + bytes(int(0.3 * 16000) * 2))
        async with asyncio.timeout(WAIT_S):
            messages = [m async for m in session.receive()]
    kinds = [m.voice_activity.voice_activity_type for m in messages if m.voice_activity]
    assert kinds == (
        [types.VoiceActivityType.ACTIVITY_START, types.VoiceActivityType.ACTIVITY_END]
        if expected
        else []
    )


# ---- extended thinking ----------------------------------------------------------------


async def test_extended_thinking_speaks_a_filler_ends_it_in_progress_then_answers_idle(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=THINKING, config=config(THINKING)) as session:
        await session.send_realtime_input(text="why is the sky blue")
        found = contents(await interaction(session))
    ends = [(i, c.interaction_status) for i, c in enumerate(found) if c.turn_complete]
    assert [status for _, status in ends] == [
        types.InteractionStatus.IN_PROGRESS,
        types.InteractionStatus.IDLE,
    ]
    filler_end, answer_end = (i for i, _ in ends)
    joined = spoken(found)
    assert joined.startswith(model.FILLER_TEXT)
    assert joined.endswith('for "why is the sky blue"')
    assert any(c.model_turn for c in found[:filler_end])
    assert any(c.model_turn for c in found[filler_end:answer_end])
    # One receive() call held both: the SDK does not end an interaction at IN_PROGRESS.
    assert answer_end == len(found) - 1


# ---- function calling -----------------------------------------------------------------


async def first_call(session: Any, messages: list[types.LiveServerMessage]) -> types.FunctionCall:
    async with asyncio.timeout(WAIT_S):
        async for message in session.receive():
            messages.append(message)
            if message.tool_call and message.tool_call.function_calls:
                return message.tool_call.function_calls[0]
    raise AssertionError("no tool call")


async def test_on_3_8_a_declaration_without_behavior_is_non_blocking_and_the_answer_goes_on(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[tool("get_time")])
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(text="get time please")
        found = await interaction(session)
    assert any(m.tool_call for _, m in found)
    last = found[-1][1].server_content
    assert last is not None
    assert last.interaction_status == types.InteractionStatus.IDLE
    assert not emulator.log.client_messages("tool_response")
    assert "after calling" not in spoken(contents(found))


async def test_on_the_2_5_rows_a_declaration_without_behavior_blocks(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(NATIVE, tools=[tool("get_time")])
    async with client_for(emulator).aio.live.connect(model=NATIVE, config=cfg) as session:
        await session.send_realtime_input(text="get time please")
        call = await first_call(session, [])
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id=call.id, name=call.name, response={})
        )
        found = contents(await interaction(session))
    # The answer waited for the result (a NON_BLOCKING call's answer would not say so).
    assert spoken(found).endswith("after calling get_time")


async def test_a_blocking_call_is_cancelled_by_new_input_and_its_late_response_is_ignored(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[tool("get_time", types.Behavior.BLOCKING)])
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(text="get time please")
        call = await first_call(session, [])
        await session.send_realtime_input(text="never mind")
        cancelled = await interaction(session)
        answered = await interaction(session)
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id=call.id, name=call.name, response={})
        )
        async with asyncio.timeout(WAIT_S):
            await emulator.log.wait_for(lambda log: bool(log.events("unknown_tool_response")))
    ids = [
        i
        for _, m in cancelled
        if m.tool_call_cancellation
        for i in m.tool_call_cancellation.ids or []
    ]
    assert ids == [call.id]
    assert any(c.interrupted for c in contents(cancelled))
    assert any(m.data for _, m in answered)


async def answered_while_talking(
    emulator: Emulator, client_for: Any, scheduling: types.FunctionResponseScheduling
) -> list[list[types.LiveServerContent]]:
    """Call f (NON_BLOCKING), ask a long question, answer f with `scheduling` while it plays.

    The interactions that follow, up to the answer of a last question ("next"), asked once
    the answers the scheduling promises are over.
    """
    cfg = config(tools=[tool("f", types.Behavior.NON_BLOCKING)])
    interactions = []
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(text="call f")
        call = await first_call(session, [])
        await interaction(session)
        await session.send_realtime_input(text=LONG)
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.data:
                    break
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=call.id, name=call.name, response={"ok": True}, scheduling=scheduling
            )
        )
        promised = 1 if scheduling == types.FunctionResponseScheduling.SILENT else 2
        for _ in range(promised):
            interactions.append(contents(await interaction(session)))
        await session.send_realtime_input(text="next")
        interactions.append(contents(await interaction(session)))
    return interactions


def spoken(found: list[types.LiveServerContent]) -> str:
    return "".join(c.output_transcription.text or "" for c in found if c.output_transcription)


async def test_an_interrupt_result_stops_the_answer_and_is_spoken_at_once(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    talking, result, after = await answered_while_talking(
        emulator, client_for, types.FunctionResponseScheduling.INTERRUPT
    )
    assert any(c.interrupted for c in talking)
    assert not any(c.generation_complete for c in talking)
    assert "result of f" in spoken(result)
    assert spoken(after).endswith('for "next"')


async def test_a_when_idle_result_waits_for_the_answer_to_end(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    talking, result, after = await answered_while_talking(
        emulator, client_for, types.FunctionResponseScheduling.WHEN_IDLE
    )
    assert not any(c.interrupted for c in talking)
    assert any(c.generation_complete for c in talking)
    assert "result of f" in spoken(result)
    assert spoken(after).endswith('for "next"')


async def test_a_silent_result_is_only_added_to_the_context(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    talking, after = await answered_while_talking(
        emulator, client_for, types.FunctionResponseScheduling.SILENT
    )
    assert not any(c.interrupted for c in talking)
    # Nothing was said about the result: the next answer is the one to "next".
    assert spoken(after).endswith('for "next"')
    assert "result of f" not in spoken(after)


async def test_an_interrupt_result_waits_politely_until_the_user_stops_speaking(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator()
    cfg = config(tools=[tool("f", types.Behavior.NON_BLOCKING)], realtime_input_config=MANUAL)
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(text="call f")
        call = await first_call(session, [])
        await interaction(session)
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(0.2))
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=call.id,
                name=call.name,
                response={"ok": True},
                scheduling=types.FunctionResponseScheduling.INTERRUPT,
            )
        )
        await send_audio(session, voice(0.2))
        marker = await session_frames(emulator)
        # The frames after the response were read, so it was handled: the result waits
        # while the user speaks, and nothing is queued to be said over them.
        conn = emulator.connections[emulator.log.events("handshake")[-1].conn]
        assert len(conn.responder.deferred) == 1
        assert conn.responder.turns.empty()
        assert marker > 0
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        result = contents(await interaction(session))
        answer = contents(await interaction(session))
    assert "result of f" in spoken(result)
    assert "echo of 0.40 s of audio" in spoken(answer)


async def session_frames(emulator: Emulator) -> int:
    """Wait until the audio sent after the tool response was read; how many frames came in."""

    def read_after(log: Any) -> bool:
        kinds = [r.kind for r in log.client_messages()]
        return (
            "tool_response" in kinds
            and kinds[-1] == "realtime_input.audio"
            and (kinds.index("tool_response") < len(kinds) - 10)
        )

    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(read_after)
    return len(emulator.log.client_messages())


async def test_will_continue_responses_are_accepted_until_the_last_one(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[tool("f", types.Behavior.NON_BLOCKING)])
    async with client_for(emulator).aio.live.connect(model=LIVE, config=cfg) as session:
        await session.send_realtime_input(text="call f")
        call = await first_call(session, [])
        await interaction(session)
        for more in (True, True, False, False):
            await session.send_tool_response(
                function_responses=types.FunctionResponse(
                    id=call.id,
                    name=call.name,
                    response={"step": 1},
                    will_continue=more,
                    scheduling=types.FunctionResponseScheduling.SILENT,
                )
            )
        async with asyncio.timeout(WAIT_S):
            await emulator.log.wait_for(lambda log: bool(log.events("unknown_tool_response")))
    assert len(emulator.log.client_messages("tool_response")) == 4
    # Only the response after the last one matched no open call.
    assert len(emulator.log.events("unknown_tool_response")) == 1


async def test_extended_thinking_closes_a_response_with_scheduling_1007(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(THINKING, tools=[tool("f")])
    async with client_for(emulator).aio.live.connect(model=THINKING, config=cfg) as session:
        await session.send_realtime_input(text="call f")
        call = await first_call(session, [])
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=call.id,
                name=call.name,
                response={},
                scheduling=types.FunctionResponseScheduling.WHEN_IDLE,
            )
        )
        with pytest.raises(errors.APIError) as caught:
            await drain(session)
    assert (caught.value.code, caught.value.details) == (1007, catalog.SCHEDULING_REFUSED)


async def drain(session: Any) -> None:
    """Receive until the connection ends (the SDK raises)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            async for _ in session.receive():
                pass


# ---- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("no_interaction_status@turn=1", None),
        ("interaction_status:status=WAITING_FOR_INPUT@turn=1", "WAITING_FOR_INPUT"),
    ],
)
async def test_the_interaction_status_can_be_left_out_or_be_one_the_sdk_does_not_know(
    emulator: Emulator, client_for: Any, fault: str, status: str | None
) -> None:
    emulator.arm(fault)

    def ends(log: Any) -> list[dict[str, Any]]:
        return [
            r.message["serverContent"]
            for r in log.server_messages()
            if "turnComplete" in r.message.get("serverContent", {})
        ]

    async with client_for(emulator).aio.live.connect(model=LIVE, config=config()) as session:
        await session.send_realtime_input(text="hello")
        # Read by the log: receive() does not end at a status the SDK does not know.
        async with asyncio.timeout(WAIT_S):
            await emulator.log.wait_for(lambda log: bool(ends(log)))
    (done,) = ends(emulator.log)
    assert done.get("interactionStatus") == status


async def test_a_safety_turn_complete_reason_reaches_the_sdk(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("turn_complete_reason:reason=GENERATED_AUDIO_SAFETY@turn=1")
    async with client_for(emulator).aio.live.connect(model=LIVE, config=config()) as session:
        await session.send_realtime_input(text="hello")
        found = contents(await interaction(session))
    assert found[-1].turn_complete_reason == types.TurnCompleteReason.GENERATED_AUDIO_SAFETY
    assert found[-1].interaction_status == types.InteractionStatus.IDLE
