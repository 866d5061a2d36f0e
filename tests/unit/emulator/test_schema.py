"""The client-message schema: unknown names, wrong types, bad enums, in the service's words."""

from __future__ import annotations

from typing import Any

import pytest

from talkbox.emulator.schema import problem, proto_name

V1BETA = "v1beta"
TYPES = "type.googleapis.com/google.ai.generativelanguage.v1beta."


def test_a_setup_the_sdk_builds_has_no_problem_in_either_casing() -> None:
    setup = {
        "model": "models/m",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
        },
        "systemInstruction": {"parts": [{"text": "be brief"}], "role": "user"},
        "tools": [
            {"googleSearch": {}},
            {"functionDeclarations": [{"name": "f", "behavior": "NON_BLOCKING",
                                       "parameters_json_schema": {"type": "object"}}]},
        ],
        "sessionResumption": {},
        "realtimeInputConfig": {
            "automatic_activity_detection": {"disabled": False, "silence_duration_ms": 100},
            "activity_handling": "NO_INTERRUPTION",
            "turn_coverage": "TURN_INCLUDES_ONLY_ACTIVITY",
        },
        "contextWindowCompression": {"trigger_tokens": "25600", "sliding_window": {}},
        "inputAudioTranscription": {},
    }  # fmt: skip
    assert problem("setup", setup, V1BETA) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"model": "m", "proactivity": {"proactive_audio": True}},
            "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
            "Cannot find field.",
        ),
        (
            {"generationConfig": {"inputAudioTranscription": {}}},
            'Invalid JSON payload received. Unknown name "inputAudioTranscription" at '
            "'setup.generation_config': Cannot find field.",
        ),
        (
            {"realtimeInputConfig": {"automaticActivityDetection": {"sensitivity": 1}}},
            'Invalid JSON payload received. Unknown name "sensitivity" at '
            "'setup.realtime_input_config.automatic_activity_detection': Cannot find field.",
        ),
        (
            {"realtimeInputConfig": {"activityHandling": "SOMETIMES"}},
            "Invalid value at 'setup.realtime_input_config.activity_handling' "
            f'({TYPES}RealtimeInputConfig.ActivityHandling), "SOMETIMES"',
        ),
        (
            {"generationConfig": {"temperature": "hot"}},
            "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"hot\"",
        ),
        (
            {"generationConfig": {"responseModalities": "AUDIO"}},
            "Invalid value at 'setup.generation_config.response_modalities' "
            f'({TYPES}GenerationConfig.Modality), "AUDIO"',
        ),
        (
            {"generationConfig": []},
            "Invalid JSON payload received. Unknown name \"generationConfig\" at 'setup': "
            "Proto field is not repeating, cannot start list.",
        ),
        (
            {"systemInstruction": "plain text"},
            f"Invalid value at 'setup.system_instruction' ({TYPES}Content), \"plain text\"",
        ),
        (
            {"sessionResumption": {"transparent": True}},
            'Invalid JSON payload received. Unknown name "transparent" at '
            "'setup.session_resumption': Cannot find field.",
        ),
    ],
)
def test_setup_problems_are_worded_as_the_service_words_them(body: Any, reason: str) -> None:
    assert problem("setup", body, V1BETA) == reason


def test_proactivity_is_a_field_on_v1alpha_only() -> None:
    body = {"proactivity": {"proactiveAudio": True}}
    assert problem("setup", body, "v1alpha") is None
    assert problem("setup", body, "v1") is not None


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        (
            "toolResponse",
            {"functionResponses": [{"id": "a", "scheduling": "LATER"}]},
            "Invalid value at 'tool_response.function_responses[0].scheduling' "
            f'({TYPES}FunctionResponse.Scheduling), "LATER"',
        ),
        (
            "toolResponse",
            {"function_responses": [{"id": "a", "extra": 1}]},
            'Invalid JSON payload received. Unknown name "extra" at '
            "'tool_response.function_responses[0]': Cannot find field.",
        ),
        (
            "clientContent",
            {"turns": [{"parts": [{"text": 3}]}]},
            "Invalid value at 'client_content.turns[0].parts[0].text' (TYPE_STRING), 3",
        ),
        (
            "realtimeInput",
            {"audioStreamEnd": "yes"},
            "Invalid value at 'realtime_input.audio_stream_end' (TYPE_BOOL), \"yes\"",
        ),
        (
            "realtimeInput",
            {"audio": {"data": "AA==", "mimeType": "audio/pcm", "rate": 16000}},
            'Invalid JSON payload received. Unknown name "rate" at '
            "'realtime_input.audio': Cannot find field.",
        ),
    ],
)
def test_every_message_type_is_checked(name: str, body: Any, reason: str) -> None:
    assert problem(name, body, V1BETA) == reason


def test_null_is_the_default_value_and_function_arguments_are_free() -> None:
    assert problem("setup", {"generationConfig": None, "tools": None}, V1BETA) is None
    body = {"functionResponses": [{"id": "a", "response": {"anything": {"goes": [1]}}}]}
    assert problem("toolResponse", body, V1BETA) is None
    assert problem("toolResponse", {"functionResponses": [{"response": 5}]}, V1BETA) is not None


def test_int64_takes_numbers_and_decimal_strings_but_not_booleans() -> None:
    def trigger(value: Any) -> str | None:
        return problem("setup", {"contextWindowCompression": {"triggerTokens": value}}, V1BETA)

    assert trigger(25600) is None
    assert trigger("25600") is None
    assert trigger(True) is not None
    assert trigger("many") is not None


def test_proto_names_are_snake_case_whatever_the_casing_sent() -> None:
    assert proto_name("generationConfig") == "generation_config"
    assert proto_name("generation_config") == "generation_config"
    assert proto_name("realtimeInput") == "realtime_input"
