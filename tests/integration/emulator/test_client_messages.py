"""Every client message of docs/live-protocol.md §2 reaches the emulator and is understood."""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.genai import types

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0


async def one_turn(session: Any) -> list[types.LiveServerMessage]:
    async with asyncio.timeout(WAIT_S):
        return [m async for m in session.receive()]


async def test_the_full_setup_of_the_sdk_is_accepted_and_logged_as_sent(
    emulator: Emulator, client_for: Any
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")
            ),
            language_code="en-US",
        ),
        system_instruction="You are a helpful kitchen assistant.",
        tools=[
            types.Tool(google_search=types.GoogleSearch()),
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name="set_timer",
                        parameters_json_schema={
                            "type": "object",
                            "properties": {"minutes": {"type": "integer"}},
                        },
                        behavior=types.Behavior.NON_BLOCKING,
                    )
                ]
            ),
        ],
        session_resumption=types.SessionResumptionConfig(),
        input_audio_transcription={},
        output_audio_transcription={},
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                disabled=False,
                start_of_speech_sensitivity=types.StartSensitivity.START_SENSITIVITY_LOW,
                end_of_speech_sensitivity=types.EndSensitivity.END_SENSITIVITY_LOW,
                prefix_padding_ms=20,
                silence_duration_ms=100,
            ),
            activity_handling=types.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
            turn_coverage=types.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
        ),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=25600, sliding_window=types.SlidingWindow(target_tokens=12800)
        ),
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(text="set timer for two minutes")
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.tool_call:
                    call = (message.tool_call.function_calls or [])[0]
                    await session.send_tool_response(
                        function_responses=types.FunctionResponse(
                            id=call.id, name=call.name, response={"ok": True}
                        )
                    )
    record = emulator.log.client_messages("setup")[0]
    # `sent` is the frame as the SDK wrote it (nested snake_case where it leaves it so),
    # `message` the normal form the emulator reads.
    assert record.sent is not None
    sent = record.sent["setup"]["realtimeInputConfig"]["automatic_activity_detection"]
    assert sent["silence_duration_ms"] == 100
    normal = record.message["setup"]["realtimeInputConfig"]["automaticActivityDetection"]
    assert normal["silenceDurationMs"] == 100
    assert record.message["setup"]["tools"][-1]["functionDeclarations"][0]["name"] == "set_timer"
    assert call.name == "set_timer"


async def test_tool_responses_with_several_answers_and_scheduling_fields_are_accepted(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("tool_call:name=f1@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_realtime_input(text="go")
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.tool_call:
                    call = (message.tool_call.function_calls or [])[0]
                    await session.send_tool_response(
                        function_responses=[
                            types.FunctionResponse(id=call.id, name="f1", response={"output": "x"}),
                            types.FunctionResponse(
                                id="a2",
                                name="f2",
                                response={"error": "boom"},
                                will_continue=False,
                                scheduling=types.FunctionResponseScheduling.INTERRUPT,
                            ),
                        ]
                    )
    record = emulator.log.client_messages("tool_response")[0]
    responses = record.message["toolResponse"]["functionResponses"]
    assert [r["id"] for r in responses] == [call.id, "a2"]
    assert responses[1]["willContinue"] is False
    assert record.sent is not None
    assert record.sent["tool_response"]["functionResponses"][1]["will_continue"] is False
    assert [r.message["id"] for r in emulator.log.events("unknown_tool_response")] == ["a2"]


async def test_a_context_update_is_logged_and_the_session_goes_on(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_context_update(system_instruction="Be brief.")
        await session.send_realtime_input(text="hi")
        assert (await one_turn(session))[-1].server_content is not None
    assert emulator.log.client_messages("context_update")


async def test_audio_without_a_rate_is_taken_as_16_khz(emulator: Emulator, client_for: Any) -> None:
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        input_audio_transcription={},
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        ),
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(
            audio=types.Blob(data=bytes(16000), mime_type="audio/pcm")
        )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await one_turn(session)
    transcripts = [
        m.server_content.input_transcription.text
        for m in messages
        if m.server_content and m.server_content.input_transcription
    ]
    assert transcripts == ["audio 0.50 s"]


async def test_leaving_the_session_is_a_normal_close_1000(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=MODEL):
        pass
    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(lambda log: bool(log.closes()))
    assert emulator.log.closes()[0].message == {"by": "client", "code": 1000, "reason": ""}


async def test_an_ephemeral_token_uses_the_constrained_method(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(api_key="auth_tokens/abc")
    with warnings.catch_warnings():
        # The SDK flags ephemeral tokens as experimental; that is its business, not ours.
        warnings.simplefilter("ignore")
        client = client_for(emulator, api_key="auth_tokens/abc", api_version="v1alpha")
        async with client.aio.live.connect(model=MODEL) as session:
            await session.send_realtime_input(text="hi")
            assert (await one_turn(session))[-1].server_content is not None
    assert emulator.log.events("handshake")[0].message["method"] == (
        "BidiGenerateContentConstrained"
    )


async def test_the_event_log_can_go_to_a_json_lines_file_without_audio(
    make_emulator: Any, client_for: Any, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    emulator = await make_emulator(event_log_path=path, log_audio=False)
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_realtime_input(text="hi")
        await one_turn(session)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == [r.kind for r in emulator.log.records]
    turns = [line for line in lines if line["kind"] == "serverContent.modelTurn"]
    assert turns
    parts = [line["message"]["serverContent"]["modelTurn"]["parts"][0] for line in turns]
    # 100 ms chunks of 24 kHz audio are 4800 bytes, 6400 base64 characters (the last shorter).
    assert [part["inlineData"]["data"] for part in parts[:-1]] == ["<6400 base64 chars>"] * (
        len(parts) - 1
    )


@pytest.mark.slow
async def test_answer_audio_is_paced_at_real_time(make_emulator: Any, client_for: Any) -> None:
    emulator = await make_emulator(realtime=True)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        ),
    )
    tone = (np.sin(np.arange(16000) / 3) * 9000).astype("<i2").tobytes()  # 1 s
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(
            audio=types.Blob(data=tone, mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        arrivals = []
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.data:
                    arrivals.append(time.monotonic())
    assert len(arrivals) == 10
    span = arrivals[-1] - arrivals[0]
    assert 0.85 <= span <= 1.3  # 10 chunks of 100 ms: the last starts 0.9 s after the first
