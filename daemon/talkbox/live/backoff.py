"""The reconnect policy: what failures mean, how long to wait, when to leave a connection.

classify() reads an exception the SDK or websockets raised and returns an Outcome; Backoff
turns a sequence of outcomes into delays with injected randomness; ResumeProbe says when to
try once without the handle; end_connection() and go_away_deadline() say when to leave a
connection on purpose. All pure, the time given as an argument. The table they implement is
docs/live-protocol.md §5.1.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import traceback
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from google.genai import errors as genai_errors
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from talkbox.config.models import DEFAULT_MODEL


class NextStep(StrEnum):
    """What the link does after a connection ended."""

    RESUME = "resume"
    """Transient (network, 1006, 1011, malformed frame): reconnect with the handle, backoff."""
    RESUME_NOW = "resume_now"
    """Orderly end (1000, ignored GoAway): reconnect with the handle at once."""
    QUOTA = "quota"
    """Quota or concurrency limit: long backoff, honour Retry-After."""
    FRESH = "fresh"
    """The handle was refused: drop it and start a fresh conversation."""
    ENDED = "ended"
    """The service ended the conversation itself (e.g. context exhausted): fresh next turn."""
    FATAL = "fatal"
    """Configuration or credentials: stop, tell a person, retry only rarely."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The meaning of one failure: the action and the reason to log (the server's words)."""

    action: NextStep
    reason: str
    retry_after_s: float | None = None
    unreached: bool = False
    """The failure came before the session was reached (network, TLS, HTTP): nothing in it
    is about the resumption handle, so it earns no probe without it."""


_QUOTA_WORDS = ("resource_exhausted", "quota", "rate limit", "maximum concurrent", "too many")
_CONFIG_WORDS = (
    "not found for api version",
    "not supported",
    "not implemented",
    "denied access",
    "permission",
)
_KEY_WORDS = ("api key", "api_key", "location is not supported", "unauthenticated")
_HANDLE_GONE_WORDS = ("requested entity was not found", "session not found", "handle")
RETIRED_HINT = (
    f"the model is retired or the API version is wrong: set TALKBOX_MODEL (default {DEFAULT_MODEL})"
)
"""Added to a 1008 "not found for API version" (docs/live-models.md §1.3)."""
# The setting behind a 1007 during setup, told by the service's words (docs/live-models.md
# §2); the first match names it.
_SETUP_CULPRITS = (
    ("thinking level", "TALKBOX_THINKING_LEVEL or TALKBOX_MODEL"),
    ('"proactivity"', "TALKBOX_PROACTIVE_AUDIO"),
    ("affective", "TALKBOX_AFFECTIVE_DIALOG"),
    ("blocking function calls", "TALKBOX_MODEL"),
    ("function response scheduling", "TALKBOX_MODEL"),
    ("response modalit", "TALKBOX_MODEL"),
    ("unknown name", "TALKBOX_MODEL or TALKBOX_API_VERSION"),
)


