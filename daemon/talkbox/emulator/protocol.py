"""Wire-format helpers: key casing, base64 alphabets, message kinds, close reasons, durations."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

JsonDict = dict[str, Any]

#: The most a close reason may carry: a control frame holds 125 bytes, 2 of them the code.
MAX_REASON_BYTES = 123

#: The reason the service gives for any client message it cannot accept (close 1007).
INVALID_ARGUMENT = "Request contains an invalid argument."
#: The reason of a 1008 close for something unknown (a handle, a tool call id).
NOT_FOUND = "Requested entity was not found"
#: The reason of a 1011 close when the backend is unavailable.
UNAVAILABLE = "The service is currently unavailable."

#: Deepest nesting of objects and lists accepted in a client frame. Protobuf's JSON parser
#: refuses more than 100 levels; refusing it here also keeps every recursive walk (key
#: renaming, the shape check, the log) far from Python's recursion limit.
MAX_DEPTH = 100

#: Input audio rates accepted (Hz): telephone to studio; anything else is refused 1007
#: (a rate of 0 would divide by zero, a tiny one would make the echo enormous).
MIN_AUDIO_RATE = 8_000
MAX_AUDIO_RATE = 48_000
DEFAULT_AUDIO_RATE = 16_000

#: The fields of realtimeInput; a message carries exactly one of them (live-protocol §2.2).
REALTIME_FIELDS = (
    "audio",
    "mediaChunks",
    "video",
    "activityStart",
    "activityEnd",
    "audioStreamEnd",
    "text",
)

#: Keys whose values are caller data (function arguments, schemas), never renamed.
OPAQUE_KEYS = frozenset(
    {"args", "response", "parameters", "parametersJsonSchema", "responseJsonSchema", "schema"}
)

#: Client message names, in the snake_case form the SDK sends, keyed by their camelCase form.
CLIENT_MESSAGES = {
    "setup": "setup",
    "realtimeInput": "realtime_input",
    "clientContent": "client_content",
    "toolResponse": "tool_response",
    "contextUpdate": "context_update",
}

#: Top-level server message names the SDK copies (everything else is dropped by its converter).
SERVER_MESSAGES = (
    "setupComplete",
    "serverContent",
    "toolCall",
    "toolCallCancellation",
    "goAway",
    "sessionResumptionUpdate",
    "voiceActivityDetectionSignal",
    "voiceActivity",
)

_SNAKE_PART = re.compile(r"_([a-z0-9])")


class ProtocolError(ValueError):
    """A client frame the service would refuse (not JSON, not an object, wrong shape)."""


def camel(key: str) -> str:
    """The lowerCamelCase form of a proto field name given in either casing."""
    return _SNAKE_PART.sub(lambda m: m.group(1).upper(), key)


def normalise(value: Any) -> Any:
    """Rename every structural key to camelCase at every depth, as proto3 JSON parsing allows.

    Raises ProtocolError when two keys name the same field (`realtime_input` beside
    `realtimeInput`): proto parsing refuses a field given twice.
    """
    if isinstance(value, dict):
        out: JsonDict = {}
        for key, item in value.items():
            name = camel(key) if isinstance(key, str) else key
            if name in out:
                raise ProtocolError(f"Invalid JSON payload received. {INVALID_ARGUMENT}")
            out[name] = item if name in OPAQUE_KEYS else normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def parse_frame(frame: str | bytes) -> JsonDict:
    """Parse one client frame as sent (the casing the client used is kept)."""
    try:
        parsed = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"Invalid JSON payload received. {exc}") from exc
    except RecursionError:
        # The C decoder gives up on very deep nesting before our own depth check can run.
        raise ProtocolError("Invalid JSON payload received. Nested too deeply.") from None
    if not isinstance(parsed, dict):
        raise ProtocolError("Invalid JSON payload received. Expected an object.")
    if _deeper_than(parsed, MAX_DEPTH):
        raise ProtocolError("Invalid JSON payload received. Nested too deeply.")
    return parsed


def _deeper_than(value: Any, limit: int) -> bool:
    # Iterative, so the check itself cannot hit the recursion limit it protects against.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return False


def message_name(message: JsonDict) -> str:
    """The one client message a normalised frame holds (`setup`, `realtimeInput`, ...).

    Raises ProtocolError when it holds none, several, or a name the service does not know,
    as proto parsing of a BidiGenerateContentClientMessage would.
    """
    names = list(message)
    if len(names) != 1 or names[0] not in CLIENT_MESSAGES:
        raise ProtocolError(INVALID_ARGUMENT)
    return names[0]


def realtime_field(body: JsonDict) -> str:
    """The one realtimeInput field a normalised body sets; ProtocolError unless exactly one.

    A null value counts as unset (proto3 JSON), so `{"text": null}` sets nothing.
    """
    unknown = [key for key in body if key not in REALTIME_FIELDS]
    present = [key for key in REALTIME_FIELDS if body.get(key) is not None]
    if unknown or len(present) != 1:
        raise ProtocolError(INVALID_ARGUMENT)
    return present[0]


def decode_b64(text: str) -> bytes:
    """Decode base64 in the standard or URL-safe alphabet, padded or not (proto3 JSON rules)."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error as exc:
        raise ProtocolError(f"Invalid value at 'data' (TYPE_BYTES), {exc}") from exc


