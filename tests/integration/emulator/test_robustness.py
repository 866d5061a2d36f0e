"""Whatever a client sends, the emulator answers or closes 1007 like the service; it never fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from talkbox.emulator import EmulatorOptions, EmulatorThread

MODEL = "models/gemini-2.5-flash-native-audio-preview-09-2025"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

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
client_messages = st.one_of(
    st.sampled_from(sorted(FIELDS)).flatmap(
        lambda kind: st.dictionaries(
            st.sampled_from(FIELDS[kind]), inner, min_size=1, max_size=2
        ).map(lambda body: {kind: body})
    ),
    json_values,
)
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


def talk(emulator: EmulatorThread, setup: dict[str, Any], messages: list[Any]) -> int:
    """0 when a final text turn was answered, else the close code the emulator sent."""
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    with connect(url, ssl=emulator.client_ssl_context(), open_timeout=5, close_timeout=2) as ws:
        ws.send(json.dumps({"setup": setup}))
        try:
            ws.recv(timeout=5)
            for message in messages:
                ws.send(json.dumps(message))
            # A text turn at the end: the emulator must still answer it (or have closed).
            ws.send(json.dumps({"realtime_input": {"text": "still there?"}}))
            while True:
                frame = json.loads(ws.recv(timeout=5))
                if frame.get("serverContent", {}).get("turnComplete"):
                    return 0
        except ConnectionClosed as closed:
            return 1006 if closed.rcvd is None else closed.rcvd.code


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(setup=setups, messages=st.lists(client_messages, max_size=4))
def test_any_client_frames_are_answered_or_refused_with_1007_never_crash_the_emulator(
    emulator: EmulatorThread, setup: dict[str, Any], messages: list[Any]
) -> None:
    assert talk(emulator, setup, messages) in (0, 1007, 1008)
    errors = [r.message for r in emulator.log.events("emulator_error")]
    assert errors == []
