"""The GPIO adapters with gpiozero's own threads: the hold thread, blink threads, the watch task.

Every wait is bounded; none relies on a thread being quick, only on it happening at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from talkbox.conversation import ButtonPressed, ButtonReleased, LedKind, LongPressed, State
from talkbox.gpio import ButtonEvent, ButtonOptions, GpioButton, GpioIndicator, LedOptions

PIN, LED_PIN = 17, 22
WITHIN_S = 5.0


class EdgeLosingPin(MockPWMPin):
    """A mock pin whose next edge callback is lost, as lgpio sometimes loses one."""

    lose_next = False

    def _call_when_changed(self) -> None:
        if self.lose_next:
            self.lose_next = False
            return
        super()._call_when_changed()


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=EdgeLosingPin)
    yield factory
    factory.reset()


def until(condition: Callable[[], bool], within_s: float = WITHIN_S) -> None:
    """Wait until `condition()` holds (the blink threads change pins); fail after `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


class Clock:
    """A clock the test moves by hand (the button's bounce window reads it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def adapter(
    factory: MockFactory, queue: asyncio.Queue[ButtonEvent], clock: Clock | None = None
) -> GpioButton:
    return GpioButton(
        ButtonOptions(pin=PIN, long_press_s=0.3),
        loop=asyncio.get_running_loop(),
        post=queue.put_nowait,
        pin_factory=factory,
        clock=clock or time.monotonic,
    )


async def test_holding_the_button_posts_a_long_press_from_gpiozeros_hold_thread(
    factory: MockFactory,
) -> None:
    queue: asyncio.Queue[ButtonEvent] = asyncio.Queue()
    button = adapter(factory, queue)
    factory.pin(PIN).drive_low()
    async with asyncio.timeout(WITHIN_S):
        assert await queue.get() == ButtonPressed()
        assert await queue.get() == LongPressed()
    factory.pin(PIN).drive_high()
    async with asyncio.timeout(WITHIN_S):
        assert await queue.get() == ButtonReleased()
    button.close()


async def test_the_watch_task_posts_a_release_the_callbacks_lost(factory: MockFactory) -> None:
    queue: asyncio.Queue[ButtonEvent] = asyncio.Queue()
    clock = Clock()
    button = adapter(factory, queue, clock)
    pin = factory.pin(PIN)
    pin.drive_low()
    clock.now += 0.5  # past the bounce time, so the release is not taken for a bounce
    pin.lose_next = True
    pin.drive_high()
    async with asyncio.TaskGroup() as tasks:
        watch = tasks.create_task(button.watch(interval_s=0.02), name="button-watch")
        async with asyncio.timeout(WITHIN_S):
            assert await queue.get() == ButtonPressed()
            assert await queue.get() == ButtonReleased()
        watch.cancel()
    button.close()


@pytest.mark.parametrize("kind", [LedKind.LED, LedKind.PWM])
def test_error_blinks_the_led_on_and_off(factory: MockFactory, kind: LedKind) -> None:
    led = GpioIndicator(LedOptions(kind=kind, pins=(LED_PIN,)), pin_factory=factory)
    pin = factory.pin(LED_PIN)
    pin.clear_states()
    led.show(State.ERROR)
    until(lambda: [bool(s.state) for s in pin.states][-3:] == [True, False, True])
    led.show(State.LISTENING)
    assert pin.state == 1.0
    led.close()


def test_thinking_pulses_a_pwm_led_through_levels_between_off_and_on(
    factory: MockFactory,
) -> None:
    led = GpioIndicator(LedOptions(kind=LedKind.PWM, pins=(LED_PIN,)), pin_factory=factory)
    pin = factory.pin(LED_PIN)
    pin.clear_states()
    led.show(State.THINKING)
    until(lambda: len({round(s.state, 2) for s in pin.states if 0 < s.state < 1}) >= 3)
    led.show(State.IDLE)
    assert pin.state == 0.0
    led.close()
