"""The ring of a due timer or alarm: its transitions, rows of `TABLE` like any other.

A due timer rings at once, whatever the box is doing: an answer being spoken is cut (as a
press cuts it) and a turn being asked is taken back (as a mute takes it back), since a ring
played while listening would go up with the question, and a timer's worth is its moment.
The ring stops with a press, the wake word or `talkbox ctl stop`, and after RING_S (a
WARNING then says nobody stopped it). Stopping it opens no turn: the box rests. Whatever
else ends `ringing` (a mute, a new conversation) stops the ring too: `apply` derives
`StopRing` on leaving the state, so no row can forget it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from talkbox.conversation.actions import Action, StartRing, StartTimer, State, StopRing, Warn
from talkbox.conversation.events import (
    AudioDeviceFailed,
    ButtonPressed,
    ButtonReleased,
    LongPressed,
    RingDue,
    RingStopRequested,
    Timer,
    TimerFired,
    WakeWordHeard,
)
from talkbox.conversation.memory import Conversation
from talkbox.conversation.steps import AT_REST, Handler, Step, abandon, rest, unchanged


def ring_timer(c: Conversation) -> tuple[Conversation, StartTimer]:
    """Start (or start again) the ring's bound, RING_S."""
    serial = c.timer_serial + 1
    c = replace(c, timer_serial=serial, ring_timer=serial)
    return c, StartTimer(timer=Timer.RING, seconds=c.options.ring_s, serial=serial)


def _ring(c: Conversation, e: RingDue) -> Step:
    actions = abandon(c, "a timer rang")
    c = replace(rest(c), state=State.RINGING, ringing_for=e.labels)
    c, timer = ring_timer(c)
    return c, [*actions, StartRing(labels=e.labels), timer]


def _ring_more(c: Conversation, e: RingDue) -> Step:
    # Another fell due while ringing: one ring for both, each heard for the whole RING_S.
    c, timer = ring_timer(replace(c, ringing_for=c.ringing_for + e.labels))
    return c, [StartRing(labels=e.labels), timer]


def _stop(c: Conversation, reason: str) -> Step:
    # `apply` cancels the ring's bound on leaving the state.
    return rest(c), [StopRing(reason=reason)]


def _pressed(c: Conversation, _e: ButtonPressed) -> Step:
    c, actions = _stop(c, "stopped by a press")
    return replace(c, ring_press=True), actions


def _wake_word(c: Conversation, e: WakeWordHeard) -> Step:
    return _stop(c, f"stopped by the wake word {e.wake_word}")


def _asked(c: Conversation, e: RingStopRequested) -> Step:
    return _stop(c, f"stopped by {e.source}")


def _timed_out(c: Conversation, e: TimerFired) -> Step:
    if e.timer is not Timer.RING or e.serial != c.ring_timer:
        return unchanged(c)
    seconds, what = c.options.ring_s, " and ".join(c.ringing_for) or "a timer"
    c, actions = _stop(c, f"nobody stopped it within {seconds:g} s")
    warning = f"{what} rang for {seconds:g} s and nobody stopped it (TALKBOX_TIMER_RING_S)"
    return c, [*actions, Warn(message=warning)]


def _device_failed(c: Conversation, e: AudioDeviceFailed) -> Step:
    # The LED keeps ringing (a missing microphone or speaker does not stop a timer); the box
    # shows the error once the ring ends.
    return replace(c, broken=c.broken | {e.device}), []


RINGING_ROWS: Final[Mapping[tuple[State, type], Handler]] = {
    **{(s, RingDue): _ring for s in State if s is not State.RINGING},
    (State.RINGING, RingDue): _ring_more,
    (State.RINGING, ButtonPressed): _pressed,
    (State.RINGING, WakeWordHeard): _wake_word,
    (State.RINGING, RingStopRequested): _asked,
    (State.RINGING, TimerFired): _timed_out,
    (State.RINGING, AudioDeviceFailed): _device_failed,
}
"""The ring's rows; `TABLE` takes them last, so they win over rows for every state."""


def _held_on(long_press: Handler) -> Handler:
    """`long_press`, unless the press that stopped a ring is still held: that is no request."""

    def handler(c: Conversation, e: LongPressed) -> Step:
        return unchanged(c) if c.ring_press else long_press(c, e)

    return handler


def _released(c: Conversation, _e: ButtonReleased) -> Step:
    return (replace(c, ring_press=False) if c.ring_press else c), []


def with_ringing(
    rows: Mapping[tuple[State, type], Handler],
) -> dict[tuple[State, type], Handler]:
    """`rows` with the ring's: RINGING_ROWS win over them.

    A press held on after stopping a ring is not taken for a long press (a new
    conversation) once the box rests.
    """
    table = dict(rows)
    for state in AT_REST:
        long_press = table.get((state, LongPressed))
        if long_press is not None:
            table[state, LongPressed] = _held_on(long_press)
        if (state, ButtonReleased) in table:
            raise ValueError(f"a release at rest ({state}) has a row: fold the ring's into it")
        table[state, ButtonReleased] = _released
    table.update(RINGING_ROWS)
    return table


def derived(old: Conversation, new: Conversation, actions: list[Action]) -> list[Action]:
    """`StopRing` when `ringing` ends by a row that did not say it (a mute, a new conversation)."""
    left = old.state is State.RINGING and new.state is not State.RINGING
    if left and not any(isinstance(a, StopRing) for a in actions):
        return [StopRing(reason="stopped: the box left ringing")]
    return []
