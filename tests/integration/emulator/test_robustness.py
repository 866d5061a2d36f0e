"""Whatever a client sends, the emulator answers or closes 1007 like the service; it never fails."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from talkbox.emulator import EmulatorOptions, EmulatorThread

MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WAIT_S = 10.0

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8), st.just("AAAA")
)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Messages built from the real field names, with values of any type in any place.
FIELDS = {
    "realtime_input": ["audio", "media_chunks", "activity_start", "activityEnd",
                       "audio_stream_end", "text", "video"],
    "realtimeInput": ["audio", "mediaChunks", "activityStart", "audioStreamEnd", "text"],
    "client_content": ["turns", "turn_complete", "turnComplete"],
    "tool_response": ["function_responses", "functionResponses"],
}  # fmt: skip
inner_fields = st.sampled_from(["data", "mime_type", "mimeType", "parts", "role", "text", "id",
                                "response", "name", "inline_data"])  # fmt: skip
inner = st.recursive(
    json_values,
    lambda deeper: st.one_of(
        st.dictionaries(inner_fields, deeper, max_size=3), st.lists(deeper, max_size=2)
    ),
    max_leaves=8,
)
# Stated audio rates: refused (0, tiny, huge, malformed), accepted, or left out (16 kHz).
BAD_RATES = ["rate=0", "rate=1", "rate=20", "rate=7999", "rate=48001", "rate=99999999999",
             "rate=", "rate=-16000", "rate=1e4"]  # fmt: skip
GOOD_RATES = ["rate=8000", "rate=16000", "rate=24000", "rate=48000"]
pcm = st.binary(max_size=64).map(lambda b: base64.b64encode(b[: len(b) // 2 * 2]).decode())


def audio_message(mime: str | None, data: str, field: str) -> dict[str, Any]:
    blob = {"data": data} if mime is None else {"data": data, "mime_type": mime}
    return {"realtime_input": {field: [blob] if field == "media_chunks" else blob}}


audio_messages = st.builds(
    audio_message,
    st.one_of(
        st.none(),
        st.just("audio/pcm"),
        st.sampled_from(BAD_RATES + GOOD_RATES).map(lambda rate: f"audio/pcm;{rate}"),
    ),
    pcm,
    st.sampled_from(["audio", "media_chunks"]),
)
kinds = st.sampled_from(sorted(FIELDS))
known_messages = kinds.flatmap(
    lambda kind: st.dictionaries(st.sampled_from(FIELDS[kind]), inner, min_size=1, max_size=2).map(
        lambda body: {kind: body}
    )
)
# Two messages in one frame: the service parses one message per frame.
multi_messages = (
    st.tuples(known_messages, known_messages)
    .filter(lambda pair: not set(pair[0]) & set(pair[1]))
    .map(lambda pair: {**pair[0], **pair[1]})
)
client_messages = st.one_of(known_messages, audio_messages, multi_messages, json_values)


def nested(depth: int, opener: str) -> str:
    """A realtime text whose value is nested `depth` deep: too deep for proto JSON parsing."""
    closer = "]" if opener == "[" else "}"
    inner_text = (
        ('{"a":' * depth + "1" + closer * depth)
        if opener == "{"
        else ("[" * depth + closer * depth)
    )
    return '{"realtime_input": {"text": ' + inner_text + "}}"


deep_frames = st.builds(nested, st.integers(101, 100_000), st.sampled_from(["[", "{"]))
# Frames every one of which the service refuses with 1007 (and the emulator too).
bad_frames = st.one_of(
    deep_frames,
    multi_messages.map(json.dumps),
    st.builds(audio_message, st.sampled_from(BAD_RATES).map(lambda r: f"audio/pcm;{r}"), pcm,
              st.sampled_from(["audio", "media_chunks"])).map(json.dumps),
    st.builds(audio_message, st.none(), pcm, st.just("audio")).map(json.dumps),
    st.just(json.dumps({"realtime_input": {"text": None}})),
    st.just(json.dumps({"realtime_input": {"text": "a", "audio_stream_end": True}})),
)  # fmt: skip
frames = st.one_of(client_messages.map(json.dumps), deep_frames)
setups = st.fixed_dictionaries(
    {"model": st.just(MODEL)},
    optional={
        "generation_config": st.one_of(json_values, st.just({"response_modalities": ["TEXT"]})),
        "realtime_input_config": st.one_of(
            json_values, st.just({"automatic_activity_detection": {"disabled": True}})
        ),
        "context_window_compression": json_values,
        "session_resumption": json_values,
        "tools": json_values,
        "system_instruction": json_values,
    },
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(realtime=False, setup_timeout_s=2.0)) as running:
        yield running


def talk(emulator: EmulatorThread, setup: dict[str, Any], messages: list[str]) -> int:
    """0 when a final text turn was answered, else the close code the emulator sent."""
    return asyncio.run(_talk(emulator, setup, messages))


async def _talk(emulator: EmulatorThread, setup: dict[str, Any], messages: list[str]) -> int:
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    # The asyncio client, as the SDK uses, not websockets' sync one: the sync client's reader
    # thread can be processing the server's TLS 1.3 session tickets while this thread writes
    # the upgrade request, and OpenSSL then discards the request (the handshake hangs until
    # its timeout). The asyncio client does all TLS work on one thread.
    context = emulator.client_ssl_context()
    async with connect(url, ssl=context, open_timeout=WAIT_S, close_timeout=2) as ws:
        conn = emulator.log.events("handshake")[-1].conn
        try:
            await ws.send(json.dumps({"setup": setup}))
            async with asyncio.timeout(WAIT_S):
                await ws.recv()
            for message in messages:
                await ws.send(message)
            # A text turn at the end: the emulator must still answer it (or have closed).
            await ws.send(json.dumps({"realtime_input": {"text": "still there?"}}))
            async with asyncio.timeout(WAIT_S):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("serverContent", {}).get("turnComplete"):
                        return 0
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                return closed.rcvd.code
    # The socket died before the client read the close frame (the server closed while this
    # client was still sending): what the emulator did is in its log.
    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(lambda log: bool(log.closes(conn)))
    ending = emulator.log.closes(conn)[-1]
    by_server = ending.kind == "close" and ending.message["by"] == "server"
    return int(ending.message["code"]) if by_server else 1006


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(setup=setups, messages=st.lists(frames, max_size=4))
def test_any_client_frames_are_answered_or_refused_with_1007_never_crash_the_emulator(
    emulator: EmulatorThread, setup: dict[str, Any], messages: list[str]
) -> None:
    # 1008: a generated resumption handle is unknown.
    assert talk(emulator, setup, messages) in (0, 1007, 1008)
    errors = [r.message for r in emulator.log.events("emulator_error")]
    assert errors == []


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    manual=st.booleans(),
    before=st.lists(st.sampled_from(GOOD_RATES).map(lambda r: f"audio/pcm;{r}"), max_size=2),
    bad=bad_frames,
)
def test_input_the_service_refuses_is_always_closed_1007(
    emulator: EmulatorThread, manual: bool, before: list[str], bad: str
) -> None:
    setup: dict[str, Any] = {"model": MODEL}
    if manual:
        setup["realtime_input_config"] = {"automatic_activity_detection": {"disabled": True}}
    fine = [json.dumps(audio_message(mime, "AAAA", "audio")) for mime in before]
    assert talk(emulator, setup, [*fine, bad]) == 1007
    assert [r.message for r in emulator.log.events("emulator_error")] == []
