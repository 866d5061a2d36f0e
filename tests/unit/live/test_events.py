"""The events: frozen dataclasses with past-tense names, all part of LinkEvent."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing

import pytest

from talkbox.audio.format import ANSWER_RATE_HZ
from talkbox.live import events

EVENT_CLASSES = [
    cls
    for name, cls in vars(events).items()
    if inspect.isclass(cls)
    and cls.__module__ == events.__name__
    and name not in ("Usage", "ToolCall")
]


# What each class's docstring says in events.py itself, not what dataclass() makes up.
WRITTEN_DOCSTRINGS = {
    node.name: ast.get_docstring(node, clean=False)
    for node in ast.parse(inspect.getsource(events)).body
    if isinstance(node, ast.ClassDef)
}


def test_every_event_is_a_link_event() -> None:
    assert set(typing.get_args(events.LinkEvent)) == set(EVENT_CLASSES)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_frozen_and_named_in_the_past_tense(cls: type) -> None:
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert cls.__name__.endswith(("ed", "Sent", "Resent", "Failed"))


@pytest.mark.parametrize(
    "cls", [*EVENT_CLASSES, events.Usage, events.ToolCall], ids=lambda c: c.__name__
)
def test_every_event_has_a_one_line_summary_written_in_its_source(cls: type) -> None:
    written = WRITTEN_DOCSTRINGS[cls.__name__]
    assert written, f"{cls.__name__} has no docstring of its own"
    assert cls.__doc__ == written
    summary = written.splitlines()[0]
    assert summary.endswith(".")
    assert len(summary) <= 96


SEVERAL_FIELDS = [
    cls
    for cls in [*EVENT_CLASSES, events.Usage, events.ToolCall]
    if len(dataclasses.fields(cls)) > 1
]


@pytest.mark.parametrize("cls", SEVERAL_FIELDS, ids=lambda c: c.__name__)
def test_events_with_more_than_one_field_are_keyword_only(cls: type) -> None:
    fields = dataclasses.fields(cls)
    assert all(f.kw_only for f in fields), [f.name for f in fields if not f.kw_only]
    with pytest.raises(TypeError):
        cls(*(None for _ in fields))


def test_answer_audio_defaults_to_the_live_api_rate() -> None:
    chunk = events.AnswerAudioReceived(turn_id=1, pcm=b"\0\0")
    assert chunk.rate == ANSWER_RATE_HZ == 24000
