"""How the demo opens its turn: one replaceable step.

A `Trigger` gets the running appliance on its bench and the spoken question; it opens the
turn the way a person would, speaks the question into the microphone and says when it
asked (the timeline's zero) and when its speech ended. `BUTTON_TAP` presses and releases
the mock button (the real gpiozero `Button` path) and lets the local VAD end the turn;
`WAKE_WORD` says "okay nabu" before the question instead, to the real wake word detector.
A trigger brings its own settings (`Trigger.settings`) and recording (`Trigger.recording`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from talkbox.appliance.app import Appliance
from talkbox.conversation import State
from talkbox.demo.bench import (
    BUTTON_PIN,
    QUESTION,
    WAKE_QUESTION,
    Bench,
    first_words_end_s,
    speech_end_s,
    until,
)
from talkbox.demo.report import Timeline

TAP_S: Final = 0.15
"""How long the simulated finger holds the button: longer than its bounce time."""
LISTENING_WITHIN_S: Final = 10.0


@dataclass(slots=True)
class Stage:
    """What a trigger drives: the appliance, its bench, and the timeline it marks."""

    app: Appliance
    bench: Bench
    timeline: Timeline


@dataclass(frozen=True, slots=True)
class Asked:
    """When the turn was asked for and when the question's speech ended (monotonic s)."""

    at: float
    speech_end: float


@dataclass(frozen=True, slots=True)
class Trigger:
    """One way of opening the demo's turn."""

    name: str
    """What opens the turn, as the report says it ("press": "seconds from the press")."""
    ask: Callable[[Stage, bytes], Awaitable[Asked]]
    """Open the turn and speak the question (16 kHz mono S16_LE) into the microphone."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Settings the trigger needs on top of the bench's."""
    recording: str = QUESTION
    """The bundled recording it speaks (`talkbox.demo.bench.question`)."""


async def tap_the_button(stage: Stage, question: bytes) -> Asked:
    """Press and release the mock button, then speak: tap mode, the VAD ends the turn."""
    pins, timeline, app = stage.bench.pins, stage.timeline, stage.app
    pressed = time.monotonic()
    pins.press(BUTTON_PIN)
    timeline.mark(pressed, f"button pressed (GPIO{BUTTON_PIN} driven low)")
    await until(
        lambda: app.state is State.LISTENING,
        within=LISTENING_WITHIN_S,
        what="the LED showing listening after the press",
    )
    # A finger's tap, not a wait for something: the release is simply that much later.
    await asyncio.sleep(max(0.0, pressed + TAP_S - time.monotonic()))
    released = time.monotonic()
    pins.release(BUTTON_PIN)
    timeline.mark(released, f"button released (GPIO{BUTTON_PIN} high)")
    said = time.monotonic()
    stage.bench.mic.say(question)
    timeline.mark(said, "the question starts into the microphone FIFO")
    speech_end = said + speech_end_s(question)
    timeline.mark(speech_end, "its speech ends (then silence)")
    return Asked(at=pressed, speech_end=speech_end)


BUTTON_TAP: Final = Trigger(name="press", ask=tap_the_button)
"""A press and release of the button (the default)."""


async def say_the_wake_word(stage: Stage, recording: bytes) -> Asked:
    """Speak the wake word and the question after it; the detector opens the turn."""
    timeline, app = stage.timeline, stage.app
    said = time.monotonic()
    stage.bench.mic.say(recording)
    timeline.mark(said, '"okay nabu ... what time is it in Tokyo?" starts into the FIFO')
    # The report counts from the end of the word: "wake word → LED listening" is detection.
    word_end = said + first_words_end_s(recording)
    timeline.mark(word_end, '"okay nabu" ends')
    await until(
        lambda: app.state is State.LISTENING,
        within=LISTENING_WITHIN_S,
        what="the wake word opening a turn (the LED showing listening)",
    )
    timeline.mark(time.monotonic(), "the wake word heard on the box (nothing sent before)")
    speech_end = said + speech_end_s(recording)
    timeline.mark(speech_end, "the question's speech ends (then silence)")
    return Asked(at=word_end, speech_end=speech_end)


WAKE_WORD: Final = Trigger(
    name="wake word",
    ask=say_the_wake_word,
    settings={"wake_word": "okay_nabu"},
    recording=WAKE_QUESTION,
)
"""The spoken wake word "okay nabu", heard by the real detector (`talkbox demo --wake`)."""