class SetupTimedOut(TimeoutError):
    """The service accepted the connection but sent no setupComplete in time."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"no setupComplete within {timeout_s:g}s")


class ServiceSilent(TimeoutError):
    """A turn waited for its answer and the service sent nothing at all for too long."""

    def __init__(self, silent_s: float) -> None:
        self.silent_s = silent_s
        super().__init__(f"no message from the service for {silent_s:g}s while a turn waited")


def classify(
    exc: BaseException,
    *,
    during_setup: bool,
    sent_handle: bool,
    now: float | None = None,
) -> Outcome:
    """Map an exception from connect/receive/send to what the link should do about it.

    `during_setup` is true when the connection never reached setupComplete, `sent_handle`
    when that connection's setup carried a resumption handle.
    """
    if isinstance(exc, (SetupTimedOut, ServiceSilent)):
        # A setup that never completes is a failed connection like any other.
        return Outcome(NextStep.RESUME, str(exc))
    # SSLCertVerificationError is also an OSError and a ValueError: test it first.
    if isinstance(exc, ssl.SSLError):
        # An outage, not a setting: a captive portal or proxy answering the ClientHello, a
        # clock not yet set at boot (no RTC) all pass by themselves (docs/live-protocol.md
        # §5.1). The line says which it looks like.
        return Outcome(NextStep.RESUME, tls_reason(exc, now), unreached=True)
    if isinstance(exc, InvalidStatus):
        return replace(_classify_http(exc, now), unreached=True)
    if isinstance(exc, genai_errors.APIError):
        return _classify_close(exc.code, _details(exc), during_setup, sent_handle)
    if isinstance(exc, ConnectionClosed):
        # A send on a socket the server closed: websockets' own exception, not wrapped.
        if exc.rcvd is None:
            return Outcome(NextStep.RESUME, "connection lost (1006)")
        return _classify_close(exc.rcvd.code, exc.rcvd.reason, during_setup, sent_handle)
    if isinstance(exc, InvalidHandshake):
        # Not HTTP, bad upgrade headers: a proxy or a service hiccup, not our config.
        return Outcome(NextStep.RESUME, f"handshake failed: {exc}", unreached=True)
    if isinstance(exc, (OSError, TimeoutError, EOFError)):
        return Outcome(NextStep.RESUME, f"network: {exc!r}", unreached=during_setup)
    if isinstance(exc, (ValueError, TypeError)):
        # The SDK raises these for frames it cannot parse (docs/live-protocol.md §1.5); an
        # error body without a numeric code becomes a TypeError about comparing None, so
        # the service's own words are read from the frame the SDK was reading.
        unread = _unread_frame(exc)
        if unread is not None:
            return unread
        return Outcome(NextStep.RESUME, f"malformed server message: {exc}")
    return Outcome(NextStep.RESUME, f"unexpected: {exc!r}")


BUILT_AT = datetime(2026, 12, 1, tzinfo=UTC)
"""No earlier than this talkbox was built: a clock before it is a clock not yet set."""
_CERT_NOT_YET_VALID = 9
"""OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID."""
_PLAIN_TEXT_ANSWERS = ("wrong version number", "record layer failure", "http request")
"""What OpenSSL says when the ClientHello is answered by something that does not speak TLS."""


def tls_reason(exc: ssl.SSLError, now: float | None) -> str:
    """The journal's words for a TLS failure: what failed, and what it most likely means."""
    reason = f"TLS failure: {exc}"
    if now is not None and now < BUILT_AT.timestamp():
        clock = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"{reason}; the system clock says {clock}, before this talkbox was built "
            f"({BUILT_AT:%Y-%m-%d}): the clock is not set yet (no RTC, no NTP yet); "
            "TLS works once it is"
        )
    if getattr(exc, "verify_code", None) == _CERT_NOT_YET_VALID:
        return f"{reason}; the certificate is not valid yet by this clock: is the clock behind?"
    if any(words in str(exc).lower() for words in _PLAIN_TEXT_ANSWERS):
        return f"{reason}; something that does not speak TLS answered (a captive portal, a proxy?)"
    return reason


def _unread_frame(exc: BaseException) -> Outcome | None:
    """What a frame the SDK failed to read says (None: `exc` did not come from reading one).

    An error body in the service's words, else the frame itself.
    `google.genai.live.AsyncSession._receive` holds the parsed frame as `response` when it
    raises; the traceback keeps that frame alive.
    """
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if code.co_name != "_receive" or frame.f_globals.get("__name__") != "google.genai.live":
            continue
        body = frame.f_locals.get("response")
        if not isinstance(body, dict) or not body:
            return None
        error = body.get("error", body)
        error = error if isinstance(error, dict) else {}
        parts = [str(error[key]) for key in ("code", "status") if error.get(key) is not None]
        message = " ".join(str(error.get("message") or "").split())[:300]
        if not parts and not message:
            shown = json.dumps(body, ensure_ascii=False)[:200]
            return Outcome(NextStep.RESUME, f"malformed server message: an unknown message {shown}")
        reason = " ".join(["service error", *parts]) + (f": {message}" if message else "")
        quota = "429" in parts or any(word in reason.lower() for word in _QUOTA_WORDS)
        return Outcome(NextStep.QUOTA if quota else NextStep.RESUME, reason)
    return None


