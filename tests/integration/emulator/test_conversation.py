"""How the emulated model holds a conversation: turn ends, barge-in, tools, memory, window."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np
import pytest
from google.genai import errors, types

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0
PCM16K = "audio/pcm;rate=16000"
MANUAL = types.RealtimeInputConfig(
    automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
)
WEATHER_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="Get the weather for a city.",
            parameters=types.Schema(
                type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
            ),
        )
    ]
)


def config(**fields: Any) -> types.LiveConnectConfig:
    base: dict[str, Any] = {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
    }
    base.update(fields)
    return types.LiveConnectConfig(**base)


def voice(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 300 * t) * 12000).astype("<i2").tobytes()


async def send_audio(session: Any, pcm: bytes, frame: int = 640) -> None:
    for i in range(0, len(pcm), frame):
        await session.send_realtime_input(
            audio=types.Blob(data=pcm[i : i + frame], mime_type=PCM16K)
        )


async def one_turn(session: Any) -> list[types.LiveServerMessage]:
    async with asyncio.timeout(WAIT_S):
        return [m async for m in session.receive()]


def text_of(messages: list[types.LiveServerMessage], which: str) -> list[str]:
    found = []
    for m in messages:
        item = getattr(m.server_content, which, None) if m.server_content else None
        if item is not None and item.text is not None:
            found.append(item.text)
    return found


def shape(messages: list[types.LiveServerMessage]) -> list[str]:
    """Kinds of the messages, with modelTurn runs collapsed to one entry."""
    kinds: list[str] = []
    for m in messages:
        dumped = m.model_dump(exclude_none=True)
        if "server_content" in dumped:
            kind = "server_content." + "+".join(sorted(dumped["server_content"]))
        else:
            kind = "+".join(sorted(dumped))
        if "usage_metadata" in dumped and kind != "usage_metadata":
            kind += "+usage_metadata"
        if not kinds or kinds[-1] != kind or "model_turn" not in kind:
            kinds.append(kind)
    return kinds


# ---- where a user turn ends -------------------------------------------------------------


async def test_with_automatic_detection_a_stretch_of_silence_ends_the_turn(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(silence_ms=300)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        await send_audio(session, bytes(3200))  # leading silence is not speech
        await send_audio(session, voice(0.4))
        await send_audio(session, bytes(int(0.3 * 16000) * 2))
        messages = await one_turn(session)
    assert text_of(messages, "input_transcription") == ["audio 0.70 s"]


async def test_setup_silence_duration_overrides_the_default(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(silence_ms=5000)
    detection = types.AutomaticActivityDetection(silence_duration_ms=100)
    cfg = config(
        realtime_input_config=types.RealtimeInputConfig(automatic_activity_detection=detection)
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await send_audio(session, voice(0.2) + bytes(3200))
        messages = await one_turn(session)
    assert text_of(messages, "input_transcription") == ["audio 0.30 s"]


async def test_audio_stream_end_ends_the_turn_under_automatic_detection(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        await send_audio(session, voice(0.25))
        await session.send_realtime_input(audio_stream_end=True)
        messages = await one_turn(session)
    assert text_of(messages, "input_transcription") == ["audio 0.25 s"]


async def test_activity_signals_under_automatic_detection_are_ignored_or_refused(
    make_emulator: Any, client_for: Any
) -> None:
    strict = await make_emulator(activity_under_auto_vad="close")
    async with client_for(strict).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        with pytest.raises(errors.APIError) as caught:
            await one_turn(session)
    assert caught.value.code == 1007

    lenient = await make_emulator()
    async with client_for(lenient).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(text="still fine")
        assert text_of(await one_turn(session), "input_transcription") == ["still fine"]


async def test_media_chunks_are_read_like_audio(emulator: Emulator, client_for: Any) -> None:
    cfg = config(realtime_input_config=MANUAL)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(media=types.Blob(data=voice(0.1), mime_type=PCM16K))
        await session.send_realtime_input(
            video=types.Blob(data=b"\xff\xd8", mime_type="image/jpeg")
        )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await one_turn(session)
    assert text_of(messages, "input_transcription") == ["audio 0.10 s"]
    assert emulator.log.client_messages("realtime_input.video")
    assert emulator.log.client_messages("realtime_input.mediaChunks")


async def test_client_content_is_remembered_and_answered_at_turn_complete(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_client_content(
            turns=[
                types.Content(role="user", parts=[types.Part(text="hi " * 40)]),
                types.Content(role="model", parts=[types.Part(text="hello " * 40)]),
            ],
            turn_complete=False,
        )
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="what now?")])
        )
        messages = await one_turn(session)
        await session.send_client_content(turn_complete=True)
        bare = await one_turn(session)
    assert text_of(messages, "input_transcription") == ["what now?"]
    assert text_of(messages, "output_transcription")[0].startswith("turn 1:")
    usage = messages[-1].usage_metadata
    assert usage is not None
    assert usage.prompt_token_count is not None
    assert usage.prompt_token_count >= (120 + 240) // 4  # the seeded turns are in the context
    assert text_of(bare, "output_transcription")[0].startswith("turn 2:")


async def test_text_modality_answers_with_text_parts(emulator: Emulator, client_for: Any) -> None:
    cfg = types.LiveConnectConfig(response_modalities=["TEXT"])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="hello")])
        )
        messages = await one_turn(session)
    assert "".join(m.text for m in messages if m.text).startswith("turn 1: tone phrase")
    usage = messages[-1].usage_metadata
    assert usage is not None
    assert usage.response_tokens_details is not None
    assert usage.response_tokens_details[0].modality == types.MediaModality.TEXT


# ---- tokens and the window --------------------------------------------------------------


async def test_usage_reports_the_whole_context_at_each_turn(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(system_instruction="You are a very helpful kitchen assistant.")
    usages = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        for text in ("first question", "second question", "third"):
            await session.send_realtime_input(text=text)
            usages.append((await one_turn(session))[-1].usage_metadata)
    prompts = [u.prompt_token_count for u in usages]
    responses = [u.response_token_count for u in usages]
    # Each prompt is the previous prompt plus the previous answer plus the new question.
    assert prompts[1] == prompts[0] + responses[0] + 4
    assert prompts[2] == prompts[1] + responses[1] + 2
    assert prompts[0] == 4 + 11  # question + system instruction (44 chars)
    audio = usages[1].response_tokens_details
    assert audio is not None
    assert audio[0].modality == types.MediaModality.AUDIO


async def test_compression_drops_the_oldest_turns_when_the_context_passes_the_trigger(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(context_window=10_000)
    cfg = config(
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=150, sliding_window=types.SlidingWindow(target_tokens=80)
        )
    )
    prompts = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        for n in range(8):
            await session.send_realtime_input(text=f"question number {n}")
            messages = await one_turn(session)
            prompts.append(messages[-1].usage_metadata.prompt_token_count)  # type: ignore[union-attr]
    assert text_of(messages, "output_transcription")[0].startswith("turn 8:")
    events = emulator.log.events("compression")
    assert events
    assert events[0].message["dropped_turns"][0] == 1
    assert all(e.message["after"] <= 80 for e in events)
    assert all(p is not None and p <= 150 for p in prompts)


async def test_default_compression_triggers_at_80_percent_of_the_window(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(context_window=200)
    cfg = config(
        context_window_compression=types.ContextWindowCompressionConfig(
            sliding_window=types.SlidingWindow()
        )
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        for n in range(12):
            await session.send_realtime_input(text=f"question number {n}")
            await one_turn(session)
    events = emulator.log.events("compression")
    assert events
    assert all(e.message["before"] > 160 and e.message["after"] <= 80 for e in events)


async def talk_until_it_fails(session: Any) -> None:
    for n in range(20):
        await session.send_realtime_input(text=f"question number {n}")
        await one_turn(session)


async def test_without_compression_passing_the_window_ends_the_session_with_1007(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(context_window=120)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        with pytest.raises(errors.APIError) as caught:
            await talk_until_it_fails(session)
    assert caught.value.code == 1007
    assert caught.value.details == "Request contains an invalid argument."


# ---- barge-in ---------------------------------------------------------------------------


async def test_activity_start_during_an_answer_interrupts_it(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    cfg = config(realtime_input_config=MANUAL)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(2.0), frame=32000)
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        first: list[types.LiveServerMessage] = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                first.append(message)
                if message.data:
                    await session.send_realtime_input(activity_start=types.ActivityStart())
                    await session.send_realtime_input(activity_end=types.ActivityEnd())
                    break
            first += [m async for m in session.receive()]
        second = await one_turn(session)
    assert shape(first)[-2:] == [
        "server_content.interrupted",
        "server_content.turn_complete+usage_metadata",
    ]
    assert not any(m.server_content and m.server_content.generation_complete for m in first)
    assert len(b"".join(m.data for m in first if m.data)) < 2 * 24000 * 2
    assert text_of(second, "output_transcription")[0].startswith("turn 2:")


async def test_no_interruption_keeps_the_answer_going(make_emulator: Any, client_for: Any) -> None:
    emulator = await make_emulator(realtime=True)
    cfg = config(
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True),
            activity_handling=types.ActivityHandling.NO_INTERRUPTION,
        )
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(0.5), frame=16000)
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages: list[types.LiveServerMessage] = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                messages.append(message)
                if message.data and len(messages) < 4:
                    await session.send_realtime_input(activity_start=types.ActivityStart())
                    await session.send_realtime_input(activity_end=types.ActivityEnd())
    assert len(b"".join(m.data for m in messages if m.data)) == 24000
    assert not any(m.server_content and m.server_content.interrupted for m in messages)


async def test_client_content_during_an_answer_interrupts_it(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_realtime_input(text="tell me a rather long story about the sea " * 3)
        messages: list[types.LiveServerMessage] = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                messages.append(message)
                if message.data:
                    await session.send_client_content(
                        turns=types.Content(role="user", parts=[types.Part(text="stop")])
                    )
                    break
            messages += [m async for m in session.receive()]
    assert any(m.server_content and m.server_content.interrupted for m in messages)


# ---- tools ------------------------------------------------------------------------------


async def test_naming_a_declared_function_gets_a_tool_call_and_the_answer_follows_the_response(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[WEATHER_TOOL])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(text="please get weather for Paris")
        calls: list[types.FunctionCall] = []
        messages: list[types.LiveServerMessage] = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                messages.append(message)
                if message.tool_call and message.tool_call.function_calls:
                    calls += message.tool_call.function_calls
                    await session.send_tool_response(
                        function_responses=[
                            types.FunctionResponse(
                                id=call.id, name=call.name, response={"sky": "sunny"}
                            )
                            for call in message.tool_call.function_calls
                        ]
                    )
    assert [c.name for c in calls] == ["get_weather"]
    assert re.fullmatch(r"function-call-\d+", calls[0].id or "")
    assert 0 <= int((calls[0].id or "").rsplit("-", 1)[1]) < 2**64
    kinds = shape(messages)
    assert kinds.index("tool_call") < kinds.index("server_content.model_turn")
    assert text_of(messages, "output_transcription")[0].endswith("after calling get_weather")
    assert messages[-1].server_content is not None
    assert messages[-1].server_content.turn_complete


async def test_a_scripted_tool_call_fires_on_its_turn_with_its_arguments(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm('tool_call:name=get_weather,args={"city": "Oslo"}@turn=2')
    cfg = config(tools=[WEATHER_TOOL])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(text="hello")
        first = await one_turn(session)
        await session.send_realtime_input(text="and now?")
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.tool_call:
                    call = (message.tool_call.function_calls or [])[0]
                    break
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id=call.id, name=call.name, response={})
        )
        rest = await one_turn(session)
    assert not any(m.tool_call for m in first)
    assert call.args == {"city": "Oslo"}
    assert rest[-1].server_content is not None
    assert rest[-1].server_content.turn_complete


async def test_barge_in_while_a_tool_call_is_pending_cancels_it(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[WEATHER_TOOL], realtime_input_config=MANUAL)
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(text="get weather please")
        messages: list[types.LiveServerMessage] = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                messages.append(message)
                if message.tool_call:
                    await session.send_realtime_input(activity_start=types.ActivityStart())
    call_id = messages[[m.tool_call is not None for m in messages].index(True)].tool_call
    cancelled = [m.tool_call_cancellation for m in messages if m.tool_call_cancellation]
    assert call_id is not None
    assert call_id.function_calls
    assert cancelled
    assert cancelled[0].ids == [call_id.function_calls[0].id]
    assert shape(messages)[-3:] == [
        "tool_call_cancellation",
        "server_content.interrupted",
        "server_content.turn_complete+usage_metadata",
    ]


async def test_a_tool_response_with_an_unknown_id_is_ignored_or_closed_1008(
    make_emulator: Any, client_for: Any
) -> None:
    lenient = await make_emulator()
    async with client_for(lenient).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id="function-call-1", name="f", response={})
        )
        await session.send_realtime_input(text="fine")
        assert (await one_turn(session))[-1].server_content is not None
    assert lenient.log.events("unknown_tool_response")

    strict = await make_emulator(unknown_tool_response="close")
    async with client_for(strict).aio.live.connect(model=MODEL, config=config()) as session:
        await session.send_tool_response(
            function_responses=types.FunctionResponse(id="function-call-1", name="f", response={})
        )
        with pytest.raises(errors.APIError) as caught:
            await one_turn(session)
    assert caught.value.code == 1008
    assert caught.value.details == "Requested entity was not found"


async def test_audio_stream_end_under_manual_detection_is_ignored_or_refused(
    make_emulator: Any, client_for: Any
) -> None:
    cfg = config(realtime_input_config=MANUAL)
    strict = await make_emulator(stream_end_under_manual_vad="close")
    async with client_for(strict).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(audio_stream_end=True)
        with pytest.raises(errors.APIError) as caught:
            await one_turn(session)
    assert caught.value.code == 1007

    lenient = await make_emulator()
    async with client_for(lenient).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(audio_stream_end=True)
        await session.send_realtime_input(text="still fine")
        assert text_of(await one_turn(session), "input_transcription") == ["still fine"]


async def test_with_all_input_coverage_audio_between_activities_joins_the_next_turn(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True),
            turn_coverage=types.TurnCoverage.TURN_INCLUDES_ALL_INPUT,
        )
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await send_audio(session, bytes(int(0.3 * 16000) * 2))
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(0.2))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        first = await one_turn(session)
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await send_audio(session, voice(0.1))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        second = await one_turn(session)
    assert text_of(first, "input_transcription") == ["audio 0.50 s"]
    assert text_of(second, "input_transcription") == ["audio 0.10 s"]


SLOW_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(name="get_weather", behavior=types.Behavior.NON_BLOCKING)
    ]
)


async def call_then_answer(
    session: Any,
) -> tuple[types.FunctionCall, list[types.LiveServerMessage]]:
    """Ask for the weather; return the call and the whole (not waiting) first turn."""
    await session.send_realtime_input(text="get weather please")
    messages = await one_turn(session)
    calls = [c for m in messages if m.tool_call for c in m.tool_call.function_calls or []]
    return calls[0], messages


@pytest.mark.parametrize("scheduling", ["WHEN_IDLE", None])
async def test_a_non_blocking_call_does_not_hold_the_answer_and_its_result_gets_a_turn(
    emulator: Emulator, client_for: Any, scheduling: str | None
) -> None:
    cfg = config(tools=[SLOW_TOOL])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        call, first = await call_then_answer(session)
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=call.id,
                name=call.name,
                response={"sky": "clear"},
                scheduling=types.FunctionResponseScheduling(scheduling) if scheduling else None,
            )
        )
        second = await one_turn(session)
    # The call comes first, then the answer without waiting for the response.
    assert shape(first).index("tool_call") < shape(first).index("server_content.model_turn")
    assert text_of(first, "output_transcription")[0].startswith("turn 1: tone phrase")
    assert text_of(second, "input_transcription") == []
    assert text_of(second, "output_transcription")[0].startswith("turn 2: tone phrase")
    assert text_of(second, "output_transcription")[0].endswith('for "result of get_weather"')


async def test_a_silent_result_is_absorbed_without_an_answer(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = config(tools=[SLOW_TOOL])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        call, _ = await call_then_answer(session)
        await session.send_tool_response(
            function_responses=types.FunctionResponse(
                id=call.id,
                name=call.name,
                response={"sky": "clear"},
                scheduling=types.FunctionResponseScheduling.SILENT,
            )
        )
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await session.receive().__anext__()
        await session.send_realtime_input(text="and?")
        later = await one_turn(session)
    assert text_of(later, "output_transcription")[0].startswith("turn 2:")
    assert later[-1].usage_metadata is not None
