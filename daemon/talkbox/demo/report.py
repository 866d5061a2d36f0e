"""What the demo prints: the LED timeline and the turn's figures (pure formatting).

The timeline is the appliance's own record: each state it showed on the LED (`Timeline`,
kept by `RecordingIndicator` around the real LED adapter), the trigger's marks (press,
release, question spoken), and the LED pins' levels as gpiozero's mock pins recorded them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from talkbox.appliance.status import LastTurn
from talkbox.conversation import (
    AMBER,
    BLUE,
    CYAN,
    GREEN,
    MAGENTA,
    RED,
    WHITE,
    YELLOW,
    Color,
    Effect,
    LedKind,
    State,
)
from talkbox.conversation import pattern as led_pattern
from talkbox.ports import Indicator

PinLevels = Sequence[tuple[float, float]]
"""(monotonic time, level 0-1) of each state of one pin."""

COLOURS: Mapping[Color, str] = {
    WHITE: "white",
    BLUE: "blue",
    CYAN: "cyan",
    GREEN: "green",
    RED: "red",
    AMBER: "amber",
    MAGENTA: "magenta",
    YELLOW: "yellow",
}
EFFECTS: Mapping[Effect, str] = {
    Effect.OFF: "off",
    Effect.ON: "steady",
    Effect.BLINK: "blinking",
    Effect.PULSE: "pulsing",
}


@dataclass(slots=True)
class Timeline:
    """The states the appliance showed and the trigger's marks, in monotonic time."""

    states: list[tuple[float, State]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, at: float, what: str) -> None:
        """Note that `what` happened at `at`."""
        self.marks.append((at, what))

    def first(self, state: State, *, after: float = float("-inf")) -> float | None:
        """When the appliance first showed `state` after `after`, if it did."""
        return next((at for at, shown in self.states if shown is state and at >= after), None)


class RecordingIndicator:
    """The `Indicator` port around a real one: notes each state shown, then shows it."""

    def __init__(
        self, inner: Indicator, timeline: Timeline, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Show on `inner`; note each state in `timeline`."""
        self._inner = inner
        self._timeline = timeline
        self._clock = clock
        self._timers = False

    def show(self, state: State, *, timers: bool = False) -> None:
        """Note `state` (and whether a timer is set, when that changes), then show its pattern."""
        at = self._clock()
        self._timeline.states.append((at, state))
        if timers != self._timers:
            self._timers = timers
            said = "set: idle shows its timer pattern" if timers else "set any more"
            self._timeline.marks.append((at, f"a timer is {'' if timers else 'not '}{said}"))
        self._inner.show(state, timers=timers)

    def close(self) -> None:
        """Turn the LED off and release its pins."""
        self._inner.close()


def _describe(state: State) -> str:
    shown = led_pattern(LedKind.RGB, state)
    if shown.effect is Effect.OFF:
        return "off"
    colour = COLOURS.get(shown.color, "a colour")
    return f"{colour}, {EFFECTS[shown.effect]}"


def _pins_between(pins: Sequence[PinLevels], start: float, end: float) -> tuple[list[float], int]:
    """Each pin's highest level within [start, end) and how many changes the pins made there."""
    peaks, changes = [], 0
    for history in pins:
        # The first entry is the level when the history began, not a change.
        inside = [level for at, level in history[1:] if start <= at < end]
        held = next((level for at, level in reversed(history) if at < end), 0.0)
        changes += len(inside)
        peaks.append(max([*inside, held]))
    return peaks, changes


def timeline_lines(
    timeline: Timeline, pins: Sequence[PinLevels], *, zero: float, since: float
) -> list[str]:
    """The LED timeline from `since` on, times relative to `zero` (the press)."""
    shown = [(at, state) for at, state in timeline.states if at >= since]
    before = [(at, state) for at, state in timeline.states if at < since]
    if before:
        shown.insert(0, (since, before[-1][1]))  # the state the LED was in at `since`
    rows: list[tuple[float, str]] = [(at, f"      {what}") for at, what in timeline.marks]
    for index, (at, state) in enumerate(shown):
        end = shown[index + 1][0] if index + 1 < len(shown) else float("inf")
        peaks, changes = _pins_between(pins, at, end)
        levels = "/".join(f"{peak:.2f}" for peak in peaks)
        rows.append(
            (
                at,
                f"{state:<10} LED {_describe(state):<16} pins R/G/B max {levels}, "
                f"{changes} change{'s' if changes != 1 else ''}",
            )
        )
    rows.sort(key=lambda row: row[0])
    return [f"  {at - zero:+7.3f} s  {text}" for at, text in rows]


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if abs(ms) < 10 else f"{ms:.0f} ms"


def _between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


@dataclass(frozen=True, slots=True, kw_only=True)
class Wire:
    """When the service side saw the turn (known with the emulator only), monotonic s."""

    activity_end: float | None
    first_audio_sent: float | None


def figure_lines(
    timeline: Timeline,
    turn: LastTurn,
    *,
    zero: float,
    opened_by: str,
    speech_end: float,
    played_s: float,
    earcons: bool,
    wire: Wire | None,
) -> list[str]:
    """The turn's figures: what the LED timeline, the link's facts and the wire say.

    `zero` is when the turn was asked for, by what `opened_by` names (the press).
    """
    listening = timeline.first(State.LISTENING, after=zero)
    thinking = timeline.first(State.THINKING, after=zero)
    speaking = timeline.first(State.SPEAKING, after=zero)
    idle = timeline.first(State.IDLE, after=speaking) if speaking is not None else None
    spoke = _between(speaking, idle)
    rows = [
        (f"{opened_by} → LED listening", _ms(_between(zero, listening))),
        ("end of speech → turn closed (VAD)", f"{_ms(_between(speech_end, thinking))} (≈)"),
    ]
    if wire is not None:
        end, first = wire.activity_end, wire.first_audio_sent
        rows.append(("  turn closed → activityEnd on the wire", _ms(_between(thinking, end))))
        rows.append(("  activityEnd → first answer chunk sent", _ms(_between(end, first))))
    rows += [
        ("turn sent → first answer audio (link)", _ms(turn.first_audio_s)),
        ("turn closed → LED speaking", _ms(_between(thinking, speaking))),
        ("answer audio", f"{turn.audio_s:.2f} s at 24 kHz"),
        ("LED speaking for", "-" if spoke is None else f"{spoke:.2f} s"),
        ("turn sent → answer complete (link)", f"{turn.duration_s:.2f} s"),
        ("played (answer.wav)", f"{played_s:.2f} s{', earcons included' if earcons else ''}"),
    ]
    if turn.transcript:
        rows.append(("transcript", turn.transcript))
    width = max(len(name) for name, _ in rows)
    return [f"  {name:<{width}}  {value}" for name, value in rows]
