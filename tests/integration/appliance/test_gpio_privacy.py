"""The privacy invariant on the pins: gpiozero's MockFactory (MockPWMPin) under the real adapters.

The button is a mock pin driven low and high; the LED is an RGB LED on three mock PWM pins,
whose state histories say when it was blue (`listening`). Every audio message the emulator
received must fall inside a blue stretch (plus the time a frame takes over loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from talkbox.appliance.app import Appliance
from talkbox.appliance.parts import Parts, gpio_parts, new_fake_world
from talkbox.conversation import BLUE, State
from talkbox.hearing.vad import WebRtcVad

from .conftest import (
    FAST_POLICY,
    MakeEmulator,
    Room,
    audio_records,
    box_settings,
    recording,
    until,
)

BUTTON, RED, GREEN, BLUE_PIN = 5, 17, 27, 22
DELIVERY_S = 0.5


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


def absolute_states(pin: Any) -> list[tuple[float, float]]:
    """(monotonic time, value) of each state of a mock pin (gpiozero keeps deltas)."""
    deltas = [state.timestamp for state in pin.states]
    end = pin._last_change  # the time of the newest change
    times = []
    t = end
    for delta in reversed(deltas):
        times.append(t)
        t -= delta
    times.reverse()
    return [(at, float(state.state)) for at, state in zip(times, pin.states, strict=True)]


def blue_spans(factory: MockFactory) -> list[tuple[float, float]]:
    """When the RGB LED showed the listening colour."""
    pins = [factory.pin(n) for n in (RED, GREEN, BLUE_PIN)]
    changes = sorted(
        (at, channel, value)
        for channel, pin in enumerate(pins)
        for at, value in absolute_states(pin)
    )
    color = [0.0, 0.0, 0.0]
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for at, channel, value in changes:
        color[channel] = value
        listening = all(abs(c - w) < 1e-6 for c, w in zip(color, BLUE, strict=True))
        if listening and start is None:
            start = at
        elif not listening and start is not None:
            spans.append((start, at))
            start = None
    if start is not None:
        spans.append((start, float("inf")))
    return spans


@contextlib.asynccontextmanager
async def gpio_box(
    emulator: Any, tmp_path: Path, factory: MockFactory, **overrides: Any
) -> AsyncIterator[tuple[Appliance, Room]]:
    settings = box_settings(
        emulator,
        tmp_path,
        button_pin=BUTTON,
        led_kind="rgb",
        led_pins=(RED, GREEN, BLUE_PIN),
        **overrides,
    )
    world = new_fake_world()
    room = Room(world.mic)

    @contextlib.asynccontextmanager
    async def open_parts(post: Any) -> AsyncIterator[Parts]:
        world.mic.report = world.speaker.report = post
        async with gpio_parts(settings, post, pin_factory=factory) as (button, indicator):
            yield Parts(
                mic=world.mic,
                speaker=world.speaker,
                vad=WebRtcVad(3),
                button=button,
                indicator=indicator,
            )

    async with asyncio.TaskGroup() as tg:
        feeder = tg.create_task(room.run())
        try:
            async with Appliance(settings, open_parts, policy=FAST_POLICY) as app:
                await until(lambda: app.link.status().connected, within=10, what="connected")
                yield app, room
        finally:
            feeder.cancel()


async def test_audio_reaches_the_service_only_while_the_led_pins_show_listening(
    make_emulator: MakeEmulator, tmp_path: Path, factory: MockFactory
) -> None:
    emulator = await make_emulator(realtime=True)
    button = factory.pin(BUTTON)
    question = recording("question-weather.wav")
    async with gpio_box(emulator, tmp_path, factory, follow_up_s=0) as (app, room):
        await until(lambda: app.state is State.IDLE, within=5, what="idle")
        room.say(question[:32_000])  # heard while idle: never sent
        await until(lambda: not room.speaking, within=3, what="spoken")
        button.drive_low()  # a tap
        button.drive_high()
        await until(lambda: app.state is State.LISTENING, within=2, what="listening")
        room.say(question)
        await until(lambda: app.state is State.SPEAKING, within=10, what="speaking")
        button.drive_low()  # barge in, then say nothing: the turn ends unsent
        button.drive_high()
        await until(lambda: app.state is State.LISTENING, within=2, what="listening again")
        await until(lambda: app.state is State.IDLE, within=10, what="idle again")
        records = audio_records(emulator)
        spans = blue_spans(factory)
    assert records
    assert len(spans) == 2
    outside = [t for t, _ in records if not any(a <= t <= b + DELIVERY_S for a, b in spans)]
    assert outside == []
    # Leaving turned the LED off and released the pins.
    assert [factory.pin(n).state for n in (RED, GREEN, BLUE_PIN)] == [0, 0, 0]
