"""What a failure means: classify() reads what the SDK or websockets raised.

It returns an Outcome: retry (with what kind of wait), resume, or stop for a person to act.
TLS failures are outages, named for what they look like (a clock not yet set, a captive
portal). Pure, the time given as an argument. The table is docs/live-protocol.md §5.1.
"""

from __future__ import annotations

import json
import ssl
import traceback
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from talkbox.config.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from google.genai import errors as genai_errors
    from websockets.exceptions import InvalidStatus


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
    # Here, not at the top: the link imports google.genai (and websockets) after READY=1.
    from google.genai import errors as genai_errors
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

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
