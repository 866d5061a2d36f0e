"""The emulated model: deterministic answers, transcripts and tool-call choices."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from talkbox.emulator.session import Tokens

OUTPUT_RATE = 24_000
OUTPUT_MIME = "audio/pcm;rate=24000"
_NOTE_S = 0.08
_MAX_PHRASE_S = 8.0
_EMPTY_REPLY_BYTES = OUTPUT_RATE // 10 * 2
#: The longest text echoed back in a transcript: a client may send megabytes of text, and
#: every server message must stay well under the SDK's 1 MiB limit.
MAX_TRANSCRIPT_CHARS = 2_000


@dataclass
class UserTurn:
    """One user turn as the model receives it: audio (at `rate`) or text.

    `tool_result` names the non-blocking function whose late result starts this turn (the
    model speaks on its own then; nobody said anything).
    """

    kind: Literal["audio", "text"]
    audio: bytearray = field(default_factory=bytearray)
    rate: int = 16_000
    text: str = ""
    tokens: Tokens = field(default_factory=Tokens)
    tool_result: str | None = None

    @property
    def seconds(self) -> float:
        """Length of the turn's audio."""
        return len(self.audio) / 2 / self.rate


@dataclass(frozen=True)
class Answer:
    """What the model says back: 24 kHz PCM and a one-line description of it."""

    pcm: bytes
    description: str

    @property
    def seconds(self) -> float:
        """Length of the answer audio."""
        return len(self.pcm) / 2 / OUTPUT_RATE


def input_transcript(turn: UserTurn) -> str:
    """`audio N.NN s` for an audio turn, the text itself (cut to 2000 characters) for text."""
    if turn.kind == "audio":
        return f"audio {turn.seconds:.2f} s"
    if len(turn.text) <= MAX_TRANSCRIPT_CHARS:
        return turn.text
    return turn.text[: MAX_TRANSCRIPT_CHARS - 3] + "..."


def answer(turn: UserTurn) -> Answer:
    """The echo of an audio turn (resampled to 24 kHz) or a tone phrase for a text turn."""
    if turn.kind == "audio":
        # An empty turn still gets an answer (a moment of silence), as a real model would say
        # something; a turn with no answer audio would look like a broken stream.
        pcm = resample(bytes(turn.audio), turn.rate, OUTPUT_RATE) or bytes(_EMPTY_REPLY_BYTES)
        return Answer(pcm, f"echo of {turn.seconds:.2f} s of audio")
    pcm = tone_phrase(turn.text)
    quoted = turn.text if len(turn.text) <= 40 else turn.text[:37] + "..."
    return Answer(pcm, f'tone phrase of {len(pcm) / 2 / OUTPUT_RATE:.2f} s for "{quoted}"')


def output_transcript(number: int, reply: Answer) -> str:
    """`turn N: <description>`; N proves which turn of the conversation this is."""
    return f"turn {number}: {reply.description}"


def resample(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    """Resample 16-bit mono PCM by linear interpolation (bytes in, bytes out).

    An echo only has to be recognisable and of the right length, so linear interpolation is
    enough and keeps the answer identical on every platform.
    """
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    if rate_in == rate_out or samples.size == 0:
        return samples.tobytes()
    count = round(samples.size * rate_out / rate_in)
    positions = np.arange(count) * (rate_in / rate_out)
    out = np.interp(positions, np.arange(samples.size), samples.astype(np.float64))
    result: bytes = np.round(out).astype("<i2").tobytes()
    return result


def tone_phrase(text: str) -> bytes:
    """A short phrase of 80 ms notes, one per character (at least three), pitch from each."""
    notes = max(3, min(len(text), int(_MAX_PHRASE_S / _NOTE_S)))
    n = int(_NOTE_S * OUTPUT_RATE)
    t = np.arange(n) / OUTPUT_RATE
    # Short fades keep the note edges from clicking.
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.005 * OUTPUT_RATE))
    parts = []
    for i in range(notes):
        code = ord(text[i]) if i < len(text) else 0x20 + i
        freq = 330.0 * 2 ** ((code % 24) / 12)
        parts.append(np.sin(2 * math.pi * freq * t) * ramp * 8000.0)
    return np.concatenate(parts).astype("<i2").tobytes()


def chunks(pcm: bytes, chunk_ms: int) -> list[bytes]:
    """Split 24 kHz PCM into chunks of `chunk_ms` (the last may be shorter)."""
    size = max(2, int(OUTPUT_RATE * chunk_ms / 1000) * 2)
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def text_chunks(text: str, size: int = 24) -> list[str]:
    """Split an answer text into pieces of about `size` characters, at spaces.

    The real service streams a text answer as several modelTurn parts (the recorded tools
    session shows two in a row), so a client must join them; joined, they give `text` back.
    """
    pieces: list[str] = []
    # Words with the spaces after them, so the pieces join back to exactly `text`.
    for word in re.split(r"(?<=\s)(?=\S)", text):
        if pieces and len(pieces[-1]) + len(word) <= size:
            pieces[-1] += word
        else:
            pieces.append(word)
    return pieces


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit samples (0 for no samples)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def named_function(text: str, declared: list[str]) -> str | None:
    """The first declared function whose name the text mentions (words or snake_case)."""
    lowered = text.lower()
    for name in declared:
        # Whole words only, in both forms: `f` is not in "of France", nor `set_timer` in
        # "reset timers".
        for form in (name.lower(), name.lower().replace("_", " ")):
            if re.search(rf"\b{re.escape(form)}\b", lowered):
                return name
    return None


