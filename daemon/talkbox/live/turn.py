"""A turn as the link keeps it, a refused turn, and the facts of an answered one."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from talkbox.live.events import Usage
from talkbox.live.outbox import Op, OpKind


@dataclass(eq=False)
class Turn:
    """A user turn from the first byte sent until the server completed its answer."""

    id: int
    text: str | None
    implicit: bool = False
    """The server's own turn (server turn detection, unprompted answers): tracked for the
    per-turn facts, reported with turn_id None."""
    audio: list[bytes] = field(default_factory=list)
    audio_bytes: int = 0
    closed: bool = False
    sent: bool = False
    """Fully written on the current connection (its answer may be arriving)."""
    attempts: int = 0
    """How many connections some of it was written on (another sending is a resend)."""
    on_wire: bool = False
    """Its first message went out on the current connection (a GoAway rotation waits)."""
    sent_at: float | None = None
    first_audio_at: float | None = None
    answer_bytes: int = 0
    interrupted: bool = False
    generated: bool = False
    transcript_in: list[str] = field(default_factory=list)
    transcript_out: list[str] = field(default_factory=list)
    usage: Usage | None = None
    dropped_frames: int = 0
    end_reason: str | None = None
    """turnCompleteReason of an utterance that ended other than normally."""
    waiting_for_input: bool = False
    end_due_at: float | None = None
    """When the answer under way must have ended (None: no answer has started), from
    `talkbox.live.answer_end`."""
    waiting_for: str = ""
    """What the end is awaited after, for the failure's reason."""

    @property
    def report_id(self) -> int | None:
        """The id events carry: None for a turn the server opened itself."""
        return None if self.implicit else self.id

    @property
    def label(self) -> str:
        """How the log names this turn."""
        return "server turn" if self.implicit else f"turn {self.id}"

    def ops(self) -> list[Op]:
        """Everything to send for this turn so far, in order."""
        if self.text is not None:
            return [Op(OpKind.TEXT, self.id, text=self.text)]
        out = [Op(OpKind.START, self.id)]
        out.extend(Op(OpKind.AUDIO, self.id, pcm=chunk) for chunk in self.audio)
        if self.closed:
            out.append(Op(OpKind.END, self.id))
        return out

    def answer_audio(self, pcm: bytes, now: float) -> None:
        """Count a chunk of the answer's audio."""
        if self.first_audio_at is None:
            self.first_audio_at = now
        self.answer_bytes += len(pcm)

    def reset_answer(self) -> None:
        """Forget a partial answer: the turn is being asked again."""
        self.sent = False
        self.sent_at = None
        self.first_audio_at = None
        self.answer_bytes = 0
        self.interrupted = False
        self.generated = False
        self.transcript_in.clear()
        self.transcript_out.clear()
        self.usage = None
        self.end_reason = None
        self.waiting_for_input = False
        self.end_due_at = None


class RefusedBy(StrEnum):
    """Why the ledger refused a new turn."""

    FAILURE = "failure"
    """The link is waiting out a failure retrying cannot fix soon (its ERROR line says why)."""
    PENDING_LIMIT = "pending_limit"
    """MAX_PENDING_TURNS turns already wait for an answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A turn the ledger would not take: its id (spent) and the reason to report."""

    turn_id: int
    reason: str
    by: RefusedBy


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnFacts:
    """What one answered turn amounted to: the content of its fact line and TurnCompleted."""

    turn_id: int | None
    label: str
    interrupted: bool
    duration_s: float
    """From the turn fully sent to its answer complete."""
    first_audio_s: float | None
    """From the turn fully sent to the first answer audio (None: no audio came)."""
    audio_s: float
    heard: str
    said: str
    usage: Usage | None
    end_reason: str | None = None
    """turnCompleteReason: why the turn ended other than with a normal answer."""
    waiting_for_input: bool = False
