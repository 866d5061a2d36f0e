"""Each model row: its accepted setup works, and what it refuses is closed with the right words.

Through the real SDK where it can send the thing, through raw websockets where it cannot (a
bad enum, an unknown field, `handle: null`).
"""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
from google.genai import errors, types
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from talkbox.emulator import DEFAULT_MODELS, Emulator, catalog

WAIT_S = 10.0
LIVE = "gemini-3.8-live"
THINKING = "gemini-3.8-live-extended-thinking"
LEGACY = "gemini-3.1-flash-live-preview"
NATIVE = "gemini-2.5-flash-native-audio-preview-12-2025"
RETIRED = [row.name for row in catalog.ROWS if row.retired]
INVALID = "Request contains an invalid argument."
PATH = "/ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent"


def accepted(model: str) -> types.LiveConnectConfig:
    """The setup each row accepts: audio, and the thinking level extended thinking needs."""
    thinking = (
        types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW) if model == THINKING else None
    )
    return types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        thinking_config=thinking,
        output_audio_transcription={},
        session_resumption=types.SessionResumptionConfig(),
    )


async def refusal(client: Any, model: str, config: types.LiveConnectConfig) -> tuple[int, str]:
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(model=model, config=config):
            pytest.fail("setup was accepted")
    return caught.value.code, str(caught.value.details)


def test_the_emulator_serves_every_row_that_is_not_retired_by_default() -> None:
    assert set(DEFAULT_MODELS) == {row.name for row in catalog.ROWS if not row.retired}
    assert {LIVE, THINKING, LEGACY, NATIVE, "gemini-2.5-flash-native-audio-latest"} <= set(
        DEFAULT_MODELS
    )
    assert set(RETIRED) == {
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-live-2.5-flash-preview",
        "gemini-2.0-flash-live-001",
    }


@pytest.mark.parametrize("model", DEFAULT_MODELS)
async def test_each_rows_accepted_setup_answers_a_turn(
    emulator: Emulator, client_for: Any, model: str
) -> None:
    async with client_for(emulator).aio.live.connect(model=model, config=accepted(model)) as s:
        await s.send_realtime_input(text="hello")
        async with asyncio.timeout(WAIT_S):
            messages = [m async for m in s.receive()]
    assert any(m.data for m in messages)
    last = messages[-1].server_content
    assert last is not None
    assert last.turn_complete


@pytest.mark.parametrize("model", RETIRED)
async def test_a_retired_model_is_closed_1008_not_found_during_setup(
    emulator: Emulator, client_for: Any, model: str
) -> None:
    code, reason = await refusal(client_for(emulator), model, accepted(model))
    expected = (
        f"models/{model} is not found for API version v1beta, "
        "or is not supported for bidiGenerateContent."
    )
    # A close reason holds at most 123 bytes: the longest model names lose the tail.
    assert (code, reason) == (1008, expected.encode()[:123].decode())


