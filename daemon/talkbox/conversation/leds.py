"""What the LED shows in each state, for each kind of LED: pure data.

Every state has its own pattern on every kind, so `offline`, `error` and `muted` are each
unlike any other state, and `listening` (steadily on, blue on an RGB LED) tells at a glance
that the microphone goes upstream. `talkbox.gpio` drives these patterns with gpiozero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from talkbox.conversation.actions import State


class LedKind(StrEnum):
    """The kinds of LED talkbox drives (TALKBOX_LED_KIND)."""

    LED = "led"
    """One pin, on or off: states differ by blink rhythm."""
    PWM = "pwm"
    """One pin with PWM: levels and pulsing besides blinking."""
    RGB = "rgb"
    """Three pins (red, green, blue) with PWM: colours."""


class Effect(StrEnum):
    """What the LED does over time."""

    OFF = "off"
    ON = "on"
    """Steady, at `level` (PWM) or in `color` (RGB)."""
    BLINK = "blink"
    """On for `on_s`, off for `off_s`, repeated."""
    PULSE = "pulse"
    """Fade in over `on_s`, out over `off_s`, repeated (PWM and RGB only)."""


Color = tuple[float, float, float]

WHITE: Final[Color] = (1.0, 1.0, 1.0)
BLUE: Final[Color] = (0.0, 0.2, 1.0)
CYAN: Final[Color] = (0.0, 0.8, 0.8)
GREEN: Final[Color] = (0.0, 1.0, 0.2)
RED: Final[Color] = (1.0, 0.0, 0.0)
AMBER: Final[Color] = (1.0, 0.45, 0.0)
MAGENTA: Final[Color] = (0.8, 0.0, 0.8)
YELLOW: Final[Color] = (1.0, 0.85, 0.0)
DIM_WHITE: Final[Color] = (0.12, 0.12, 0.12)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """How one LED shows one state."""

    effect: Effect
    on_s: float = 0.0
    off_s: float = 0.0
    level: float = 1.0
    """Brightness of a steady PWM pattern, before LED_BRIGHTNESS scales it."""
    color: Color = WHITE
    """The colour of an RGB pattern, before LED_BRIGHTNESS scales it."""


def _blink(on_s: float, off_s: float, color: Color = WHITE) -> Pattern:
    return Pattern(effect=Effect.BLINK, on_s=on_s, off_s=off_s, color=color)


def _pulse(fade_in_s: float, fade_out_s: float, color: Color = WHITE) -> Pattern:
    return Pattern(effect=Effect.PULSE, on_s=fade_in_s, off_s=fade_out_s, color=color)


OFF: Final = Pattern(effect=Effect.OFF)
ON: Final = Pattern(effect=Effect.ON)

PATTERNS: Final[Mapping[LedKind, Mapping[State, Pattern]]] = {
    LedKind.LED: {
        State.STARTING: _blink(0.25, 0.25),
        State.IDLE: OFF,
        State.LISTENING: ON,
        State.THINKING: _blink(0.1, 0.1),
        State.SPEAKING: _blink(0.6, 0.2),
        State.MUTED: _blink(0.05, 2.95),  # a brief flash every 3 s
        State.OFFLINE: _blink(1.0, 1.0),
        State.ERROR: _blink(0.05, 0.3),  # a fast stutter
        State.RINGING: _blink(0.35, 0.1),  # long flashes, urgent
    },
    LedKind.PWM: {
        State.STARTING: _pulse(1.0, 1.0),
        State.IDLE: OFF,
        State.LISTENING: ON,
        State.THINKING: _pulse(0.3, 0.3),
        State.SPEAKING: Pattern(effect=Effect.ON, level=0.3),
        State.MUTED: _blink(0.05, 2.95),
        State.OFFLINE: _blink(1.0, 1.0),
        State.ERROR: _blink(0.05, 0.3),
        State.RINGING: _blink(0.35, 0.1),
    },
    LedKind.RGB: {
        State.STARTING: _pulse(1.0, 1.0, WHITE),
        State.IDLE: OFF,
        State.LISTENING: Pattern(effect=Effect.ON, color=BLUE),
        State.THINKING: _pulse(0.3, 0.3, CYAN),
        State.SPEAKING: Pattern(effect=Effect.ON, color=GREEN),
        State.MUTED: Pattern(effect=Effect.ON, color=RED),
        State.OFFLINE: _blink(1.0, 1.0, AMBER),
        State.ERROR: _blink(0.05, 0.3, MAGENTA),
        State.RINGING: _blink(0.35, 0.1, YELLOW),
    },
}
"""kind → state → pattern."""


TIMER_RUNNING: Final[Mapping[LedKind, Pattern]] = {
    LedKind.LED: _blink(0.05, 4.95),  # a brief flash every 5 s, slower than muted's 3 s
    LedKind.PWM: Pattern(effect=Effect.ON, level=0.05),  # a faint glow
    LedKind.RGB: Pattern(effect=Effect.ON, color=DIM_WHITE),
}
"""What `idle` shows instead of OFF while a timer or alarm is set: subtle, and like no state."""


def pattern(kind: LedKind, state: State, *, timers: bool = False) -> Pattern:
    """The pattern `kind` shows in `state` (`timers`: a timer or alarm is set)."""
    if timers and state is State.IDLE:
        return TIMER_RUNNING[kind]
    return PATTERNS[kind][state]
