"""Wire helpers: casing at every depth, both base64 alphabets, reasons, durations, kinds."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkbox.emulator.protocol import (
    MAX_DEPTH,
    ProtocolError,
    audio_rate,
    camel,
    client_kind,
    decode_b64,
    duration_text,
    encode_b64,
    message_name,
    normalise,
    parse_frame,
    realtime_field,
    server_kind,
    truncate_reason,
)


def test_snake_case_keys_become_camel_case_at_every_depth_but_caller_data_is_kept() -> None:
    message = normalise(
        parse_frame(
            '{"realtime_input": {"audio": {"mime_type": "audio/pcm", "data": "AA=="}},'
            ' "tool_response": {"function_responses": [{"id": "x", "will_continue": false,'
            ' "response": {"temp_c": 21}}]}}'
        )
    )
    assert message == {
        "realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": "AA=="}},
        "toolResponse": {
            "functionResponses": [{"id": "x", "willContinue": False, "response": {"temp_c": 21}}]
        },
    }


def test_camel_case_is_left_alone() -> None:
    assert camel("activityStart") == "activityStart"
    assert camel("silence_duration_ms") == "silenceDurationMs"


@pytest.mark.parametrize("frame", ["not json", "[1, 2]", b"\xff\xfe", '"text"'])
def test_frames_that_are_not_json_objects_are_protocol_errors(frame: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_frame(frame)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_a_frame_nested_deeper_than_protobuf_allows_is_a_protocol_error(depth: int) -> None:
    with pytest.raises(ProtocolError, match="Nested too deeply"):
        parse_frame('{"a":' + "[" * depth + "]" * depth + "}")


def test_a_frame_nested_just_within_the_limit_parses() -> None:
    depth = MAX_DEPTH - 1
    parsed = parse_frame('{"a":' + "[" * depth + "]" * depth + "}")
    assert normalise(parsed) == parsed


@pytest.mark.parametrize(
    "message",
    [{}, {"setup": {}, "realtimeInput": {}}, {"realtimeInput": {}, "clientContent": {}}, {"x": 1}],
)
def test_a_frame_must_hold_exactly_one_known_message(message: dict[str, object]) -> None:
    with pytest.raises(ProtocolError, match=r"Request contains an invalid argument\."):
        message_name(message)


def test_the_one_message_of_a_frame_is_named() -> None:
    assert message_name({"toolResponse": {}}) == "toolResponse"
    assert message_name({"contextUpdate": {}}) == "contextUpdate"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": None},
        {"text": "a", "audioStreamEnd": True},
        {"activityStart": {}, "activityEnd": {}},
        {"somethingElse": 1},
        {"text": "a", "somethingElse": 1},
    ],
)
def test_realtime_input_must_set_exactly_one_known_field(body: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        realtime_field(body)


def test_the_one_realtime_field_is_named_and_nulls_count_as_unset() -> None:
    assert realtime_field({"text": "hi", "audio": None}) == "text"
    assert realtime_field({"audioStreamEnd": True}) == "audioStreamEnd"


@given(st.binary(max_size=300))
def test_both_base64_alphabets_padded_or_not_decode_to_the_same_bytes(data: bytes) -> None:
    standard = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data).decode()
    assert decode_b64(standard) == data
    assert decode_b64(urlsafe) == data
    assert decode_b64(urlsafe.rstrip("=")) == data
    assert encode_b64(data) == standard
    assert encode_b64(data, urlsafe=True) == urlsafe


def test_garbage_base64_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_b64("!!!!")


@given(st.text(max_size=200))
def test_a_truncated_reason_is_a_utf8_safe_prefix_of_at_most_123_bytes(reason: str) -> None:
    cut = truncate_reason(reason)
    assert len(cut.encode()) <= 123
    assert reason.startswith(cut)
    if len(reason.encode()) <= 123:
        assert cut == reason
    else:
        assert len(cut.encode()) > 119  # at most one character (up to 4 bytes) is lost


@pytest.mark.parametrize(
    ("seconds", "text"), [(50, "50s"), (50.0, "50s"), (9.5, "9.500s"), (0.25, "0.250s")]
)
def test_durations_use_the_proto_json_form(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_kinds_name_the_message_and_its_first_field() -> None:
    assert client_kind({"realtimeInput": {"activityStart": {}}}) == "realtime_input.activityStart"
    assert client_kind({"clientContent": {"turnComplete": True}}) == "client_content"
    assert client_kind({"weird": 1}) == "unknown"
    # The field realtime_field picks (a null counts as unset), not merely the first key.
    both = {"realtimeInput": {"text": None, "audio": {"mimeType": "audio/pcm", "data": ""}}}
    assert client_kind(both) == "realtime_input.audio"
    assert client_kind({"realtimeInput": {"text": "a", "audio": {}}}) == "realtime_input.text"
    assert server_kind({"serverContent": {"turnComplete": True}, "usageMetadata": {}}) == (
        "serverContent.turnComplete"
    )
    assert server_kind({"goAway": {"timeLeft": "1s"}}) == "goAway"
    assert server_kind({"usageMetadata": {}}) == "usageMetadata"


def test_the_audio_rate_comes_from_the_mime_type() -> None:
    assert audio_rate("audio/pcm;rate=24000") == 24000
    assert audio_rate("audio/pcm; rate=8000") == 8000
    assert audio_rate("audio/pcm;rate=48000") == 48000
    assert audio_rate("audio/pcm") == 16000


@pytest.mark.parametrize(
    "mime",
    [
        "audio/pcm;rate=0",
        "audio/pcm;rate=1",
        "audio/pcm;rate=20",
        "audio/pcm;rate=7999",
        "audio/pcm;rate=48001",
        "audio/pcm;rate=" + "9" * 5000,
        "audio/pcm;rate=",
        "audio/pcm;rate=-16000",
        "audio/pcm;rate=16k",
        "image/jpeg",
        "",
    ],
)
def test_a_rate_outside_8_to_48_khz_or_a_type_that_is_not_audio_is_refused(mime: str) -> None:
    with pytest.raises(ProtocolError, match=r"Request contains an invalid argument\."):
        audio_rate(mime)


@pytest.mark.parametrize(
    "frame",
    [
        '{"realtime_input": {"text": "a"}, "realtimeInput": {"text": "b"}}',
        '{"setup": {"model": "m", "generation_config": {}, "generationConfig": {}}}',
    ],
)
def test_a_field_given_twice_in_both_casings_is_a_protocol_error(frame: str) -> None:
    with pytest.raises(ProtocolError):
        normalise(parse_frame(frame))
