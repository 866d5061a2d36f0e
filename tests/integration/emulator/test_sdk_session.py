"""The real google-genai SDK holds conversations with the emulator: turns, answers, handles."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from google.genai import types

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0


def manual_config(**overrides: Any) -> types.LiveConnectConfig:
    """Audio answers, transcripts both ways, resumption on, activity detection off."""
    config: dict[str, Any] = {
        "response_modalities": ["AUDIO"],
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "session_resumption": types.SessionResumptionConfig(),
        "realtime_input_config": types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        ),
    }
    config.update(overrides)
    return types.LiveConnectConfig(**config)


async def one_turn(session: Any) -> list[types.LiveServerMessage]:
    """Every message of one receive() call (it ends at turnComplete)."""
    async with asyncio.timeout(WAIT_S):
        return [message async for message in session.receive()]


async def next_message(session: Any) -> types.LiveServerMessage:
    """The next message, whatever it is."""
    async with asyncio.timeout(WAIT_S):
        async for message in session.receive():
            return message
    raise AssertionError("receive() ended without a message")


def voice(seconds: float, rate: int = 16_000) -> bytes:
    """A loud 440 Hz tone as 16-bit PCM."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()


def audio_of(messages: list[types.LiveServerMessage]) -> bytes:
    return b"".join(m.data for m in messages if m.data)


def transcripts(messages: list[types.LiveServerMessage], which: str) -> list[str]:
    out = []
    for m in messages:
        content = m.server_content
        item = getattr(content, which, None) if content else None
        if item is not None and item.text is not None:
            out.append(item.text)
    return out


async def test_a_text_turn_gets_a_tone_phrase_and_the_real_message_order(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(text="hello there")
        messages = await one_turn(session)
        handle_update = await next_message(session)

    assert messages[0].session_resumption_update is not None
    assert messages[0].session_resumption_update.new_handle is None
    assert transcripts(messages, "input_transcription") == ["hello there"]
    assert transcripts(messages, "output_transcription")[0].startswith("turn 1: tone phrase")
    assert len(audio_of(messages)) > 0
    assert messages[-2].server_content is not None
    assert messages[-2].server_content.generation_complete is True
    last = messages[-1]
    assert last.server_content is not None
    assert last.server_content.turn_complete
    assert last.usage_metadata is not None
    assert last.usage_metadata.total_token_count == (
        (last.usage_metadata.prompt_token_count or 0)
        + (last.usage_metadata.response_token_count or 0)
    )
    update = handle_update.session_resumption_update
    assert update is not None
    assert update.resumable is True
    assert update.new_handle


async def test_a_longer_text_gets_a_longer_answer(emulator: Emulator, client_for: Any) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(text="hi")
        short = audio_of(await one_turn(session))
        await session.send_realtime_input(text="hi, tell me a much longer story please")
        long = audio_of(await one_turn(session))
    assert len(long) > len(short)


async def test_an_audio_turn_is_answered_with_its_own_audio_at_24_khz(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    spoken = voice(0.5)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        for i in range(0, len(spoken), 640):
            await session.send_realtime_input(
                audio=types.Blob(data=spoken[i : i + 640], mime_type="audio/pcm;rate=16000")
            )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await one_turn(session)

    answer = np.frombuffer(audio_of(messages), dtype="<i2")
    assert answer.size == 12_000  # 0.5 s at 24 kHz
    # The echo is the same tone: its spectrum peaks at 440 Hz.
    spectrum = np.abs(np.fft.rfft(answer.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 24_000 / answer.size - 440) < 5
    assert transcripts(messages, "input_transcription") == ["audio 0.50 s"]
    assert transcripts(messages, "output_transcription") == ["turn 1: echo of 0.50 s of audio"]
    mimes = {
        part.inline_data.mime_type
        for m in messages
        if m.server_content and m.server_content.model_turn
        for part in m.server_content.model_turn.parts or []
        if part.inline_data
    }
    assert mimes == {"audio/pcm;rate=24000"}


async def test_audio_outside_an_activity_is_not_part_of_the_turn(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(
            audio=types.Blob(data=voice(0.3), mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(
            audio=types.Blob(data=voice(0.2), mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await one_turn(session)
    assert transcripts(messages, "input_transcription") == ["audio 0.20 s"]


async def test_resuming_with_a_handle_continues_the_conversation_and_its_turn_numbers(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(text="one")
        first = await one_turn(session)
        await session.send_realtime_input(text="two")
        second = await one_turn(session)
        update = (await next_message(session)).session_resumption_update
    assert update is not None
    assert update.new_handle
    prompt_before = second[-1].usage_metadata.prompt_token_count  # type: ignore[union-attr]

    config = manual_config(
        session_resumption=types.SessionResumptionConfig(handle=update.new_handle)
    )
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="three")])
        )
        third = await one_turn(session)

    assert transcripts(first, "output_transcription")[0].startswith("turn 1:")
    assert transcripts(third, "output_transcription")[0].startswith("turn 3:")
    usage = third[-1].usage_metadata
    assert usage is not None
    assert usage.prompt_token_count is not None
    assert prompt_before is not None
    assert usage.prompt_token_count > prompt_before
    assert [r.kind for r in emulator.log.events() if r.kind in ("session", "resumed")] == [
        "session",
        "resumed",
    ]


async def test_a_fresh_connection_starts_a_new_conversation(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    for _ in range(2):
        async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
            await session.send_realtime_input(text="again")
            messages = await one_turn(session)
        assert transcripts(messages, "output_transcription")[0].startswith("turn 1:")


async def test_the_event_log_shows_what_the_client_sent_in_order(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=manual_config()) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(
            audio=types.Blob(data=voice(0.1), mime_type="audio/pcm;rate=16000")
        )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        await one_turn(session)

    kinds = [r.kind for r in emulator.log.client_messages()]
    assert kinds == [
        "setup",
        "realtime_input.activityStart",
        "realtime_input.audio",
        "realtime_input.activityEnd",
    ]
    indexes = [r.index for r in emulator.log.client_messages()]
    assert indexes == [1, 2, 3, 4]
    times = [r.t for r in emulator.log.records]
    assert times == sorted(times)
    setup = emulator.log.client_messages("setup")[0].message["setup"]
    assert setup["model"] == f"models/{MODEL}"