def encode_b64(data: bytes, *, urlsafe: bool = False) -> str:
    """Encode bytes as the service does (standard alphabet, padded), or URL-safe on request."""
    if urlsafe:
        return base64.urlsafe_b64encode(data).decode("ascii")
    return base64.b64encode(data).decode("ascii")


def client_kind(message: JsonDict, name: str | None = None, field: str | None = None) -> str:
    """The log kind of a normalised client message, e.g. `realtime_input.activityStart`.

    `name` and `field` are its message_name and realtime_field when the caller has them. A
    realtimeInput's kind names the field realtime_field picks (its first key if none).
    """
    if name is None:
        name = next((n for n in CLIENT_MESSAGES if n in message), None)
        if name is None:
            return "unknown"
    kind = CLIENT_MESSAGES[name]
    body = message[name]
    if name == "realtimeInput" and isinstance(body, dict) and body:
        if field is None:
            try:
                field = realtime_field(body)
            except ProtocolError:
                field = next(iter(body))
        return f"{kind}.{field}"
    return kind


def server_kind(message: JsonDict) -> str:
    """The log kind of a server message, e.g. `serverContent.modelTurn` or `goAway`."""
    for name in SERVER_MESSAGES:
        if name in message:
            body = message[name]
            if name == "serverContent" and isinstance(body, dict) and body:
                return f"{name}.{next(iter(body))}"
            return name
    if "usageMetadata" in message:
        return "usageMetadata"
    return "unknown"


def truncate_reason(reason: str) -> str:
    """Cut a close reason to 123 bytes of UTF-8 without splitting a character, like Google."""
    raw = reason.encode("utf-8")
    if len(raw) <= MAX_REASON_BYTES:
        return reason
    return raw[:MAX_REASON_BYTES].decode("utf-8", errors="ignore")


def duration_text(seconds: float) -> str:
    """A proto Duration in JSON form: `50s`, `0.250s`, `9.500s`."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


def audio_rate(mime_type: str) -> int:
    """The sample rate of an `audio/...;rate=N` MIME type (16 kHz when unstated, per the docs).

    Raises ProtocolError for a type that is not audio or a rate outside 8-48 kHz.
    """
    kind, *parameters = (part.strip() for part in mime_type.split(";"))
    if not kind.lower().startswith("audio/"):
        raise ProtocolError(f"Invalid value at 'mime_type'. {INVALID_ARGUMENT}")
    rate = DEFAULT_AUDIO_RATE
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "rate":
            value = value.strip()
            # Bounded length first: int() refuses strings of thousands of digits.
            digits = value.isascii() and value.isdigit() and len(value) <= 6
            if not digits or not MIN_AUDIO_RATE <= int(value) <= MAX_AUDIO_RATE:
                raise ProtocolError(f"Invalid value at 'mime_type' (rate). {INVALID_ARGUMENT}")
            rate = int(value)
    return rate
