"""Reading server messages: GoAway durations, answer parts, turn ends, handles."""

from __future__ import annotations

import pytest
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from talkbox.live.events import ToolCall, Usage
from talkbox.live.messages import (
    ends_turn,
    new_handle,
    parse_duration,
    read_content,
    reported_calls,
    time_left_s,
    tool_calls,
    usage_of,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50s", 50.0), ("9.500s", 9.5), ("0.250s", 0.25), ("1s", 1.0), (" 7s ", 7.0), ("3", 3.0)],
)
def test_goaway_time_left_strings_are_read(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "soon", "5m", "s", "1.2.3s"])
def test_unreadable_durations_are_none(text: str | None) -> None:
    assert parse_duration(text) is None


@given(st.decimals(min_value=0, max_value=10_000, places=3))
def test_any_proto_duration_round_trips(value: object) -> None:
    assert parse_duration(f"{value}s") == pytest.approx(float(str(value)))


def audio_part(data: bytes) -> types.Part:
    return types.Part(inline_data=types.Blob(data=data, mime_type="audio/pcm;rate=24000"))


def test_every_part_of_a_server_content_is_read_in_order() -> None:
    content = types.LiveServerContent(
        model_turn=types.Content(
            role="model", parts=[audio_part(b"\1\1"), types.Part(text="x"), audio_part(b"\2\2")]
        ),
        input_transcription=types.Transcription(text="what time", finished=True),
        output_transcription=types.Transcription(text="It is"),
        generation_complete=True,
    )
    read = read_content(content)
    assert read.chunks == (b"\1\1", b"\2\2")
    assert (read.heard, read.heard_finished) == ("what time", True)
    assert (read.said, read.said_finished) == ("It is", False)
    assert read.generated
    assert not read.interrupted
    assert not read.ended
    assert read.opens_turn


def test_empty_transcripts_and_empty_audio_open_no_turn() -> None:
    content = types.LiveServerContent(
        model_turn=types.Content(role="model", parts=[audio_part(b"")]),
        output_transcription=types.Transcription(text=""),
        turn_complete=True,
    )
    read = read_content(content)
    assert read.heard is None
    assert read.said is None
    assert read.chunks == ()
    assert not read.opens_turn
    assert read.ended


@pytest.mark.parametrize(
    ("status", "turn_complete", "ends"),
    [
        (None, True, True),
        (None, None, False),
        (types.InteractionStatus.IDLE, None, True),
        (types.InteractionStatus.IDLE, False, True),
        (types.InteractionStatus.INTERACTION_STATUS_UNSPECIFIED, True, True),
    ],
)
def test_an_interaction_status_when_present_decides_the_end_of_a_turn(
    status: types.InteractionStatus | None, turn_complete: bool | None, ends: bool
) -> None:
    content = types.LiveServerContent(interaction_status=status, turn_complete=turn_complete)
    assert ends_turn(content) is ends


def test_a_non_idle_interaction_status_keeps_the_turn_open_despite_turn_complete() -> None:
    deciding = {
        types.InteractionStatus.IDLE,
        types.InteractionStatus.INTERACTION_STATUS_UNSPECIFIED,
    }
    busy = [s for s in types.InteractionStatus if s not in deciding]
    assert busy
    for status in busy:
        content = types.LiveServerContent(interaction_status=status, turn_complete=True)
        assert not ends_turn(content), status


@pytest.mark.parametrize(
    ("update", "handle"),
    [
        (types.LiveServerSessionResumptionUpdate(new_handle="h1", resumable=True), "h1"),
        (types.LiveServerSessionResumptionUpdate(new_handle="h1", resumable=False), None),
        (types.LiveServerSessionResumptionUpdate(new_handle="", resumable=True), None),
        (types.LiveServerSessionResumptionUpdate(resumable=True), None),
        (None, None),
    ],
)
def test_only_a_resumable_update_offers_a_handle(
    update: types.LiveServerSessionResumptionUpdate | None, handle: str | None
) -> None:
    assert new_handle(update) == handle


def test_usage_the_server_leaves_out_counts_as_zero() -> None:
    usage = usage_of(types.UsageMetadata(prompt_token_count=12, total_token_count=12))
    assert usage == Usage(prompt_tokens=12, response_tokens=0, total_tokens=12)


def test_a_goaway_says_its_time_left_or_nothing() -> None:
    assert time_left_s(types.LiveServerGoAway(time_left="9.500s")) == 9.5
    assert time_left_s(types.LiveServerGoAway()) is None


def test_tool_calls_are_reported_with_their_arguments() -> None:
    message = types.LiveServerToolCall(
        function_calls=[types.FunctionCall(id="c1", name="get_time", args={"zone": "UTC"})]
    )
    calls = tool_calls(message)
    assert reported_calls(calls) == (ToolCall(id="c1", name="get_time", args={"zone": "UTC"}),)
    assert tool_calls(types.LiveServerToolCall()) == ()
