"""Button and LED on GPIO with gpiozero: the only gpiozero importer.

`GpioButton` turns the button's edges into `ButtonPressed`, `ButtonReleased`, `LongPressed`
and `DoublePressed`, posted to the event loop with `loop.call_soon_threadsafe` (gpiozero
calls back from its own threads: lgpio's one callback thread, a hold thread, or whoever
drives a mock pin). A periodic level check (`watch()`, or `check_level()`) posts an edge the
callbacks missed, a known gpiozero/lgpio failure on Bookworm. `GpioIndicator` shows the
patterns of `talkbox.conversation.leds` on an LED, PWM LED or RGB LED.

`open_gpio()` loads the pin factory the gpiozero way (GPIOZERO_PIN_FACTORY, e.g. `mock`, or
the default lgpio → rpigpio → pigpio → native order); when none loads (no GPIO on this
machine) it logs one WARNING and the appliance runs without button and LED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from gpiozero import LED, PWMLED, RGBLED, Button, Device
from gpiozero.exc import BadPinFactory, GPIOZeroError, PinPWMUnsupported

from talkbox.conversation import (
    ButtonPressed,
    ButtonReleased,
    Color,
    DoublePressed,
    Effect,
    LedKind,
    LongPressed,
    Pattern,
    State,
    pattern,
)
from talkbox.errors import ConfigError

log = logging.getLogger(__name__)

ButtonEvent = ButtonPressed | ButtonReleased | LongPressed | DoublePressed
"""What the button posts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonOptions:
    """The button's wiring and timing (TALKBOX_* in brackets)."""

    pin: int
    """BCM number of the button's GPIO (BUTTON_PIN)."""
    pull_up: bool | None = True
    """Internal pull-up (True), pull-down (False) or an external resistor (None)."""
    active_high: bool | None = None
    """With an external resistor: whether a pressed button reads high (BUTTON_ACTIVE_HIGH)."""
    bounce_s: float = 0.03
    """Edges this soon after the previous one are contact bounce (BUTTON_BOUNCE_MS)."""
    long_press_s: float = 2.0
    """Held this long: a long press (LONG_PRESS_S)."""
    double_press_s: float = 0.4
    """A second press this soon after the first: a double press."""

    def __post_init__(self) -> None:
        """Refuse wiring gpiozero cannot read and timings no person can produce."""
        if not 0 <= self.pin <= 53:
            raise ValueError(f"the button pin must be a BCM GPIO number 0-53, not {self.pin}")
        if self.pull_up is None and self.active_high is None:
            raise ValueError("a button without pull resistor needs active_high (its level)")
        if not 0.0 <= self.bounce_s <= 0.2:
            raise ValueError(f"bounce must be between 0 and 200 ms, not {self.bounce_s} s")
        if not 0.3 <= self.long_press_s <= 10.0:
            raise ValueError(f"long_press_s must be between 0.3 and 10, not {self.long_press_s}")
        if not self.bounce_s < self.double_press_s <= 1.0:
            raise ValueError("double_press_s must be above the bounce time and at most 1 s")


