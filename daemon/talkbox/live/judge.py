"""The retry loop's verdicts: what the link makes of a connection that started or ended.

`LiveLink` (link.py) runs the loop; each connection it opens is told to the `Judge` when its
setup completes (`connected`, then `requeue`) and when it ends (`ended`, then `judge` for a
failure). The judge keeps the backoff, the outage and the resume probe (backoff.py), reports
each verdict (report.py), and settles the turns a connection leaves through the link's calls
back.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from talkbox.live.backoff import Backoff, Outage, ResumeProbe, RetryPolicy
from talkbox.live.connection import Connection
from talkbox.live.failures import NextStep, Outcome
from talkbox.live.handles import StoredConversation
from talkbox.live.report import LinkReport
from talkbox.live.turn import Turn
from talkbox.live.turns import Requeued, TurnLedger

log = logging.getLogger("talkbox.live.link")
"""The verdicts' lines keep the logger they have always had."""


@dataclass
class Verdict:
    """How the retry loop goes on after a failed connection."""

    delay_s: float
    """How long to wait before the next attempt."""
    reconnect: bool
    """Whether to connect again without waiting for a turn."""


@dataclass
class JudgeSide:
    """The link as its judge sees it: what outlives connections, and five calls back."""

    ledger: TurnLedger
    report: LinkReport
    conversation: StoredConversation
    clock: Callable[[], float]
    resume: bool
    """Whether the settings resume conversations (TALKBOX_RESUME)."""
    complete: Callable[[Turn, float], None]
    """A turn's answer all arrived before its connection ended: it is answered."""
    turn_done: Callable[[Turn], None]
    fail_turn: Callable[[Turn, str], None]
    fail_pending: Callable[[str], None]
    cancel_restart: Callable[[], bool]
    """Forget a new conversation asked for "after this turn"; True if one was."""


class Judge:
    """Backoff, outage and resume probe, applied to each connection's start and end."""

    def __init__(self, side: JudgeSide, policy: RetryPolicy, rng: random.Random) -> None:
        self.side = side
        self.policy = policy
        self.backoff = Backoff(policy, rng)
        self.outage = Outage(policy)
        self.probe = ResumeProbe()

    def connected(self, conn: Connection) -> None:
        """A connection's setup completed: end an outage, a probe, a lost conversation."""
        side = self.side
        conversation = side.conversation
        probed = self.probe.connected()
        if probed is not None:
            # Resuming failed again and again, and without the handle the service answers.
            old_id = conversation.id
            conversation.forget()
            side.report.resume_abandoned(probed, old_id, conversation.id)
        if conn.handle is None:
            left = conversation.connected_fresh()
            if left is not None:
                side.report.fresh_after_loss(*left, conversation.id)
        outage = self.outage.connected(side.clock())
        if outage is not None:
            side.report.back_online(*outage)

    def requeue(self) -> None:
        """On a new connection: the turns still pending go again, a turn cut too often fails."""
        side = self.side
        ledger = side.ledger
        for turn in ledger.rebuild_outbox():
            if turn.id not in ledger.turns:
                continue  # failed meanwhile: a deferred restart took the turns after it
            match ledger.requeue(turn):
                case Requeued.GIVE_UP:
                    side.fail_turn(turn, f"cut {turn.attempts} times by lost connections")
                case Requeued.RESENT:
                    side.report.resent(turn)
                case Requeued.FIRST:
                    pass

    def ended(self, conn: Connection) -> None:
        """A connection ended, however: settle the turns it leaves; a long one was stable."""
        side = self.side
        ledger = side.ledger
        whole = ledger.fully_answered()
        for turn in whole:
            # All of its answer arrived and is playing: it is answered, not asked again.
            side.report.whole_before_end(turn)
            side.complete(turn, side.clock())
        resumable = side.conversation.handle is not None
        handle_missed = ledger.awaiting_handle_since is not None or whole
        if handle_missed and side.resume and resumable:
            # The handle that would include the last answered turn never arrived; resuming
            # the one before it continues a conversation that lacks that turn.
            log.warning(
                "connection ended before the handle covering the last turn arrived; the "
                "resumed conversation may not remember it"
            )
        lived = side.clock() - conn.opened_at
        if conn.setup_done and lived >= self.policy.stable_after_s:
            self.backoff.reset()
            self.outage.stable()
        cut = ledger.connection_lost()
        if cut is not None:
            # The server's answer was cut; it will not be finished on another connection.
            side.turn_done(cut)

    def judge(self, conn: Connection, outcome: Outcome) -> Verdict:
        """Apply the policy to a failed connection: the wait, and whether to reconnect."""
        side = self.side
        delay = self.backoff.delay(outcome)
        self.probe.failed(outcome, setup_done=conn.setup_done, sent_handle=conn.handle is not None)
        reason = outcome.reason
        conversation = side.conversation
        match outcome.action:
            case NextStep.FATAL:
                side.ledger.refusing = reason
                side.report.fatal(reason, delay)
                if side.cancel_restart():
                    conversation.forget()
                # The ERROR line above already says why; one line per problem, not per turn.
                side.fail_pending(reason)
                return Verdict(delay, reconnect=True)
            case NextStep.FRESH:
                conversation.forget()
                side.report.handle_refused(
                    reason, conversation.id, sent_handle=conn.handle is not None
                )
                return Verdict(delay, reconnect=True)
            case NextStep.ENDED:
                side.report.conversation_ending(reason, conversation.id)
                # Forgotten just below anyway: no restart waits for a turn of this one.
                side.cancel_restart()
                side.fail_pending(f"the service ended the conversation: {reason}")
                conversation.forget()
                side.report.conversation_ended(reason, conversation.id)
                return Verdict(0.0, reconnect=False)
            case _:
                now = side.clock()
                # A connection that was set up failed now; one that never was, from its start.
                began = now if conn.setup_done else conn.opened_at
                step = self.outage.failed(began_at=began, now=now, retry_in_s=delay)
                if step.give_up:
                    # Someone waits for an answer (ask): one ERROR line, the turns fail, and
                    # the next turn tries again.
                    why = side.report.gave_up(reason, step)
                    side.fail_pending(why)
                    return Verdict(0.0, reconnect=False)
                side.report.lost(reason, delay, during_setup=not conn.setup_done, outage=step)
                return Verdict(delay, reconnect=True)
