"""How long to wait before reconnecting, and when the box counts as offline.

Backoff turns outcomes into delays with injected randomness, Outage says when the box is
offline, ResumeProbe when to try once without the handle. Pure, the time given as an
argument (docs/live-protocol.md §5.1).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from enum import StrEnum

from talkbox.live.failures import NextStep, Outcome


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The numbers of the reconnect policy (tests shrink them to fractions of a second)."""

    base_s: float = 0.5
    cap_s: float = 30.0
    factor: float = 2.0
    quota_base_s: float = 30.0
    quota_cap_s: float = 120.0
    fatal_retry_s: float = 300.0
    stable_after_s: float = 10.0
    """A connection that lived this long resets the backoff."""
    retry_after_cap_s: float = 3600.0
    """The longest Retry-After obeyed: a longer (or absurd) one waits this long instead."""
    setup_timeout_s: float = 15.0
    """The longest a connection may take from the first byte to setupComplete.

    The SDK's connect() awaits the first frame without a bound. websockets' open timeout
    (10 s) covers TCP, TLS and the upgrade; the service answers setup in about a second, so
    15 s in all is a connection that failed, not a slow one.
    """
    offline_after_s: float = 60.0
    """Failing this long in a row is an outage: failures log at WARNING, the link is offline.

    A minute outlasts a GoAway rotation, a quota wait and a few quick reconnects, so
    `journalctl -p warning` shows only a box that stays unreachable.
    """
    answer_silence_s: float = 30.0
    """The longest the service may send nothing while a sent turn waits for its answer to start.

    A stalled connection answers no ping either, but websockets' keepalive (30 s interval,
    60 s timeout: session_config.py) would notice only after up to 90 s. The first answer
    audio comes within a few seconds, so 30 s of nothing is a dead connection: reconnect and
    ask again. (Once the answer is under way, the ledger bounds the wait for its end.)
    """
    give_up_after_s: float | None = None
    """Give up (fail pending turns, one ERROR line) once failing would outlast this; None: never.

    The daemon never gives up. `talkbox ask`, which someone waits for, sets 30 s.
    """


