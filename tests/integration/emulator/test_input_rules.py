"""Client input the service refuses is closed 1007 `Request contains an invalid argument.`."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from talkbox.emulator import Emulator
from talkbox.emulator.listening import MAX_TURN_AUDIO_S

MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WAIT_S = 10.0
INVALID = "Request contains an invalid argument."
MANUAL = {"automatic_activity_detection": {"disabled": True}}


def audio(pcm: bytes, mime: str | None) -> dict[str, Any]:
    blob: dict[str, Any] = {"data": base64.b64encode(pcm).decode()}
    if mime is not None:
        blob["mime_type"] = mime
    return {"realtime_input": {"audio": blob}}


async def open_session(emulator: Emulator, **setup: Any) -> ClientConnection:
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    ws = await connect(url, ssl=emulator.client_ssl_context(), max_size=2**20)
    await ws.send(json.dumps({"setup": {"model": MODEL, **setup}}))
    async with asyncio.timeout(WAIT_S):
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
    return ws


async def close_after(ws: ClientConnection, *frames: str) -> tuple[int, str]:
    """Send frames, then read until the server closes; its code and reason."""
    try:
        for frame in frames:
            await ws.send(frame)
        async with asyncio.timeout(WAIT_S):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
    finally:
        await ws.close()
    assert rcvd is not None, "closed without a close frame"
    return rcvd.code, rcvd.reason


async def turn_messages(ws: ClientConnection) -> list[dict[str, Any]]:
    messages = []
    async with asyncio.timeout(WAIT_S):
        while True:
            message = json.loads(await ws.recv())
            messages.append(message)
            if message.get("serverContent", {}).get("turnComplete"):
                return messages


@pytest.mark.parametrize(
    "mime",
    [
        "audio/pcm;rate=0",
        "audio/pcm;rate=1",
        "audio/pcm;rate=20",
        "audio/pcm;rate=99999999",
        "audio/pcm;rate=",
        None,
        "",
        "image/jpeg",
    ],
)
async def test_audio_with_a_rate_outside_8_to_48_khz_or_no_audio_type_is_closed_1007(
    emulator: Emulator, mime: str | None
) -> None:
    ws = await open_session(emulator, realtime_input_config=MANUAL)
    frames = [
        json.dumps({"realtime_input": {"activity_start": {}}}),
        json.dumps(audio(bytes(6400), mime)),
        json.dumps({"realtime_input": {"activity_end": {}}}),
    ]
    code, reason = await close_after(ws, *frames)
    assert code == 1007
    assert reason.endswith(INVALID)
    assert not emulator.log.events("emulator_error")


async def test_audio_without_a_stated_rate_is_16_khz(emulator: Emulator) -> None:
    ws = await open_session(emulator, realtime_input_config=MANUAL, input_audio_transcription={})
    try:
        await ws.send(json.dumps({"realtime_input": {"activity_start": {}}}))
        await ws.send(json.dumps(audio(bytes(16000 * 2), "audio/pcm")))
        await ws.send(json.dumps({"realtime_input": {"activity_end": {}}}))
        messages = await turn_messages(ws)
    finally:
        await ws.close()
    transcripts = [
        m["serverContent"]["inputTranscription"]["text"]
        for m in messages
        if "inputTranscription" in m.get("serverContent", {})
    ]
    assert transcripts == ["audio 1.00 s"]


async def test_the_audio_kept_for_one_turn_is_bounded(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("talkbox.emulator.listening.MAX_TURN_AUDIO_S", 1)
    assert MAX_TURN_AUDIO_S == 300
    ws = await open_session(emulator, realtime_input_config=MANUAL, input_audio_transcription={})
    try:
        await ws.send(json.dumps({"realtime_input": {"activity_start": {}}}))
        for _ in range(3):
            await ws.send(json.dumps(audio(bytes(16000 * 2), "audio/pcm;rate=16000")))
        await ws.send(json.dumps({"realtime_input": {"activity_end": {}}}))
        messages = await turn_messages(ws)
    finally:
        await ws.close()
    assert {"serverContent": {"inputTranscription": {"text": "audio 1.00 s"}}} in messages


@pytest.mark.parametrize("depth", [150, 100_000])
async def test_deeply_nested_json_is_closed_1007_not_an_internal_error(
    emulator: Emulator, depth: int
) -> None:
    ws = await open_session(emulator)
    frame = '{"realtime_input": {"text": ' + "[" * depth + "]" * depth + "}}"
    code, _ = await close_after(ws, frame)
    assert code == 1007
    assert not emulator.log.events("emulator_error")


@pytest.mark.parametrize(
    "message",
    [
        {"realtime_input": {"text": "a"}, "client_content": {"turn_complete": True}},
        {"realtime_input": {"text": "a"}, "unknownThing": {}},
        {"somethingNew": {}},
        {},
        {"realtime_input": {"text": None}},
        {"realtime_input": {}},
        {"realtime_input": {"text": "a", "audio_stream_end": True}},
        {"realtime_input": {"text": "a", "surprise": 1}},
        {"realtime_input": {"media_chunks": []}},
        {"realtime_input": {"video": {"data": "AAAA"}}},
        {"realtime_input": {"audio": {}}, "realtimeInput": {"activityStart": {}}},
    ],
    ids=[
        "two-messages",
        "message-and-unknown",
        "unknown-only",
        "empty",
        "null-text",
        "no-field",
        "two-fields",
        "unknown-field",
        "no-media-chunks",
        "video-without-type",
        "one-message-in-two-casings",
    ],
)
async def test_a_frame_without_exactly_one_known_message_and_field_is_closed_1007(
    emulator: Emulator, message: dict[str, Any]
) -> None:
    ws = await open_session(emulator)
    code, reason = await close_after(ws, json.dumps(message))
    assert code == 1007
    # An unknown field is named as the service names it; everything else is "invalid".
    assert reason.endswith((INVALID, "Cannot find field."))
    assert not emulator.log.events("emulator_error")
    assert not emulator.log.server_messages("serverContent.")


async def test_a_setup_frame_with_a_second_message_is_closed_1007_before_setup_complete(
    emulator: Emulator,
) -> None:
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    ws = await connect(url, ssl=emulator.client_ssl_context())
    frame = json.dumps({"setup": {"model": MODEL}, "realtime_input": {"text": "hi"}})
    assert await close_after(ws, frame) == (1007, INVALID)
    assert not emulator.log.server_messages("setupComplete")


async def test_a_client_frame_over_the_size_limit_is_closed_1009(make_emulator: Any) -> None:
    emulator = await make_emulator(max_client_frame_bytes=4096)
    ws = await open_session(emulator)
    code, _ = await close_after(ws, json.dumps({"realtime_input": {"text": "x" * 5000}}))
    assert code == 1009
    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(lambda log: log.closes())
    assert [(r.message["by"], r.message["code"]) for r in emulator.log.closes()] == [
        ("server", 1009)
    ]


async def test_every_server_message_stays_under_1_mib_even_for_a_huge_text_turn(
    make_emulator: Any,
) -> None:
    emulator = await make_emulator(max_client_frame_bytes=4 * 2**20, context_window=10**7)
    ws = await open_session(emulator, input_audio_transcription={}, output_audio_transcription={})
    try:
        # The client's own limit is 1 MiB per message: a bigger one would kill this socket.
        await ws.send(json.dumps({"realtime_input": {"text": "word " * 600_000}}))
        messages = await turn_messages(ws)
    finally:
        await ws.close()
    assert messages[-1]["serverContent"]["turnComplete"]
    sizes = [len(json.dumps(r.message)) for r in emulator.log.server_messages()]
    assert max(sizes) < 2**20 // 4