def _details(exc: genai_errors.APIError) -> str:
    details = exc.details
    if isinstance(details, str):
        return details
    if exc.message:
        return str(exc.message)
    return str(details)


def _classify_close(
    code: int | None, reason: str, during_setup: bool, sent_handle: bool
) -> Outcome:
    text = f"{code} {reason}".strip()
    low = reason.lower()
    if code == 1000:
        return Outcome(NextStep.RESUME_NOW, text)
    if code == 1011 or (code is not None and 500 <= code < 600):
        if any(word in low for word in _QUOTA_WORDS):
            return Outcome(NextStep.QUOTA, text)
        return Outcome(NextStep.RESUME, text)
    if code == 1008:
        if "goaway" in low.replace(" ", ""):
            return Outcome(NextStep.RESUME_NOW, text)
        if "not found for api version" in low:
            return Outcome(NextStep.FATAL, f"{text}: {RETIRED_HINT}")
        if "publisher model" in low and during_setup:
            # Vertex: a regional model asked for where it is not served.
            return Outcome(NextStep.FATAL, f"{text}: set TALKBOX_VERTEX_LOCATION or TALKBOX_MODEL")
        if any(word in low for word in _CONFIG_WORDS):
            return Outcome(NextStep.FATAL, text)
        if any(word in low for word in _HANDLE_GONE_WORDS) or (during_setup and sent_handle):
            return Outcome(NextStep.FRESH, text)
        if during_setup:
            return Outcome(NextStep.FATAL, text)
        return Outcome(NextStep.ENDED, text)
    if code == 1007:
        if any(word in low for word in _KEY_WORDS):
            return Outcome(NextStep.FATAL, text)
        culprit = next((name for words, name in _SETUP_CULPRITS if words in low), None)
        if during_setup and culprit is not None:
            # The words name our setup, not a resumed state: fatal, with or without a handle.
            return Outcome(NextStep.FATAL, f"{text} (the setup was refused: check {culprit})")
        if during_setup and sent_handle:
            # Right after a handle the likeliest culprit is the resumed state.
            return Outcome(NextStep.FRESH, text)
        if during_setup:
            # Our setup message, which retrying cannot fix; `check` names what it refuses.
            return Outcome(NextStep.FATAL, f"{text} (the setup was refused: run talkbox check)")
        return Outcome(NextStep.ENDED, text)
    if code is not None and 400 <= code < 500:
        if code == 429:
            return Outcome(NextStep.QUOTA, text)
        return Outcome(NextStep.FATAL, text)
    # 1001, 1006, 1012-1014, private 4xxx codes: the connection went away, the session did not.
    return Outcome(NextStep.RESUME, text)


def _classify_http(exc: InvalidStatus, now: float | None) -> Outcome:
    status = exc.response.status_code
    body = _body_summary(bytes(exc.response.body or b""))
    text = f"HTTP {status}" + (f": {body}" if body else "")
    if status == 429:
        retry_after = _retry_after(exc.response.headers.get("Retry-After"), now)
        return Outcome(NextStep.QUOTA, text, retry_after)
    if status in (400, 401, 403, 404):
        return Outcome(NextStep.FATAL, text)
    return Outcome(NextStep.RESUME, text)


def _body_summary(body: bytes) -> str:
    """One short line from a refusal body: Google's JSON error message, else the text itself.

    The reason ends up in one journal line; a pretty-printed JSON body would become many.
    """
    text = body.decode("utf-8", "replace").strip()
    try:
        error = json.loads(text).get("error")
        message = str(error["message"]).strip()
    except (ValueError, AttributeError, TypeError, KeyError):
        return " ".join(text.split())[:300]
    status = error.get("status")
    return f"{message} ({status})" if status else message


def _retry_after(value: str | None, now: float | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now is None:
        return None
    return max(0.0, when.timestamp() - now)


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
