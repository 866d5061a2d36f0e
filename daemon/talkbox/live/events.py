"""The events that flow between talkbox's parts: frozen dataclasses with past-tense names.

Events with more than one field are keyword-only, so a field can be added without breaking a
call site and no call site can swap two fields of one type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from talkbox.audio.format import ANSWER_RATE_HZ


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts of one model turn, from the server's `usageMetadata`."""

    prompt_tokens: int
    response_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """One function call the model asked for."""

    id: str
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConnected:
    """A Live connection finished setup; `resumed` says whether it continued the conversation."""

    resumed: bool
    conversation_id: str
    reconnects: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDisconnected:
    """The connection ended; see `reconnecting` and `idle` for what happens next."""

    reason: str
    retry_in_s: float
    reconnecting: bool = True
    """True: the link reconnects after `retry_in_s`; False: only when there is work to send."""
    idle: bool = False
    """The link closed the connection because nothing happened on it (the handle is kept)."""
    offline: bool = False
    """Connecting has kept failing for a while (`RetryPolicy.offline_after_s`)."""
    gave_up: bool = False
    """The link stopped waiting: pending turns failed; it tries again for the next turn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFailed:
    """The service refused us in a way retrying cannot fix soon (bad key, model, API version)."""

    reason: str
    retry_in_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRestarted:
    """The stored conversation could not be continued; a fresh one was started."""

    reason: str
    conversation_id: str


@dataclass(frozen=True, slots=True)
class GoAwayReceived:
    """The server announced the end of this connection in `time_left_s` seconds."""

    time_left_s: float


@dataclass(frozen=True, slots=True)
class TurnSent:
    """A user turn (text, or audio up to activityEnd) was fully written to the server."""

    turn_id: int


@dataclass(frozen=True, slots=True)
class TurnResent:
    """A user turn cut by a lost connection was sent again after reconnecting.

    Answer audio received for it before the cut is superseded by the new answer.
    """

    turn_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerAudioReceived:
    """A chunk of answer audio (24 kHz mono S16_LE) for `turn_id` (None: unprompted)."""

    turn_id: int | None
    pcm: bytes
    rate: int = ANSWER_RATE_HZ
    """Samples per second: the Live API always answers at 24 kHz."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptReceived:
    """A piece of the input (what the person said) or output (the answer) transcript."""

    turn_id: int | None
    direction: Literal["input", "output"]
    text: str
    finished: bool = False


@dataclass(frozen=True, slots=True)
class GenerationCompleted:
    """All of the answer's audio is in (generationComplete).

    On gemini-3.8-live it comes well before TurnCompleted, which the service paces to the
    answer's playback: the person hears the answer until local playback ends.
    """

    turn_id: int | None


@dataclass(frozen=True, slots=True)
class AnswerInterrupted:
    """The server stopped the answer because the person started talking again."""

    turn_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReported:
    """Token counts the server reported for a turn."""

    turn_id: int | None
    usage: Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextCompressed:
    """The conversation's context shrank between turns: the server's sliding window ran."""

    before_tokens: int
    after_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnCompleted:
    """The server finished answering `turn_id` (None: an unprompted answer)."""

    turn_id: int | None
    interrupted: bool
    audio_s: float
    first_audio_s: float | None
    duration_s: float
    transcript: str
    usage: Usage | None
    conversation_turn: int
    """How many turns the conversation has answered, this one included."""
    end_reason: str | None = None
    """Why the turn ended other than with a normal answer (turnCompleteReason, e.g.
    GENERATED_CONTENT_SAFETY or MALFORMED_FUNCTION_CALL); None for a normal answer."""
    waiting_for_input: bool = False
    """The model thought the person was still mid-utterance (waitingForInput)."""

    @property
    def abnormal(self) -> bool:
        """Whether the turn ended for a reason other than a normal answer."""
        return self.end_reason is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnFailed:
    """A user turn will not be answered; `reason` says why."""

    turn_id: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallReceived:
    """The model asked the device to run functions."""

    turn_id: int | None
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class ToolCallCancelled:
    """The server cancelled pending function calls (the person interrupted)."""

    ids: tuple[str, ...]


LinkEvent = (
    LinkConnected
    | LinkDisconnected
    | LinkFailed
    | ConversationRestarted
    | GoAwayReceived
    | TurnSent
    | TurnResent
    | AnswerAudioReceived
    | TranscriptReceived
    | GenerationCompleted
    | AnswerInterrupted
    | UsageReported
    | ContextCompressed
    | TurnCompleted
    | TurnFailed
    | ToolCallReceived
    | ToolCallCancelled
)
"""Everything the Live link reports to the rest of the daemon."""