_UNITS = {"h": "hours", "m": "minutes", "s": "seconds"}
_SPAN = re.compile(r"(\d+)\s*(hours?|hrs?|minutes?|mins?|seconds?|secs?)\b")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?")
_NAMED = re.compile(r"\b(?:an?|the|my)\s+([a-z][a-z ]{0,30}?)\s+(?:timer|alarm)\b")
_NOT_NAMES = {"new", "second", "other", "all"}


_NUMBER_WORDS = {
    word: str(number)
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {
    "thirty": "30",
    "forty": "40",
    "forty five": "45",
    "fifty": "50",
    "sixty": "60",
    "ninety": "90",
}


def _digits(text: str) -> str:
    """Number words as digits ("forty five minutes" → "45 minutes", "a minute" → "1 minute")."""
    text = text.replace("-", " ")
    for word in sorted(_NUMBER_WORDS, key=len, reverse=True):
        text = re.sub(rf"\b{word}\b", _NUMBER_WORDS[word], text)
    return re.sub(r"\b(?:a|an|one)\s+(hour|minute|second)\b", r"1 \1", text)


def _spans(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for amount, unit in _SPAN.findall(text):
        key = _UNITS[unit[0]]
        found[key] = found.get(key, 0) + int(amount)
    return found


def _name(text: str) -> dict[str, object]:
    match = _NAMED.search(text)
    if match is None or match.group(1) in _NOT_NAMES:
        return {}
    return {"name": match.group(1)}


def timer_call(text: str, declared: list[str]) -> tuple[str, dict[str, object]] | None:
    """The timer tool call (name, args) the model makes for a request in `text`, if any.

    Arguments are what the model sends: whole numbers of hours, minutes and seconds, a
    24-hour "HH:MM", a name only when one was said. Recognized: "set a pasta timer for 9
    minutes", "wake me at 7:30", "how long is left", "add 2 minutes to the pasta timer",
    "cancel the pasta timer" (and "cancel all timers"); amounts in digits or words up to
    twenty (and 30, 40, 45, 50, 60, 90; "a minute").
    """
    lowered = _digits(text.lower())
    call: tuple[str, dict[str, object]] | None = None
    if re.search(r"\b(cancel|delete|remove)\b", lowered) and re.search(r"timer|alarm", lowered):
        args: dict[str, object] = {"all": True} if re.search(r"\ball\b", lowered) else {}
        call = ("cancel_timer", args or _name(lowered))
    elif re.search(r"how (long|much time)|\bleft\b|which timers|what timers|list", lowered):
        call = ("list_timers", {})
    elif re.search(r"\b(add|extend|another)\b", lowered) and _spans(lowered):
        call = ("change_timer", {**_spans(lowered), **_name(lowered)})
    elif re.search(r"\bwake me\b|\balarm\b", lowered):
        clock = _CLOCK.search(lowered.split(" at ", 1)[-1])
        if clock is not None:
            hour, minute = int(clock.group(1)), int(clock.group(2) or 0)
            if clock.group(3) and clock.group(3).startswith("p") and hour < 12:
                hour += 12
            call = ("set_alarm", {"time": f"{hour:02d}:{minute:02d}", **_name(lowered)})
    elif re.search(r"\btimer\b", lowered) and _spans(lowered):
        call = ("set_timer", {**_spans(lowered), **_name(lowered)})
    if call is None or call[0] not in declared:
        return None
    return call


#: Words that make a sentence a request about the home: what a model hands to a home tool.
HOME_REQUEST = re.compile(
    r"\b(turn|switch) (on|off)\b|\b(open|close|lock|unlock|dim)\b"
    r"|\bis the [\w ]+ (on|off|open|closed|locked|unlocked)\b",
    re.IGNORECASE,
)


def request_parameter(declaration: dict[str, object]) -> str | None:
    """The name of a function's only parameter when it is a string (a request in words)."""
    parameters = declaration.get("parameters")
    if not isinstance(parameters, dict):
        return None
    properties = parameters.get("properties")
    if not isinstance(properties, dict) or len(properties) != 1:
        return None
    ((name, schema),) = properties.items()
    kind = schema.get("type", "") if isinstance(schema, dict) else ""
    return str(name) if str(kind).upper() == "STRING" else None


def home_call(
    text: str, declarations: dict[str, dict[str, object]]
) -> tuple[str, dict[str, str]] | None:
    """A home request ("turn on the kitchen light") as the call a model makes of it.

    The function is one whose description says it is for the home and whose only parameter
    is a string; the model passes the person's words in it, as a model hands a request on.
    """
    if not HOME_REQUEST.search(text):
        return None
    for name, declaration in declarations.items():
        described = str(declaration.get("description", "")).lower()
        parameter = request_parameter(declaration)
        if "home" in described and parameter is not None:
            return name, {parameter: text}
    return None


#: What extended thinking says while it thinks (its transcript; the audio is a tone phrase).
FILLER_TEXT = "Let me think."


def filler() -> Answer:
    """The short spoken filler extended thinking says before its answer."""
    return Answer(tone_phrase(FILLER_TEXT), FILLER_TEXT)


def spread(text: str, count: int) -> list[str]:
    """`text` in at most `count` pieces (at spaces) that join back to it; none if empty.

    Transcripts are cut so, one piece beside each of the first audio chunks: the transcript
    leads its audio, as measured on 3.8 Live.
    """
    if not text or count < 1:
        return []
    pieces = text_chunks(text, max(1, len(text) // count))
    while len(pieces) > count:
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return pieces
