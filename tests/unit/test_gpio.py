"""The button and LED adapters on gpiozero's MockFactory (drive_low() presses, pin.states)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from gpiozero import LED, Button, Device
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from talkbox.conversation import ButtonPressed, ButtonReleased, DoublePressed, LedKind, State
from talkbox.errors import ConfigError
from talkbox.gpio import (
    HATS,
    ButtonEvent,
    ButtonOptions,
    GpioButton,
    GpioIndicator,
    LedOptions,
    open_gpio,
)

PIN = 17


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class EdgeLosingPin(MockPWMPin):
    """A mock pin whose edge callback can be lost, as lgpio sometimes loses one on Bookworm."""

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


class Posted:
    """Collects what the button posts to the loop."""

    def __init__(self) -> None:
        self.events: list[ButtonEvent] = []

    def __call__(self, event: ButtonEvent) -> None:
        self.events.append(event)

    async def settled(self) -> list[ButtonEvent]:
        # call_soon_threadsafe callbacks scheduled so far run within one loop iteration.
        await asyncio.sleep(0)
        events, self.events = self.events, []
        return events


def button(factory: MockFactory, posted: Posted, clock: Clock, **options: object) -> GpioButton:
    return GpioButton(
        ButtonOptions(pin=PIN, **options),  # type: ignore[arg-type]
        loop=asyncio.get_running_loop(),
        post=posted,
        pin_factory=factory,
        clock=clock,
    )


async def test_a_press_and_a_release_are_posted_to_the_loop(factory: MockFactory) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock)
    pin = factory.pin(PIN)
    pin.drive_low()
    assert adapter.is_pressed
    clock.now += 0.5
    pin.drive_high()
    assert await posted.settled() == [ButtonPressed(), ButtonReleased()]
    adapter.close()


async def test_a_pull_down_button_is_pressed_by_a_high_level(factory: MockFactory) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock, pull_up=False)
    factory.pin(PIN).drive_high()
    assert await posted.settled() == [ButtonPressed()]
    adapter.close()


async def test_a_button_on_an_external_resistor_takes_its_active_level(
    factory: MockFactory,
) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock, pull_up=None, active_high=False)
    pin = factory.pin(PIN)  # floating: the mock reads low, which is pressed here
    assert adapter.is_pressed
    pin.drive_high()
    clock.now += 0.5
    pin.drive_low()
    assert await posted.settled() == [ButtonReleased(), ButtonPressed()]
    adapter.close()


async def test_contact_bounce_gives_one_press_and_the_level_check_settles_it(
    factory: MockFactory,
) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock, bounce_s=0.03)
    pin = factory.pin(PIN)
    for _ in range(3):  # MockPin ignores bounce_time: the bounces reach the callbacks
        pin.drive_low()
        clock.now += 0.002
        pin.drive_high()
        clock.now += 0.002
    assert await posted.settled() == [ButtonPressed()]
    clock.now += 0.1
    adapter.check_level()  # the bounce ended released
    assert await posted.settled() == [ButtonReleased()]
    adapter.close()


async def test_a_second_press_soon_after_the_first_is_also_a_double_press(
    factory: MockFactory,
) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock, double_press_s=0.4)
    pin = factory.pin(PIN)
    for step in (0.1, 0.1, 0.1, 0.1, 0.1):
        pin.drive_low() if not adapter.is_pressed else pin.drive_high()
        clock.now += step
    pin.drive_high()
    assert await posted.settled() == [
        ButtonPressed(),
        ButtonReleased(),
        ButtonPressed(),
        DoublePressed(),
        ButtonReleased(),
        ButtonPressed(),  # the third press starts afresh
        ButtonReleased(),
    ]
    clock.now += 1.0
    pin.drive_low()
    assert await posted.settled() == [ButtonPressed()]
    adapter.close()


async def test_the_level_check_posts_an_edge_the_callbacks_lost(factory: MockFactory) -> None:
    posted, clock = Posted(), Clock()
    adapter = button(factory, posted, clock)
    pin = factory.pin(PIN)
    pin.drive_low()
    clock.now += 0.5
    pin.lose_next = True
    pin.drive_high()
    assert await posted.settled() == [ButtonPressed()]
    adapter.check_level()
    assert await posted.settled() == [ButtonReleased()]
    adapter.check_level()
    assert await posted.settled() == []
    adapter.close()


# ------------------------------------------------------------------------------- the LED


def test_a_single_led_is_steadily_on_exactly_for_listening(factory: MockFactory) -> None:
    led = GpioIndicator(LedOptions(kind=LedKind.LED, pins=(22,)), pin_factory=factory)
    pin = factory.pin(22)
    led.show(State.LISTENING)
    assert pin.state
    led.show(State.IDLE)
    assert not pin.state
    led.close()


def test_an_active_low_led_is_driven_low_to_light(factory: MockFactory) -> None:
    options = LedOptions(kind=LedKind.LED, pins=(22,), active_high=False)
    led = GpioIndicator(options, pin_factory=factory)
    led.show(State.LISTENING)
    assert not factory.pin(22).state
    led.show(State.IDLE)
    assert factory.pin(22).state
    led.close()


def test_a_pwm_led_shows_steady_levels_scaled_by_the_brightness(factory: MockFactory) -> None:
    options = LedOptions(kind=LedKind.PWM, pins=(22,), brightness=0.5)
    led = GpioIndicator(options, pin_factory=factory)
    pin = factory.pin(22)
    led.show(State.LISTENING)
    assert pin.state == pytest.approx(0.5)
    led.show(State.SPEAKING)
    assert pin.state == pytest.approx(0.15)
    led.close()


def test_an_rgb_led_shows_listening_in_blue_and_mute_in_red(factory: MockFactory) -> None:
    led = GpioIndicator(LedOptions(kind=LedKind.RGB, pins=(5, 6, 13)), pin_factory=factory)
    red, green, blue = (factory.pin(n) for n in (5, 6, 13))
    led.show(State.LISTENING)
    assert (red.state, green.state, blue.state) == pytest.approx((0.0, 0.2, 1.0))
    led.show(State.MUTED)
    assert (red.state, green.state, blue.state) == pytest.approx((1.0, 0.0, 0.0))
    led.close()


def test_a_pwm_led_on_a_pin_without_pwm_falls_back_to_blinking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plain = MockFactory(pin_class=MockPin)
    with caplog.at_level(logging.WARNING):
        led = GpioIndicator(LedOptions(kind=LedKind.PWM, pins=(22,)), pin_factory=plain)
    assert led.kind is LedKind.LED
    assert "cannot do PWM" in caplog.text
    led.show(State.LISTENING)
    assert plain.pin(22).state
    led.close()
    plain.reset()


def test_closing_the_led_releases_its_pin(factory: MockFactory) -> None:
    options = LedOptions(kind=LedKind.LED, pins=(22,))
    GpioIndicator(options, pin_factory=factory).close()
    GpioIndicator(options, pin_factory=factory).close()  # the pin is free again


# ---------------------------------------------------------------------- factory, presets


async def test_without_a_pin_factory_one_warning_and_no_button_or_led(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    monkeypatch.setattr(Device, "pin_factory", None)
    with caplog.at_level(logging.WARNING):
        opened = open_gpio(
            ButtonOptions(pin=PIN),
            LedOptions(kind=LedKind.LED, pins=(22,)),
            loop=asyncio.get_running_loop(),
            post=Posted(),
        )
    assert opened == (None, None)
    assert [r.getMessage() for r in caplog.records] == [
        "no GPIO on this machine (Unable to find pin factory 'no-such-factory'); "
        "running without button and LED"
    ]


async def test_gpiozero_pin_factory_mock_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    monkeypatch.setattr(Device, "pin_factory", None)
    posted = Posted()
    opened_button, led = open_gpio(
        ButtonOptions(pin=PIN),
        LedOptions(kind=LedKind.PWM, pins=(22,)),
        loop=asyncio.get_running_loop(),
        post=posted,
    )
    assert opened_button is not None
    assert led is not None
    factory = Device.pin_factory
    try:
        factory.pin(PIN).drive_low()
        assert await posted.settled() == [ButtonPressed()]
        led.show(State.LISTENING)
        assert factory.pin(22).state == 1.0
    finally:
        opened_button.close()
        led.close()
        factory.reset()


def test_the_hat_presets_know_their_pins() -> None:
    aiy, respeaker = HATS["aiy-voice-v1"], HATS["respeaker-2mic"]
    assert aiy.button_pin == 23
    assert aiy.led is not None
    assert aiy.led.pins == (25,)
    assert respeaker.button_pin == 17
    assert respeaker.led is None
    assert "APA102" in respeaker.note
    assert HATS["custom"].button_pin is None


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"pin": 60}, "BCM GPIO number"),
        ({"pin": 17, "pull_up": None}, "needs active_high"),
        ({"pin": 17, "long_press_s": 0.1}, "long_press_s"),
        ({"pin": 17, "double_press_s": 0.01}, "double_press_s"),
    ],
)
def test_button_options_refuse_what_cannot_work(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ButtonOptions(**options)  # type: ignore[arg-type]


def test_led_options_want_three_pins_for_rgb_and_one_otherwise() -> None:
    with pytest.raises(ValueError, match="needs 3 pin"):
        LedOptions(kind=LedKind.RGB, pins=(5,))
    with pytest.raises(ValueError, match="needs 1 pin"):
        LedOptions(kind=LedKind.LED, pins=(5, 6))


async def test_a_pin_another_device_holds_is_one_config_problem_naming_the_setting(
    factory: MockFactory,
) -> None:
    holder = Button(17, pin_factory=factory)
    try:
        with pytest.raises(ConfigError) as caught:
            open_gpio(
                ButtonOptions(pin=17),
                None,
                loop=asyncio.get_running_loop(),
                post=lambda _event: None,
                pin_factory=factory,
            )
    finally:
        holder.close()
    (problem,) = caught.value.problems
    assert problem.startswith("TALKBOX_BUTTON_PIN: GPIO17 cannot be claimed (")
    assert "another program or a kernel driver" in problem


async def test_a_busy_led_pin_releases_the_button_it_already_claimed(factory: MockFactory) -> None:
    holder = LED(25, pin_factory=factory)
    try:
        with pytest.raises(ConfigError, match="TALKBOX_LED_PINS: GPIO25 cannot be claimed"):
            open_gpio(
                ButtonOptions(pin=23),
                LedOptions(kind=LedKind.LED, pins=(25,)),
                loop=asyncio.get_running_loop(),
                post=lambda _event: None,
                pin_factory=factory,
            )
    finally:
        holder.close()
    # The button's pin was given back: it can be claimed again.
    Button(23, pin_factory=factory).close()