async def test_a_retired_model_named_in_models_is_served_with_its_old_rules(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(models=("gemini-2.0-flash-live-001",))
    client = client_for(emulator)
    config = types.LiveConnectConfig(response_modalities=["TEXT"])
    async with client.aio.live.connect(model="gemini-2.0-flash-live-001", config=config) as s:
        await s.send_realtime_input(text="hello")
        async with asyncio.timeout(WAIT_S):
            messages = [m async for m in s.receive()]
    assert messages[-1].server_content is not None
    assert messages[-1].server_content.interaction_status is None
    code, _ = await refusal(client, LIVE, accepted(LIVE))
    assert code == 1008


@pytest.mark.parametrize("model", [LIVE, THINKING, LEGACY])
async def test_v1alpha_is_refused_1008_for_the_current_models(
    emulator: Emulator, client_for: Any, model: str
) -> None:
    client = client_for(emulator, api_version="v1alpha")
    assert await refusal(client, model, accepted(model)) == (
        1008,
        f"models/{model} is not found for API version v1alpha, "
        "or is not supported for bidiGenerateContent.",
    )


async def test_v1alpha_still_serves_the_native_audio_rows_and_ephemeral_tokens(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(api_key=None)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        enable_affective_dialog=True,
        proactivity=types.ProactivityConfig(proactive_audio=True),
    )
    client = client_for(emulator, api_version="v1alpha")
    async with client.aio.live.connect(model=NATIVE, config=config):
        pass
    with warnings.catch_warnings():
        # The SDK flags ephemeral tokens as experimental; that is its business, not ours.
        warnings.simplefilter("ignore")
        token = client_for(emulator, api_key="auth_tokens/abc", api_version="v1alpha")
        async with token.aio.live.connect(model=LIVE, config=accepted(LIVE)):
            pass
    assert len(emulator.log.server_messages("setupComplete")) == 2


async def test_the_sdk_default_v1_is_refused_1008_unless_served_like_v1beta(
    make_emulator: Any, client_for: Any
) -> None:
    strict = await make_emulator()
    assert await refusal(client_for(strict, api_version="v1"), LIVE, accepted(LIVE)) == (
        1008,
        f"models/{LIVE} is not found for API version v1, "
        "or is not supported for bidiGenerateContent.",
    )
    loose = await make_emulator(v1_live="serve")
    async with client_for(loose, api_version="v1").aio.live.connect(
        model=LIVE, config=accepted(LIVE)
    ):
        pass


def thinking(**fields: Any) -> types.ThinkingConfig:
    return types.ThinkingConfig(**fields)


BLOCKING_TOOL = types.Tool(
    function_declarations=[types.FunctionDeclaration(name="f", behavior=types.Behavior.BLOCKING)]
)

REFUSED: list[tuple[str, str, dict[str, Any], str]] = [
    ("affective-3.8", LIVE, {"enable_affective_dialog": True}, INVALID),
    ("affective-thinking", THINKING, {"enable_affective_dialog": True}, INVALID),
    ("affective-3.1", LEGACY, {"enable_affective_dialog": True}, INVALID),
    (
        "proactivity-3.8",
        LIVE,
        {"proactivity": types.ProactivityConfig(proactive_audio=True)},
        "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
        "Cannot find field.",
    ),
    (
        "proactivity-2.5-v1beta",
        NATIVE,
        {"proactivity": types.ProactivityConfig(proactive_audio=True)},
        "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
        "Cannot find field.",
    ),
    (
        "thinking-level-3.8",
        LIVE,
        {"thinking_config": thinking(thinking_level=types.ThinkingLevel.LOW)},
        catalog.THINKING_REFUSED,
    ),
    (
        "thinking-budget-3.8",
        LIVE,
        {"thinking_config": thinking(thinking_budget=128)},
        catalog.THINKING_REFUSED,
    ),
    ("no-thinking-et", THINKING, {"thinking_config": None}, catalog.THINKING_REQUIRED),
    (
        "budget-only-et",
        THINKING,
        {"thinking_config": thinking(thinking_budget=128)},
        catalog.THINKING_REQUIRED,
    ),
    (
        "minimal-et",
        THINKING,
        {"thinking_config": thinking(thinking_level=types.ThinkingLevel.MINIMAL)},
        "Thinking level MINIMAL is not supported for this model",
    ),
    ("blocking-et", THINKING, {"tools": [BLOCKING_TOOL]}, catalog.BLOCKING_REFUSED),
    (
        "text-3.8",
        LIVE,
        {"response_modalities": [types.Modality.TEXT]},
        "The requested combination of response modalities (TEXT) is not supported by the model",
    ),
    (
        "code-execution-3.8",
        LIVE,
        {"tools": [types.Tool(code_execution=types.ToolCodeExecution())]},
        INVALID,
    ),
]


@pytest.mark.parametrize(
    ("model", "changes", "reason"),
    [(model, changes, reason) for _, model, changes, reason in REFUSED],
    ids=[name for name, *_ in REFUSED],
)
async def test_each_refused_option_is_closed_1007_with_the_services_reason(
    emulator: Emulator, client_for: Any, model: str, changes: dict[str, Any], reason: str
) -> None:
    config = accepted(model).model_copy(update=changes)
    assert await refusal(client_for(emulator), model, config) == (1007, reason)
    assert not emulator.log.server_messages("setupComplete")


async def test_extended_thinking_accepts_low_medium_and_high(
    emulator: Emulator, client_for: Any
) -> None:
    for level in (types.ThinkingLevel.LOW, types.ThinkingLevel.MEDIUM, types.ThinkingLevel.HIGH):
        config = accepted(THINKING).model_copy(
            update={"thinking_config": thinking(thinking_level=level)}
        )
        async with client_for(emulator).aio.live.connect(model=THINKING, config=config):
            pass
    assert len(emulator.log.server_messages("setupComplete")) == 3


async def raw_close(emulator: Emulator, *frames: dict[str, Any], version: str = "v1beta") -> Any:
    """Send raw frames after the upgrade; the close frame the emulator answered with."""
    url = emulator.base_url.replace("https", "wss") + PATH.format(v=version) + "?key=emu-test-key"
    async with connect(url, ssl=emulator.client_ssl_context()) as ws:
        try:
            for frame in frames:
                await ws.send(json.dumps(frame))
            async with asyncio.timeout(WAIT_S):
                while True:
                    await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd
    return None


@pytest.mark.parametrize(("model", "refused"), [(LIVE, True), (LEGACY, True), (NATIVE, False)])
async def test_a_null_resumption_handle_is_refused_by_the_3x_models_only(
    emulator: Emulator, model: str, refused: bool
) -> None:
    setup = {"setup": {"model": f"models/{model}", "sessionResumption": {"handle": None}}}
    closed = await raw_close(emulator, setup, {"realtime_input": {"text": 5}})
    assert closed is not None
    if refused:
        assert (closed.code, closed.reason) == (1007, INVALID)
        assert not emulator.log.server_messages("setupComplete")
    else:
        # Accepted: the second frame, a text that is a number, is what gets refused.
        assert emulator.log.server_messages("setupComplete")
        assert closed.reason.startswith("Invalid value at 'realtime_input.text' (TYPE_STRING)")


SETUP = {"setup": {"model": f"models/{LIVE}"}}
SCHEMA_ERRORS: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "setup-unknown-deep",
        [{"setup": {"model": "m", "realtime_input_config": {"turn_coverage_x": 1}}}],
        'Invalid JSON payload received. Unknown name "turn_coverage_x" at '
        "'setup.realtime_input_config': Cannot find field.",
    ),
    (
        "setup-bad-enum",
        [{"setup": {"model": "m", "generationConfig": {"responseModalities": ["SPEECH"]}}}],
        "Invalid value at 'setup.generation_config.response_modalities[0]' "
        "(type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), "
        '"SPEECH"',
    ),
    (
        "setup-wrong-type",
        [{"setup": {"model": "m", "contextWindowCompression": {"triggerTokens": True}}}],
        "Invalid value at 'setup.context_window_compression.trigger_tokens' (TYPE_INT64), true",
    ),
    (
        "tool-response-unknown",
        [SETUP, {"tool_response": {"functionResponses": [{"id": "a", "when": "now"}]}}],
        'Invalid JSON payload received. Unknown name "when" at '
        "'tool_response.function_responses[0]': Cannot find field.",
    ),
    (
        "client-content-wrong-type",
        [SETUP, {"client_content": {"turns": [{"role": "user", "parts": "hi"}]}}],
        "Invalid value at 'client_content.turns[0].parts' "
        '(type.googleapis.com/google.ai.generativelanguage.v1beta.Part), "hi"',
    ),
    (
        "realtime-input-unknown",
        [SETUP, {"realtimeInput": {"audio": {"data": "AAAA", "mime_type": "audio/pcm", "x": 1}}}],
        "Invalid JSON payload received. Unknown name \"x\" at 'realtime_input.audio': "
        "Cannot find field.",
    ),
]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [(frames, reason) for _, frames, reason in SCHEMA_ERRORS],
    ids=[name for name, *_ in SCHEMA_ERRORS],
)
async def test_schema_errors_of_each_message_type_are_closed_1007_in_the_services_words(
    emulator: Emulator, frames: list[dict[str, Any]], reason: str
) -> None:
    closed = await raw_close(emulator, *frames)
    assert closed is not None
    assert (closed.code, closed.reason) == (1007, reason[:123])


async def test_the_schema_is_checked_before_the_model_is_looked_up(emulator: Emulator) -> None:
    frame = {"setup": {"model": "models/gemini-0.1-unknown", "surprise": {}}}
    closed = await raw_close(emulator, frame)
    assert (closed.code, closed.reason) == (
        1007,
        "Invalid JSON payload received. Unknown name \"surprise\" at 'setup': Cannot find field.",
    )


async def test_proactivity_is_known_on_v1alpha_but_the_current_models_are_not_served_there(
    emulator: Emulator,
) -> None:
    frame = {"setup": {"model": f"models/{LIVE}", "proactivity": {"proactive_audio": False}}}
    closed = await raw_close(emulator, frame, version="v1alpha")
    assert closed.code == 1008
    assert "not found for API version v1alpha" in closed.reason
