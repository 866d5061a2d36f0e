"""When to leave a connection on purpose: the GoAway deadline and end_connection().

Pure, the time given as an argument (docs/live-protocol.md §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# A GoAway whose time left cannot be read is believed to leave this long.
GOAWAY_ASSUMED_S = 10.0
# The most of a GoAway's time left kept for closing and reconnecting before the server cuts.
GOAWAY_MARGIN_S = 5.0
GOAWAY_MARGIN_SHARE = 0.25


def go_away_deadline(time_left_s: float | None, now: float) -> tuple[float, float]:
    """(the time left to believe, when to have left) for a GoAway received at `now`."""
    left = GOAWAY_ASSUMED_S if time_left_s is None else time_left_s
    # Leave a margin for closing and reconnecting before the server cuts us.
    margin = min(GOAWAY_MARGIN_S, left * GOAWAY_MARGIN_SHARE)
    return left, now + max(0.0, left - margin)


class EndReason(StrEnum):
    """Why the link leaves a connection on purpose (the words go into the log)."""

    NEW_CONVERSATION = "new conversation requested"
    """The conversation is being left: the next connection starts a fresh one."""
    GOAWAY = "GoAway"
    """The server announced the end of the connection and no turn is under way."""
    GOAWAY_DEADLINE = "GoAway deadline reached mid-turn"
    """The turn under way did not finish before the GoAway margin ran out."""
    IDLE = "idle"
    """Nothing happened for TALKBOX_IDLE_DISCONNECT_S; the next turn reconnects."""
    WITHDRAWN = "a turn was withdrawn; resuming the conversation as it was before it"
    """Part of a withdrawn turn went up: the service would keep (and answer) it, so the
    connection is left and the handle from before the turn resumed."""


@dataclass(frozen=True, slots=True)
class Leave:
    """End the connection now, for `why`."""

    why: EndReason


@dataclass(frozen=True, slots=True)
class WakeIn:
    """Keep the connection; look again after `seconds` (None: when something changes)."""

    seconds: float | None


# Woken this much after a deadline, so the deadline has passed when it is checked.
WAKE_SLACK_S = 0.001


def end_connection(
    *,
    now: float,
    restart_requested: bool,
    withdrawn: bool = False,
    go_away_deadline: float | None,
    between_turns: bool,
    idle_disconnect_s: float,
    quiet: bool,
    last_activity: float,
    handle_due_at: float | None,
    answer_due_at: float | None = None,
) -> Leave | WakeIn:
    """Whether to leave the connection (new conversation, withdrawal, GoAway, idle), or when.

    After a GoAway the link leaves between turns, or at the deadline mid-turn. An idle
    connection is closed `idle_disconnect_s` after the last activity (0: never) while
    `quiet`. A handle that is due (`handle_due_at`) makes the caller look again when its
    wait ends, since nothing announces that it is not coming; so does an answer whose end
    is due (`answer_due_at`, the ledger's bounded wait), since it may never come either.
    """
    if restart_requested:
        return Leave(EndReason.NEW_CONVERSATION)
    if withdrawn:
        return Leave(EndReason.WITHDRAWN)
    wake: list[float] = []
    if go_away_deadline is not None:
        if between_turns:
            return Leave(EndReason.GOAWAY)
        if now >= go_away_deadline:
            return Leave(EndReason.GOAWAY_DEADLINE)
        wake.append(go_away_deadline - now)
    if idle_disconnect_s > 0 and quiet:
        idle_left = last_activity + idle_disconnect_s - now
        if idle_left <= 0:
            return Leave(EndReason.IDLE)
        wake.append(idle_left)
    for due in (handle_due_at, answer_due_at):
        if due is not None:
            wake.append(due - now)
    return WakeIn(max(0.0, min(wake)) + WAKE_SLACK_S if wake else None)
