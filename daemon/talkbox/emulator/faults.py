"""Faults: what can go wrong on the wire, one grammar for Python and the command line.

A fault spec is ``KIND[:key=value,...][@TRIGGER]``::

    close:code=1011,reason=Internal error occurred.@turn=2
    close:preset=deadline@t=1.5
    abort@msg=3
    reject_upgrade:status=429,retry_after=30@conn=1-3
    goaway:time_left=0.5,then=silence@t=0.2
    omit_generation_complete@turn=1-
    tool_call:name=get_weather,args={"city": "Paris"}@turn=1

TRIGGER is a comma-separated list of

* ``t=S``      -- S seconds after the connection opened (the upgrade completed);
* ``msg=N``    -- right after the N-th client message of a connection (setup is message 1);
* ``turn=N``   -- during turn N of the conversation (numbering continues across resumed
  connections); instant faults fire after the turn's first answer chunk;
* ``conn=N``   -- only on connection attempt N (every upgrade request counts, refused or not);
* ``times=K``  -- fire at most K times in all (0 = no limit);
* ``at=first_audio|generated`` -- with ``turn``: where in the turn an instant fault fires,
  after its first answer chunk (the default) or right after its ``generationComplete``.

``msg``, ``turn`` and ``conn`` take ``N``, ``A-B`` or ``A-`` (A and every later one). Without
``times`` a fault whose trigger names single values fires once; one with a range, or with no
trigger at all, fires at every match. Without ``t``/``msg``/``turn`` a fault acts at its own
natural point: upgrade faults at the upgrade, turn-shape faults on every turn, handle faults
at the next resume, and instant faults (close, abort, goaway...) during setup, before
``setupComplete``. Parameter values may not contain ``,`` or ``@`` except inside a JSON
object or list (``args={...}``); the last ``@`` outside one starts the trigger.

Kinds (parameters and defaults):

* ``close:code=1011,reason=TEXT,preset=NAME`` -- close with a code and reason (truncated to
  123 bytes); presets: {presets}.
* ``abort`` -- drop the TCP connection without a close frame (the SDK reports 1006).
* ``reject_upgrade:status=503,retry_after=S,body=TEXT`` -- refuse the HTTP upgrade.
* ``quota:max=1,via=close|http`` -- at most ``max`` at once per key: with ``via=close``
  sessions (the next is closed 1011 RESOURCE_EXHAUSTED during setup); with ``via=http``
  open connections, counted from the 101 answer (the next upgrade is refused with HTTP 429).
* ``goaway:time_left=1,text=DURATION,then=close|silence|nothing`` -- send ``goAway`` now; then
  close 1008 when the time is up, go silent and close then, or do nothing more.
* ``no_goaway`` -- cut the connection at the end of its lifetime without a GoAway first.
* ``stall:s=5`` -- send nothing, process nothing and answer no ping for S seconds.
* ``delay_pong:s=25`` -- answer each ping S seconds late (the client's keepalive times out).
* ``reject_handle:code=1008,reason=TEXT`` -- refuse resumes with a handle (every one, unless
  limited: ``reject_handle@times=1`` refuses just the next).
* ``expire_handles`` -- every handle issued so far expires (at its trigger, or else when a
  client next resumes).
* ``withhold_updates`` / ``unresumable`` -- no ``sessionResumptionUpdate`` at all / only
  non-resumable ones (``{{}}``) for the matching turns.
* ``omit_generation_complete``, ``omit_usage``, ``usage_separate`` (usage in its own message),
  ``no_turn_complete``, ``waiting_for_input``, ``interrupted_with_turn_complete`` -- turn shapes.
* ``turn_complete_reason:reason=NEED_MORE_INPUT`` -- turnComplete says why the turn ended
  (any value: ``GENERATED_AUDIO_SAFETY`` or ``PROHIBITED_INPUT_CONTENT`` for a safety block,
  ``MALFORMED_FUNCTION_CALL``, ...).
* ``interaction_status:status=IDLE`` -- turnComplete carries this interactionStatus instead
  of the model's own (any value, also one the SDK does not know: ``WAITING_FOR_INPUT``).
* ``no_interaction_status`` -- turnComplete without the interactionStatus the 3.x models send.
* ``interrupt:after_ms=0`` -- the server interrupts its own answer (``interrupted`` then
  ``turnComplete``) after that much answer audio.
* ``tool_call:name=NAME,args=JSON`` -- the turn starts with a call of that function.
* ``tool_call_cancellation`` -- cancel the pending tool call of the turn from the server side.
* ``first_audio_delay:s=1`` -- wait before the first answer chunk.
* ``malformed:shape=non_json|empty|snake_case|unknown_only|error_body|code_only|oversize`` --
  send one broken frame.
* ``text_frames`` / ``urlsafe_b64`` -- send text instead of binary frames / URL-safe base64.
* ``delay_setup:s=1`` / ``no_setup_complete`` / ``setup_first`` -- answer setup late, never, or
  with another message first.
* ``periodic_handles:s=2`` -- a resumable handle every S seconds, turns or not, resumption
  asked for or not (as the translation model does).
* ``voice_activity`` -- ``voiceActivity`` ACTIVITY_START/ACTIVITY_END messages when automatic
  detection hears speech start and end (gemini-3.8-live and extended thinking send them by
  themselves; the other rows only with this fault).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from typing import Any

from talkbox.emulator.protocol import INVALID_ARGUMENT, NOT_FOUND, UNAVAILABLE, truncate_reason

GOAWAY_IGNORED_REASON = (
    "Connection aborted because the client failed to close the connection after receiving "
    "a GoAway signal once the session durat"
)

#: The real close codes and reasons seen from the service (docs/live-protocol.md §4.6).
CLOSE_PRESETS: dict[str, tuple[int, str]] = {
    "normal": (1000, ""),
    "invalid_argument": (1007, INVALID_ARGUMENT),
    "key_invalid": (1007, "API key not valid. Please pass a valid API key."),
    "key_expired": (1007, "API key expired. Please renew the API key."),
    "location": (1007, "User location is not supported for the API use."),
    "not_found": (1008, NOT_FOUND),
    "not_implemented": (1008, "Operation is not implemented, or supported, or enabled."),
    "denied": (1008, "Your project has been denied access."),
    "goaway_ignored": (1008, GOAWAY_IGNORED_REASON),
    "internal": (1011, "Internal error occurred."),
    "deadline": (1011, "Deadline expired before operation could complete."),
    "unavailable": (1011, UNAVAILABLE),
    "rpc_deadline": (
        1011,
        "Request trace id: 434a1f2042ea7643, [ORIGINAL ERROR] RPC::DEADLINE_EXCEEDED: ",
    ),
    "overloaded": (
        1011,
        "Request trace id: 21d399562688c813, [ORIGINAL ERROR] "
        "extensible_stubs::OVERLOADED_TOO_MANY_RETRIES_PER_REQUEST: You are most likely "
        "sending too many requests",
    ),
    "resource_exhausted": (
        1011,
        "Request trace id: f102afa6f090070d, [ORIGINAL ERROR] generic::resource_exhausted: "
        "RESOURCE_EXHAUSTED: Maximum concurrent sessions exceeded",
    ),
}

__doc__ = (__doc__ or "").replace("{presets}", ", ".join(CLOSE_PRESETS)).replace("{{}}", "{}")


class Point(StrEnum):
    """Where a fault without a t/msg/turn trigger acts."""

    UPGRADE = "upgrade"
    SETUP = "setup"
    TURN = "turn"
    RESUME = "resume"
    CONNECTION = "connection"


# Turn-shape kinds and their parameters' defaults (a default's type is the parameter's type).
_TURN_SHAPES: dict[str, dict[str, Any]] = {
    "withhold_updates": {},
    "unresumable": {},
    "omit_generation_complete": {},
    "omit_usage": {},
    "usage_separate": {},
    "no_turn_complete": {},
    "waiting_for_input": {},
    "turn_complete_reason": {"reason": "NEED_MORE_INPUT"},
    "interaction_status": {"status": "IDLE"},
    "no_interaction_status": {},
    "interrupted_with_turn_complete": {},
    "interrupt": {"after_ms": 0.0},
    "tool_call": {"name": "", "args": "{}"},
    "tool_call_cancellation": {},
    "first_audio_delay": {"s": 1.0},
}

# kind -> (natural point, {param: default}).
_KINDS: dict[str, tuple[Point, dict[str, Any]]] = {
    "close": (Point.SETUP, {"code": 1011, "reason": "", "preset": ""}),
    "abort": (Point.SETUP, {}),
    "reject_upgrade": (Point.UPGRADE, {"status": 503, "retry_after": 0.0, "body": ""}),
    "quota": (Point.UPGRADE, {"max": 1, "via": "close"}),
    "goaway": (Point.SETUP, {"time_left": 1.0, "text": "", "then": "close"}),
    "no_goaway": (Point.CONNECTION, {}),
    "stall": (Point.SETUP, {"s": 5.0}),
    "delay_pong": (Point.CONNECTION, {"s": 25.0}),
    "reject_handle": (Point.RESUME, {"code": 1008, "reason": NOT_FOUND}),
    "expire_handles": (Point.RESUME, {}),
    "malformed": (Point.SETUP, {"shape": "non_json"}),
    "text_frames": (Point.CONNECTION, {}),
    "urlsafe_b64": (Point.CONNECTION, {}),
    "delay_setup": (Point.SETUP, {"s": 1.0}),
    "no_setup_complete": (Point.SETUP, {}),
    "setup_first": (Point.SETUP, {}),
    "periodic_handles": (Point.CONNECTION, {"s": 2.0}),
    "voice_activity": (Point.CONNECTION, {}),
    **{kind: (Point.TURN, defaults) for kind, defaults in _TURN_SHAPES.items()},
}

#: Faults that switch a connection's behaviour from the moment they fire.
FLAG_KINDS = frozenset(
    {
        "no_goaway",
        "delay_pong",
        "text_frames",
        "urlsafe_b64",
        "periodic_handles",
        "voice_activity",
    }
)
#: Faults that act once, at the moment they fire (flags included).
INSTANT_KINDS = (
    frozenset({"close", "abort", "goaway", "stall", "malformed", "expire_handles"}) | FLAG_KINDS
)
TURN_SHAPE_KINDS = frozenset(_TURN_SHAPES)
#: Faults that only make sense at their natural point (upgrade, setup, resume).
CONNECTION_ONLY_KINDS = frozenset(
    {"reject_upgrade", "quota", "reject_handle", "delay_setup", "no_setup_complete", "setup_first"}
)
MALFORMED_SHAPES = (
    "non_json",
    "empty",
    "snake_case",
    "unknown_only",
    "error_body",
    "code_only",
    "oversize",
)
REFUSABLE_STATUSES = frozenset({400, 401, 403, 404, 429, 500, 503})
#: Where in a turn an instant fault with a ``turn`` trigger fires (the first is the default).
TURN_MOMENTS = ("first_audio", "generated")


def kinds() -> list[str]:
    """Every fault kind the emulator knows."""
    return sorted(_KINDS)


@dataclass(frozen=True)
class Span:
    """An inclusive range of 1-based numbers; `last` None means open-ended."""

    first: int
    last: int | None

    @classmethod
    def parse(cls, text: str) -> Span:
        """`N`, `A-B` or `A-`."""
        first, sep, last = text.partition("-")
        try:
            lo = int(first)
            hi = (int(last) if last else None) if sep else lo
        except ValueError:
            raise ValueError(f"bad number range {text!r} (want N, A-B or A-)") from None
        if lo < 1 or (hi is not None and hi < lo):
            raise ValueError(f"bad number range {text!r} (numbers start at 1, A <= B)")
        return cls(lo, hi)

    @property
    def single(self) -> bool:
        """True when the span names exactly one number."""
        return self.last == self.first

    def __contains__(self, number: object) -> bool:
        """Whether `number` lies in the span."""
        if not isinstance(number, int):
            return False
        return self.first <= number and (self.last is None or number <= self.last)

    def __str__(self) -> str:
        """The spec form."""
        if self.single:
            return str(self.first)
        return f"{self.first}-{'' if self.last is None else self.last}"


@dataclass(frozen=True)
class Trigger:
    """When a fault fires: time, client message, conversation turn, connection, count."""

    t: float | None = None
    msg: Span | None = None
    turn: Span | None = None
    conn: Span | None = None
    times: int | None = None
    at: str | None = None

    @classmethod
    def parse(cls, text: str) -> Trigger:
        """Parse `t=1.5,conn=2-,times=3`."""
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key in values:
                raise ValueError(f"bad trigger item {item!r} (want key=value, each key once)")
            if key == "t":
                values["t"] = _float(key, value)
                if values["t"] < 0:
                    raise ValueError("t must be >= 0")
            elif key in ("msg", "turn", "conn"):
                values[key] = Span.parse(value)
            elif key == "times":
                values["times"] = _int(key, value)
                if values["times"] < 0:
                    raise ValueError("times must be >= 0")
            elif key == "at":
                if value not in TURN_MOMENTS:
                    raise ValueError(f"at must be one of {', '.join(TURN_MOMENTS)}")
                values["at"] = value
            else:
                raise ValueError(f"unknown trigger {key!r} (want t, msg, turn, conn, times, at)")
        if sum(key in values for key in ("t", "msg", "turn")) > 1:
            raise ValueError("use at most one of t, msg, turn in a trigger")
        if "at" in values and "turn" not in values:
            raise ValueError("at= places a fault within a turn: use it with turn=")
        return cls(**values)

    @property
    def moment(self) -> str:
        """Where in a turn a turn-triggered instant fault fires."""
        return self.at or TURN_MOMENTS[0]

    @property
    def limit(self) -> int:
        """How many times the fault may fire (0 = no limit)."""
        if self.times is not None:
            return self.times
        spans = [s for s in (self.msg, self.turn, self.conn) if s is not None]
        if self.t is None and not spans:
            return 0
        return 1 if all(s.single for s in spans) else 0

    def __str__(self) -> str:
        """The spec form (empty when there is no trigger)."""
        parts = []
        if self.t is not None:
            parts.append(f"t={self.t:g}")
        for key in ("msg", "turn", "conn"):
            span = getattr(self, key)
            if span is not None:
                parts.append(f"{key}={span}")
        if self.times is not None:
            parts.append(f"times={self.times}")
        if self.at is not None:
            parts.append(f"at={self.at}")
        return ",".join(parts)


@dataclass
class Fault:
    """One armed fault: a kind, its parameters and its trigger; counts its own firings."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger = field(default_factory=Trigger)
    fired: int = 0
    #: The parameters the spec named (a default given explicitly still counts as given).
    given: frozenset[str] = field(default=frozenset(), init=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the kind and fill and type-check the parameters."""
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(kinds())})")
        _, defaults = _KINDS[self.kind]
        self.given = frozenset(self.params)
        typed: dict[str, Any] = dict(defaults)
        for key, value in self.params.items():
            if key not in defaults:
                allowed = ", ".join(defaults) or "none"
                raise ValueError(f"{self.kind} has no parameter {key!r} (allowed: {allowed})")
            typed[key] = _convert(key, value, type(defaults[key]))
        self.params = typed
        self._validate()

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse `KIND[:key=value,...][@TRIGGER]`."""
        body, trigger_text = _split_trigger(spec.strip())
        kind, _, param_text = body.partition(":")
        if not kind:
            raise ValueError(f"bad fault spec {spec!r} (want KIND[:key=value,...][@TRIGGER])")
        return cls(kind.strip(), _split_params(param_text), Trigger.parse(trigger_text))

    @classmethod
    def make(
        cls,
        kind: str,
        *,
        t: float | None = None,
        msg: int | str | None = None,
        turn: int | str | None = None,
        conn: int | str | None = None,
        times: int | None = None,
        at: str | None = None,
        **params: Any,
    ) -> Fault:
        """Build a fault in Python: `Fault.make("close", code=1011, turn=2)`."""
        spans = {
            key: Span.parse(str(value))
            for key, value in (("msg", msg), ("turn", turn), ("conn", conn))
            if value is not None
        }
        return cls(kind, params, Trigger(t=t, times=times, at=at, **spans))

    @property
    def point(self) -> Point:
        """Where this fault acts when its trigger names no t, msg or turn."""
        return _KINDS[self.kind][0]

    @property
    def exhausted(self) -> bool:
        """True once the fault has fired as its trigger allows."""
        limit = self.trigger.limit
        return limit != 0 and self.fired >= limit

    def matches_connection(self, conn: int) -> bool:
        """Whether connection attempt `conn` is one this fault may act on."""
        return self.trigger.conn is None or conn in self.trigger.conn

    def close_code_reason(self) -> tuple[int, str]:
        """The code and (truncated) reason of a close or handle rejection."""
        code = int(self.params.get("code", 1011))
        reason = str(self.params.get("reason", ""))
        preset = str(self.params.get("preset", ""))
        if preset:
            preset_code, preset_reason = CLOSE_PRESETS[preset]
            code = code if "code" in self.given else preset_code
            reason = reason or preset_reason
        return code, truncate_reason(reason)

    @property
    def args(self) -> dict[str, Any]:
        """The parsed JSON `args` of a tool_call fault."""
        value = json.loads(str(self.params.get("args", "{}")))
        if not isinstance(value, dict):
            raise ValueError("tool_call args must be a JSON object")
        return value

    def __str__(self) -> str:
        """The spec form of this fault."""
        _, defaults = _KINDS[self.kind]
        params = ",".join(
            f"{k}={_format(v)}"
            for k, v in self.params.items()
            if k in self.given or v != defaults[k]
        )
        trigger = str(self.trigger)
        return self.kind + (f":{params}" if params else "") + (f"@{trigger}" if trigger else "")

    def _validate(self) -> None:
        p = self.params
        trigger = self.trigger
        if self.kind in CONNECTION_ONLY_KINDS and (
            trigger.t is not None or trigger.msg is not None or trigger.turn is not None
        ):
            raise ValueError(f"{self.kind} acts at its own moment; its trigger takes conn, times")
        if self.kind in TURN_SHAPE_KINDS and (trigger.t is not None or trigger.msg is not None):
            raise ValueError(f"{self.kind} shapes a turn; its trigger takes turn, conn, times")
        if self.kind == "close":
            if p["preset"] and p["preset"] not in CLOSE_PRESETS:
                raise ValueError(f"unknown close preset {p['preset']!r}")
            if not (1000 <= p["code"] <= 4999) or p["code"] in (1004, 1005, 1006, 1015):
                raise ValueError(f"close code {p['code']} cannot be sent in a close frame")
        if self.kind == "reject_upgrade" and p["status"] not in REFUSABLE_STATUSES:
            allowed = ", ".join(map(str, sorted(REFUSABLE_STATUSES)))
            raise ValueError(f"reject_upgrade status must be one of {allowed}")
        if self.kind == "quota" and (p["max"] < 0 or p["via"] not in ("close", "http")):
            raise ValueError("quota wants max >= 0 and via=close or via=http")
        if self.kind == "goaway" and p["then"] not in ("close", "silence", "nothing"):
            raise ValueError("goaway then= must be close, silence or nothing")
        if self.kind == "malformed" and p["shape"] not in MALFORMED_SHAPES:
            raise ValueError(f"malformed shape must be one of {', '.join(MALFORMED_SHAPES)}")
        if self.kind == "tool_call":
            if not p["name"]:
                raise ValueError("tool_call needs name=")
            _ = self.args
        for key in ("s", "time_left", "after_ms", "retry_after"):
            if key in p and (p[key] < 0 or not math.isfinite(p[key])):
                raise ValueError(f"{key} must be a finite number >= 0")


def _top_level(text: str, char: str) -> list[int]:
    """Where `char` occurs in `text` outside any JSON value ({...} or [...])."""
    depth = 0
    found = []
    for i, c in enumerate(text):
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif c == char and depth == 0:
            found.append(i)
    return found


def _split_trigger(spec: str) -> tuple[str, str]:
    # The last `@` outside a JSON value starts the trigger.
    ats = _top_level(spec, "@")
    return (spec, "") if not ats else (spec[: ats[-1]], spec[ats[-1] + 1 :])


def _split_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    bounds = [-1, *_top_level(text, ","), len(text)]
    pieces = [text[start + 1 : end] for start, end in pairwise(bounds)]
    for piece in pieces:
        if not piece.strip():
            continue
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad fault parameter {piece!r} (want key=value)")
        params[key.strip()] = value
    return params


def _convert(key: str, value: Any, kind: type) -> Any:
    if kind is int:
        return _int(key, value) if isinstance(value, str) else int(value)
    if kind is float:
        return _float(key, value) if isinstance(value, str) else float(value)
    if key == "args" and not isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key} must be an integer, not {value!r}") from None


def _float(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number, not {value!r}") from None


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
