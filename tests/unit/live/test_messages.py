"""Reading server messages: GoAway durations, answer parts, turn ends, handles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkbox.live.messages import parse_duration


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
