"""The events: frozen dataclasses with past-tense names, all part of LinkEvent."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from talkbox import events

EVENT_CLASSES = [
    cls
    for name, cls in vars(events).items()
    if inspect.isclass(cls)
    and cls.__module__ == events.__name__
    and name not in ("Usage", "ToolCall")
]


def test_every_event_is_a_link_event() -> None:
    assert set(typing.get_args(events.LinkEvent)) == set(EVENT_CLASSES)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_frozen_and_named_in_the_past_tense(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert cls.__name__.endswith(("ed", "Sent", "Resent", "Failed"))
    assert cls.__doc__


def test_an_event_cannot_be_changed() -> None:
    event = events.TurnFailed(3, "bad key")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.reason = "other"  # type: ignore[misc]


def test_answer_audio_defaults_to_the_live_output_rate() -> None:
    assert events.AnswerAudioReceived(1, b"\0\0").rate == 24_000