@dataclass(frozen=True, slots=True, kw_only=True)
class LedOptions:
    """The LED's kind and wiring (TALKBOX_* in brackets)."""

    kind: LedKind
    """LED_KIND."""
    pins: tuple[int, ...]
    """LED_PINS: one pin, or red, green, blue for `rgb`."""
    active_high: bool = True
    """LED_ACTIVE_HIGH: False for an LED wired between the pin and 3.3 V."""
    brightness: float = 1.0
    """LED_BRIGHTNESS: scales steady PWM levels and RGB colours (0-1)."""

    def __post_init__(self) -> None:
        """Refuse a pin count that does not fit the kind."""
        wanted = 3 if self.kind is LedKind.RGB else 1
        if len(self.pins) != wanted:
            raise ValueError(f"a {self.kind} LED needs {wanted} pin(s), not {len(self.pins)}")
        if not all(0 <= pin <= 53 for pin in self.pins):
            raise ValueError(f"LED pins must be BCM GPIO numbers 0-53, not {self.pins}")
        if not 0.0 < self.brightness <= 1.0:
            raise ValueError(f"brightness must be above 0 and at most 1, not {self.brightness}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Hat:
    """What a known HAT has where (TALKBOX_HAT)."""

    name: str
    button_pin: int | None
    led: LedOptions | None
    note: str = ""
    """Why the HAT's own LEDs are not driven, when they are not."""


HATS: Final[dict[str, Hat]] = {
    # Google AIY Voice Kit v1 (Voice HAT): the arcade button on GPIO23, its LED on GPIO25.
    "aiy-voice-v1": Hat(
        name="aiy-voice-v1",
        button_pin=23,
        led=LedOptions(kind=LedKind.PWM, pins=(25,)),
    ),
    # Seeed ReSpeaker 2-Mics Pi HAT: the user button on GPIO17; its three APA102 LEDs hang
    # on SPI (MOSI GPIO10, SCLK GPIO11), a protocol gpiozero's LED classes cannot speak.
    "respeaker-2mic": Hat(
        name="respeaker-2mic",
        button_pin=17,
        led=None,
        note=(
            "the ReSpeaker 2-mic HAT's APA102 LEDs are on SPI, which gpiozero cannot drive; "
            "running without LED (wire an LED to a GPIO and set LED_KIND/LED_PINS)"
        ),
    ),
    "custom": Hat(name="custom", button_pin=None, led=None),
}
"""The HAT presets: known pins, overridden by BUTTON_PIN / LED_PINS when those are set."""


class GpioButton:
    """The `Button` port on gpiozero: edges become events posted to the event loop."""

    def __init__(
        self,
        options: ButtonOptions,
        *,
        loop: asyncio.AbstractEventLoop,
        post: Callable[[ButtonEvent], None],
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Claim the pin; `post` runs on `loop` for every event."""
        self.options = options
        self._loop = loop
        self._post = post
        self._clock = clock
        self._lock = threading.Lock()
        self._button = Button(
            options.pin,
            pull_up=options.pull_up,
            active_state=options.active_high if options.pull_up is None else None,
            bounce_time=options.bounce_s or None,
            hold_time=options.long_press_s,
            pin_factory=pin_factory,
        )
        self._pressed = bool(self._button.is_pressed)
        self._last_edge = -1e9
        self._last_press = -1e9
        self._button.when_pressed = lambda: self._edge(True)
        self._button.when_released = lambda: self._edge(False)
        self._button.when_held = self._held

    @property
    def is_pressed(self) -> bool:
        """Whether the button is down now (its level, not the last event posted)."""
        return bool(self._button.is_pressed)

    def check_level(self) -> None:
        """Post the edge the callbacks missed, if the level disagrees with the last one posted."""
        level = self.is_pressed
        if level != self._pressed:
            log.debug("button level check: a missed %s edge", "press" if level else "release")
            self._edge(level)

    async def watch(self, interval_s: float = 0.25) -> None:
        """Check the level every `interval_s` seconds, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.check_level()

    def close(self) -> None:
        """Release the pin."""
        self._button.close()

    def _edge(self, pressed: bool) -> None:
        # Called from gpiozero's threads and from the level check on the loop.
        with self._lock:
            now = self._clock()
            if pressed == self._pressed or now - self._last_edge < self.options.bounce_s:
                # A repeat, or contact bounce; the level check settles a bounce that ended
                # on the other level.
                return
            self._pressed = pressed
            self._last_edge = now
            events: list[ButtonEvent] = []
            if pressed:
                events.append(ButtonPressed())
                if now - self._last_press <= self.options.double_press_s:
                    events.append(DoublePressed())
                    self._last_press = -1e9  # a third press starts afresh
                else:
                    self._last_press = now
            else:
                events.append(ButtonReleased())
        for event in events:
            self._loop.call_soon_threadsafe(self._post, event)

    def _held(self) -> None:
        with self._lock:
            if not self._pressed:
                return
        self._loop.call_soon_threadsafe(self._post, LongPressed())


def _scaled(color: Color, brightness: float) -> Color:
    red, green, blue = color
    return (red * brightness, green * brightness, blue * brightness)


class GpioIndicator:
    """The `Indicator` port on gpiozero: each state's pattern (`talkbox.conversation.leds`)."""

    def __init__(self, options: LedOptions, *, pin_factory: Any = None) -> None:
        """Claim the LED's pins (a `pwm` LED on pins without PWM falls back to `led`)."""
        self.options = options
        self.kind = options.kind
        high = options.active_high
        if options.kind is LedKind.RGB:
            red, green, blue = options.pins
            self._device: Any = RGBLED(red, green, blue, active_high=high, pin_factory=pin_factory)
        elif options.kind is LedKind.PWM:
            try:
                self._device = PWMLED(options.pins[0], active_high=high, pin_factory=pin_factory)
            except PinPWMUnsupported:
                log.warning("GPIO%d cannot do PWM; driving it as LED_KIND=led", options.pins[0])
                self.kind = LedKind.LED
                self._device = LED(options.pins[0], active_high=high, pin_factory=pin_factory)
        else:
            self._device = LED(options.pins[0], active_high=high, pin_factory=pin_factory)
        self.shown: State | None = None

    def show(self, state: State, *, timers: bool = False) -> None:
        """Show `state`'s pattern until told otherwise (blinks run in gpiozero's thread).

        `timers`: a timer or alarm is set, which `idle` shows with a pattern of its own.
        """
        self.shown = state
        self._drive(pattern(self.kind, state, timers=timers))

    def close(self) -> None:
        """Turn the LED off and release its pins."""
        self._device.off()
        self._device.close()

    def _drive(self, shown: Pattern) -> None:
        device, rgb = self._device, self.kind is LedKind.RGB
        brightness = self.options.brightness
        color = _scaled(shown.color, brightness)
        match shown.effect:
            case Effect.OFF:
                device.off()
            case Effect.ON if rgb:
                device.color = color
            case Effect.ON if self.kind is LedKind.PWM:
                device.value = shown.level * brightness
            case Effect.ON:
                device.on()
            case Effect.BLINK if rgb:
                device.blink(on_time=shown.on_s, off_time=shown.off_s, on_color=color)
            case Effect.BLINK:
                device.blink(on_time=shown.on_s, off_time=shown.off_s)
            case Effect.PULSE if rgb:
                device.pulse(fade_in_time=shown.on_s, fade_out_time=shown.off_s, on_color=color)
            case Effect.PULSE:
                device.pulse(fade_in_time=shown.on_s, fade_out_time=shown.off_s)


def load_pin_factory() -> bool:
    """Load gpiozero's pin factory; False (after one WARNING) when this machine has no GPIO."""
    with warnings.catch_warnings():
        # Each factory that fails to load warns (PinFactoryFallback); one line says it all.
        warnings.simplefilter("ignore")
        try:
            Device.ensure_pin_factory()
        except (BadPinFactory, GPIOZeroError, ImportError, OSError, RuntimeError) as exc:
            log.warning("no GPIO on this machine (%s); running without button and LED", exc)
            return False
    return True


def open_gpio(
    button: ButtonOptions | None,
    led: LedOptions | None,
    *,
    loop: asyncio.AbstractEventLoop,
    post: Callable[[ButtonEvent], None],
    pin_factory: Any = None,
) -> tuple[GpioButton | None, GpioIndicator | None]:
    """The button and LED, or None for each one not configured or not available."""
    if button is None and led is None:
        return None, None
    if pin_factory is None and not load_pin_factory():
        return None, None
    opened_button = None
    if button is not None:
        with _claiming("TALKBOX_BUTTON_PIN", (button.pin,)):
            opened_button = GpioButton(button, loop=loop, post=post, pin_factory=pin_factory)
    indicator = None
    if led is not None:
        try:
            with _claiming("TALKBOX_LED_PINS", led.pins):
                indicator = GpioIndicator(led, pin_factory=pin_factory)
        except ConfigError:
            if opened_button is not None:
                opened_button.close()
            raise
    return opened_button, indicator


def _claim_errors() -> tuple[type[BaseException], ...]:
    """What claiming a pin raises: gpiozero's errors, OS errors, and lgpio's own on a Pi."""
    errors: tuple[type[BaseException], ...] = (GPIOZeroError, OSError, RuntimeError)
    try:
        import lgpio
    except ImportError:  # not a Pi: the mock and other factories raise the ones above
        return errors
    return (*errors, lgpio.error)


@contextlib.contextmanager
def _claiming(setting: str, pins: tuple[int, ...]) -> Iterator[None]:
    """Turn a pin that cannot be claimed into the one config problem a person can fix."""
    try:
        yield
    # gpiozero's own (a pin reserved twice, a pin the board lacks) and lgpio's "GPIO busy"
    # (another program or a kernel driver holds it) both arrive as these.
    except _claim_errors() as exc:
        names = ", ".join(f"GPIO{pin}" for pin in pins)
        detail = str(exc) or type(exc).__name__
        raise ConfigError(
            [
                f"{setting}: {names} cannot be claimed ({detail}); if no other setting names "
                "it, another program or a kernel driver (a HAT's overlay) may hold it"
            ]
        ) from exc


class MockPins:
    """gpiozero's MockFactory with PWM pins (docs/platform.md §3.4), for the demo's stand-ins.

    Pass `factory` as the pin factory; `press` and `release` drive a pull-up button's pin as
    a finger would, so the real `GpioButton` path (edges, bounce, events) runs, and `levels`
    reads an output pin's history back in monotonic time.
    """

    def __init__(self) -> None:
        """A fresh factory whose pins support PWM (so `pwm` and `rgb` LEDs pulse)."""
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        self.factory: Any = MockFactory(pin_class=MockPWMPin)
        self._since: dict[int, float] = {}

    def press(self, pin: int) -> None:
        """Press the (pull-up) button on `pin`: drive it low."""
        self.factory.pin(pin).drive_low()

    def release(self, pin: int) -> None:
        """Release the (pull-up) button on `pin`: let it go high."""
        self.factory.pin(pin).drive_high()

    def mark(self, pins: tuple[int, ...]) -> float:
        """Start the history of output `pins` afresh now; returns the monotonic time."""
        now = time.monotonic()
        for pin in pins:
            # gpiozero keeps each change as a delta from the previous one, the first from
            # clear_states(): the time it ran makes the deltas absolute. Read just after it,
            # so a change is never placed before the state shown that made it.
            self.factory.pin(pin).clear_states()
            self._since[pin] = time.monotonic()
        return now

    def levels(self, pin: int) -> list[tuple[float, float]]:
        """(monotonic time, level 0-1) of each state of `pin` since `mark`."""
        at = self._since.get(pin)
        if at is None:
            raise ValueError(f"GPIO{pin} was not marked")
        history = []
        for state in list(self.factory.pin(pin).states):
            at += state.timestamp
            history.append((at, float(state.state)))
        return history

    def close(self) -> None:
        """Release every pin's reservation."""
        self.factory.reset()
