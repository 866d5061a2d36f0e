"""The steps the transitions share: rest, settle, open or fail a turn, start a timer.

Each returns the next conversation (and actions) without emitting what `apply` adds for a
change of state itself; `talkbox.conversation.transitions` composes them into its handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from talkbox.conversation.actions import (
    Action,
    Earcon,
    FlushPlayback,
    PlayEarcon,
    SendActivityStart,
    SendPreroll,
    StartTimer,
    State,
    Warn,
    WithdrawTurn,
)
from talkbox.conversation.events import Timer
from talkbox.conversation.memory import Conversation, Mode, resting, sends_mic_audio

Step = tuple[Conversation, list[Action]]
Handler = Callable[[Conversation, Any], Step]

AT_REST: Final = frozenset({State.STARTING, State.IDLE, State.MUTED, State.OFFLINE, State.ERROR})
"""The states no turn is under way in."""


def unchanged(c: Conversation) -> Step:
    """Nothing changes."""
    return c, []


def rest(c: Conversation) -> Conversation:
    """No turn under way any more."""
    return replace(
        c,
        state=resting(c),
        turn_id=None,
        upstream=False,
        heard=False,
        by_voice=False,
        answer_in=False,
        follow_up=False,
    )


def settle(c: Conversation) -> Step:
    """Re-rest after a change of link or device status, unless something is under way."""
    if c.state not in AT_REST or c.failure_timer:
        return c, []
    state = resting(c)
    if state is c.state:
        return c, []
    return replace(c, state=state, follow_up=False), []


def start_timer(c: Conversation, timer: Timer, seconds: float) -> tuple[Conversation, StartTimer]:
    """Start `timer`; a newer serial makes any earlier one of its kind stale."""
    serial = c.timer_serial + 1
    c = replace(c, timer_serial=serial)
    if timer is Timer.ANSWER:
        c = replace(c, answer_timer=serial)
    else:
        c = replace(c, failure_timer=serial)
    return c, StartTimer(timer=timer, seconds=seconds, serial=serial)


def abandon(c: Conversation, why: str) -> list[Action]:
    """Stop what is under way without asking for an answer to it."""
    if c.state is State.SPEAKING:
        return [FlushPlayback()]
    if sends_mic_audio(c) or (c.state is State.THINKING and c.turn_id is not None):
        # Not activityEnd, which would ask for an answer to half a sentence and keep it in
        # the conversation: the link takes the turn back, whatever of it went up.
        return [WithdrawTurn(turn_id=c.turn_id, reason=why)]
    return []


def open_turn(c: Conversation, *, by_voice: bool = False) -> Step:
    """Start listening: the start earcon, and in hold mode activityStart with the pre-roll."""
    hold = c.options.mode is Mode.HOLD and not by_voice
    c = replace(
        c,
        state=State.LISTENING,
        turn_id=None,
        upstream=hold,
        heard=False,
        by_voice=by_voice,
        answer_in=False,
        follow_up=False,
        # A person opened it: the follow-ups it may chain are counted afresh.
        follow_ups=0,
    )
    actions: list[Action] = [PlayEarcon(earcon=Earcon.START)]
    if hold:
        actions += [SendActivityStart(), SendPreroll()]
    return c, actions


def refuse(c: Conversation) -> Step:
    """A press that cannot be served: the LED already says why; the earcon says 'not now'."""
    return c, [PlayEarcon(earcon=Earcon.ERROR)]


def pressed(c: Conversation, away: int | None) -> Conversation:
    """A press happened that left turn `away` (None: none) without its answer."""
    return replace(c, pressed_away=(c.pressed_away[1], away))


def fail(c: Conversation, warning: str | None = None) -> Step:
    """The turn failed: error earcon, error pattern for a moment, then rest.

    Once the person heard the error tone the turn is withdrawn: it is never sent (or
    answered) later, after a reconnect.
    """
    actions = abandon(c, warning or "the turn failed")
    c = replace(rest(c), state=State.ERROR)
    c, timer = start_timer(c, Timer.FAILURE_SHOWN, c.options.failure_shown_s)
    actions += [PlayEarcon(earcon=Earcon.ERROR), timer]
    if warning is not None:
        actions.append(Warn(message=warning))
    return c, actions