class Backoff:
    """Jittered, capped exponential backoff over consecutive failures."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self._rng = rng
        self.failures = 0

    def reset(self) -> None:
        """Forget past failures (a connection has been stable)."""
        self.failures = 0

    def delay(self, outcome: Outcome) -> float:
        """Seconds to wait before the next attempt after `outcome`; counts the failure."""
        n = self.failures
        self.failures += 1
        p = self.policy
        match outcome.action:
            case NextStep.FATAL:
                return p.fatal_retry_s
            case NextStep.ENDED:
                return 0.0
            case NextStep.RESUME_NOW | NextStep.FRESH if n == 0:
                # One immediate retry; if that fails too, back off like any other failure.
                return 0.0
            case NextStep.QUOTA if outcome.retry_after_s is not None:
                # The server said when it takes us again: asking sooner earns another
                # refusal, and the quota backoff's own guess (doubling per failure) would
                # outlast it. The cap guards against a broken header, the floor against a
                # loop on "Retry-After: 0".
                return max(p.base_s, min(outcome.retry_after_s, p.retry_after_cap_s))
            case NextStep.QUOTA:
                return self._jittered(p.quota_base_s, p.quota_cap_s, n)
            case _:
                return self._jittered(p.base_s, p.cap_s, n)

    def _jittered(self, base: float, cap: float, n: int) -> float:
        # "Equal jitter": the ceiling doubles per failure and the delay is drawn from its
        # upper half, so successive waits grow yet clients that failed together spread out.
        ceiling = min(cap, base * self.policy.factor ** min(n, 32))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class OutageStep:
    """What one more failed connection means for the outage it belongs to."""

    failures: int
    """Failed connections in a row, this one included."""
    lasted_s: float
    """Seconds since the first of them began."""
    level: int
    """The level of its log line: INFO while the outage is young, WARNING once offline."""
    offline: bool
    """The outage has lasted `offline_after_s`."""
    give_up: bool
    """Waiting for the next attempt would outlast `give_up_after_s`."""


class Outage:
    """Failed connections in a row since the link last had a stable one (pure, clock given).

    A connection that finishes setup and is cut soon after does not end an outage: a box
    whose every connection aborts is as one that cannot connect. Only a stable
    connection (`RetryPolicy.stable_after_s`, the backoff's own rule) ends it.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.since: float | None = None
        """When the first failed connection of the outage began (None: no outage)."""
        self.failures = 0
        self.offline = False
        """The outage reached `offline_after_s` and no connection has finished setup since."""

    def failed(self, *, began_at: float, now: float, retry_in_s: float) -> OutageStep:
        """Count a connection that began at `began_at` and failed at `now`."""
        if self.since is None:
            self.since = began_at
        self.failures += 1
        lasted = now - self.since
        p = self.policy
        if lasted >= p.offline_after_s:
            self.offline = True
        give_up = p.give_up_after_s is not None and lasted + retry_in_s > p.give_up_after_s
        return OutageStep(
            failures=self.failures,
            lasted_s=lasted,
            level=logging.WARNING if self.offline else logging.INFO,
            offline=self.offline,
            give_up=give_up,
        )

    def connected(self, now: float) -> tuple[float, int] | None:
        """A connection finished setup; (how long, how many failures) if the link was offline."""
        if not self.offline or self.since is None:
            return None
        self.offline = False
        return now - self.since, self.failures

    def stable(self) -> None:
        """A connection proved stable: the outage, if any, is over."""
        self.since = None
        self.failures = 0
        self.offline = False


def silence_left(*, now: float, awaiting: bool, quiet_since: float, limit_s: float) -> float | None:
    """Seconds until the service's silence counts as a failure (<= 0: it does); None: no wait.

    `awaiting`: a turn is fully sent and no answer to it has begun; `quiet_since`: the later
    of the last message received and the last one sent (a tool response restarts the wait).
    """
    if not awaiting:
        return None
    return quiet_since + limit_s - now


class ProbeState(StrEnum):
    """Where the one probe without the resumption handle stands."""

    NONE = "none"
    """Not earned: resuming has not failed often enough."""
    NOW = "now"
    """The next connection leaves the handle out."""
    SPENT = "spent"
    """Tried, and the service failed without the handle too: keep the handle."""


# Transient setup failures in a row while resuming that earn one try without the handle.
PROBE_AFTER_FAILURES = 2


class ResumeProbe:
    """After repeated transient setup failures while resuming, try once without the handle.

    The rule is docs/live-protocol.md §5.1: a service that fails every resumption but
    accepts a fresh session cannot serve the handle (or the session behind it).
    """

    def __init__(self) -> None:
        self.state = ProbeState.NONE
        self.failures = 0
        """Setup failures in a row while resuming."""

    @property
    def skip_handle(self) -> bool:
        """Whether the next connection goes without the handle."""
        return self.state is ProbeState.NOW

    def failed(self, outcome: Outcome, *, setup_done: bool, sent_handle: bool) -> None:
        """Count one ended connection."""
        if self.state is ProbeState.NOW:
            # The service fails without the handle too: it is the service, keep the handle.
            self.state = ProbeState.SPENT
            return
        if setup_done or not sent_handle or outcome.action is not NextStep.RESUME:
            return
        if outcome.unreached:
            # A network or TLS outage says nothing about the handle: leaving it out when the
            # network returns would end the conversation for nothing.
            return
        self.failures += 1
        if self.failures >= PROBE_AFTER_FAILURES and self.state is ProbeState.NONE:
            self.state = ProbeState.NOW

    def connected(self) -> int | None:
        """A connection finished setup; the failures the probe answered, if it was one."""
        answered = self.failures if self.state is ProbeState.NOW else None
        self.failures = 0
        self.state = ProbeState.NONE
        return answered
