"""The turn ledger: what the link owes the server and what the server owes the link.

Pure bookkeeping, no sockets, no sleeps, no clock: every method that needs the time is
given it. The ledger keeps the pending turns (each with everything it sent, so a turn cut by
a lost connection is sent again whole), what goes into the outbox (`talkbox.live.outbox`,
which keeps the order), the limits (pending turns, attempts, audio kept), and the facts of
each answered turn. It emits nothing and logs nothing: `talkbox.live.link` and its
connections (`talkbox.live.connection`) turn what its methods return into events and log
lines (worded by `talkbox.live.report`).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING

from talkbox.audio.format import ANSWER_RATE_HZ, INPUT_RATE_HZ, pcm_bytes, seconds
from talkbox.live.answer_end import end_due
from talkbox.live.events import Usage
from talkbox.live.messages import ContentRead
from talkbox.live.outbox import Op, OpKind, Outbox
from talkbox.live.turn import Refusal, RefusedBy, Turn, TurnFacts

if TYPE_CHECKING:
    from google.genai import types

# A turn keeps its audio so it can be sent again after a lost connection; a minute of
# 16 kHz speech is 1.9 MB, longer than any sensible spoken question.
MAX_TURN_AUDIO_BYTES = pcm_bytes(60, INPUT_RATE_HZ)
# More turns than this waiting for answers means the link has been down for a while. A new
# turn is refused rather than an old one dropped: the old ones may be on the wire already.
MAX_PENDING_TURNS = 8
# A turn that was cut this many times is reported as failed rather than sent again.
MAX_TURN_ATTEMPTS = 3
# After turnComplete the server sends the handle that includes the turn; a new turn (or a
# rotation) waits this long for it so the handle in hand never covers half a turn.
HANDLE_WAIT_S = 1.0


class AudioFate(StrEnum):
    """What became of one frame given to `TurnLedger.add_audio`."""

    IN_TURN = "in_turn"
    """Kept in the open turn and queued."""
    LOOSE = "loose"
    """Queued as loose audio (server turn detection)."""
    LOOSE_DISPLACED = "loose_displaced"
    """Queued as loose audio; the backlog was full, so its oldest frame was dropped."""
    OUTSIDE_TURN = "outside_turn"
    """Dropped: local turn detection and no turn open (the privacy invariant)."""
    TOO_LONG = "too_long"
    """Dropped: the open turn holds MAX_TURN_AUDIO_BYTES already."""


class Requeued(StrEnum):
    """What `TurnLedger.requeue` did with a pending turn on a new connection."""

    FIRST = "first"
    """Queued for its first sending."""
    RESENT = "resent"
    """Queued again whole, its partial answer forgotten."""
    GIVE_UP = "give_up"
    """Not queued: cut MAX_TURN_ATTEMPTS times already; the caller fails it."""


class TurnLedger:
    """The pending turns, the outbox and loose audio of one conversation, and their limits."""

    def __init__(self, *, local_turns: bool, now: float) -> None:
        self.local_turns = local_turns
        """Local turn detection: audio goes up only inside a turn the person opened."""
        self.turns: dict[int, Turn] = {}
        """Pending turns by id, oldest first: asked and not yet answered or failed."""
        self.open_turn: Turn | None = None
        self.implicit: Turn | None = None
        """The server's own turn being answered, if any."""
        self.outbox = Outbox()
        """What is to be written: this ledger puts it in, the send task takes it out."""
        self.dropped_outside_turn = 0
        """Frames dropped because no turn was open (local turn detection)."""
        self.outside_run = 0
        """Frames dropped outside a turn since the last turn opened."""
        self.refusing: str | None = None
        """While set, new turns are refused with this reason."""
        self.last_activity = now
        self.last_completed: int | None = None
        """The report id of the turn answered last (usage sent after turnComplete)."""
        self.awaiting_handle_since: float | None = None
        self._next_turn_id = 1

    # ------------------------------------------------------------------ asking

    def open_audio(self, now: float) -> Turn | Refusal:
        """Open an audio turn and queue its activityStart (close any open one first)."""
        turn = self._new_turn(text=None, now=now)
        if isinstance(turn, Turn):
            self.open_turn = turn
            self.outbox.ops.append(Op(OpKind.START, turn.id))
        return turn

    def add_audio(self, pcm: bytes) -> AudioFate:
        """Keep and queue a frame: in the open turn, loose, or dropped (the fate says)."""
        turn = self.open_turn
        if turn is None:
            if self.local_turns:
                self.dropped_outside_turn += 1
                self.outside_run += 1
                return AudioFate.OUTSIDE_TURN
            displaced = self.outbox.add_loose(Op(OpKind.LOOSE_AUDIO, pcm=pcm))
            return AudioFate.LOOSE_DISPLACED if displaced else AudioFate.LOOSE
        if turn.audio_bytes + len(pcm) > MAX_TURN_AUDIO_BYTES:
            turn.dropped_frames += 1
            return AudioFate.TOO_LONG
        turn.audio.append(pcm)
        turn.audio_bytes += len(pcm)
        self.outbox.ops.append(Op(OpKind.AUDIO, turn.id, pcm=pcm))
        return AudioFate.IN_TURN

    def close(self) -> Turn | None:
        """Close the open audio turn and queue its activityEnd; None if none was open."""
        turn = self.open_turn
        if turn is None:
            return None
        self.open_turn = None
        turn.closed = True
        self.outbox.ops.append(Op(OpKind.END, turn.id))
        return turn

    def add_text(self, text: str, now: float) -> Turn | Refusal:
        """Queue one complete text turn."""
        turn = self._new_turn(text=text, now=now)
        if isinstance(turn, Turn):
            turn.closed = True
            self.outbox.ops.append(Op(OpKind.TEXT, turn.id, text=text))
        return turn

    def add_tool_response(self, responses: tuple[types.FunctionResponse, ...]) -> None:
        """Queue function responses, behind everything queued before them."""
        self.outbox.ops.append(Op(OpKind.TOOL, responses=responses))

    def current(self) -> Turn | None:
        """The newest turn being asked or answered (the server's own when none of ours)."""
        return self.turns[max(self.turns)] if self.turns else self.implicit

    def _new_turn(self, *, text: str | None, now: float) -> Turn | Refusal:
        turn_id = self._next_turn_id
        self._next_turn_id += 1
        self.outside_run = 0
        if self.refusing is not None:
            return Refusal(turn_id=turn_id, reason=self.refusing, by=RefusedBy.FAILURE)
        if len(self.turns) >= MAX_PENDING_TURNS:
            reason = f"{len(self.turns)} turns are already waiting for an answer"
            return Refusal(turn_id=turn_id, reason=reason, by=RefusedBy.PENDING_LIMIT)
        turn = Turn(turn_id, text)
        self.turns[turn.id] = turn
        self.last_activity = now
        return turn

    # ------------------------------------------------------------------ sending

    def hold(self, op: Op, now: float, *, leaving: bool) -> float | None:
        """How long `op` must wait before it is written (None: write it now).

        `leaving`: this connection got a GoAway. A new turn then goes on the next
        connection (returns infinity: wait for a change), so it is neither cut at the
        deadline nor the reason the rotation waits. While the handle covering the previous
        turn is due, a new turn waits for it (briefly): sent now, it could end up inside
        that handle or outside it.
        """
        if not op.kind.opens_turn:
            return None
        if leaving:
            return math.inf
        due = self.handle_due_at(now)
        return None if due is None else due - now

    def book_sent(self, op: Op, now: float) -> Turn | None:
        """Book `op` as written (before the write); returns its turn once fully sent.

        Booked before the write: the answer can arrive before the write returns, and it must
        find its turn already sent. A failed write ends the connection, and
        `connection_lost` undoes the booking.
        """
        if op.turn_id is None:
            return None
        turn = self.turns.get(op.turn_id)
        if turn is None:
            return None
        if op.kind.opens_turn:
            turn.attempts += 1
            turn.on_wire = True
        if op.kind.completes_turn:
            turn.sent = True
            turn.sent_at = now
            self.last_activity = now
            return turn
        return None

    # ------------------------------------------------------------------ connections

    def rebuild_outbox(self) -> list[Turn]:
        """Empty the outbox for a new connection; returns the pending turns to `requeue`.

        Everything a lost connection cut is sent again from the turns themselves: pending
        turns first, in order, then nothing stale. Loose audio keeps its own queue.
        """
        self.outbox.ops.clear()
        return list(self.turns.values())

    def requeue(self, turn: Turn) -> Requeued:
        """Queue a pending turn whole on a new connection (call for each, oldest first).

        Why resending cannot duplicate a turn: the handle in hand is the newest one the
        server marked resumable, and the server marks nothing resumable between a turn's
        start and the update that follows its turnComplete. So the handle resumed predates
        every unfinished turn, and the resumed conversation has not seen them.
        """
        if turn.attempts >= MAX_TURN_ATTEMPTS:
            return Requeued.GIVE_UP
        resent = turn.attempts > 0
        if resent:
            turn.reset_answer()
        self.outbox.ops.extend(turn.ops())
        return Requeued.RESENT if resent else Requeued.FIRST

    def fully_answered(self) -> list[Turn]:
        """Turns whose answer's audio has all arrived (generationComplete), not yet complete.

        When their connection ends, the answer is whole on the device: asking again would
        play its opening twice.
        """
        return [t for t in self.turns.values() if t.sent and t.generated and not t.interrupted]

    def connection_lost(self) -> Turn | None:
        """Nothing is on the wire any more; returns the server's own turn, which was cut."""
        for turn in self.turns.values():
            turn.sent = False
            turn.on_wire = False
        self.awaiting_handle_since = None
        cut, self.implicit = self.implicit, None
        return cut

    # ------------------------------------------------------------------ answers

    def answering(self) -> Turn | None:
        """The turn the server is answering: the oldest fully sent one, else its own turn."""
        for turn in self.turns.values():
            if turn.sent:
                return turn
        return self.implicit

    def take_content(self, content: ContentRead, now: float) -> Turn | None:
        """Record a serverContent in the turn it answers; returns that turn, if any.

        Content with no turn of ours to answer may open the server's own (its VAD, or an
        unprompted answer); the person's end of speech is not known then, so its latency
        counts from `now`.
        """
        turn = self.answering()
        if turn is None and content.opens_turn:
            turn = self.implicit = Turn(0, None, implicit=True, sent=True)
            turn.sent_at = now
        if turn is None:
            return None
        if content.heard is not None:
            turn.transcript_in.append(content.heard)
        for chunk in content.chunks:
            turn.answer_audio(chunk, now)
        if content.said is not None:
            turn.transcript_out.append(content.said)
        if content.goes_on and turn.transcript_out and not turn.transcript_out[-1][-1:].isspace():
            # A filler ended; the answer's words are another utterance.
            turn.transcript_out.append(" ")
        # A filler's end (turnComplete + IN_PROGRESS) leaves the real answer to come.
        turn.generated = (turn.generated or content.generated) and not content.goes_on
        turn.interrupted = turn.interrupted or content.interrupted
        turn.end_reason = content.end_reason or turn.end_reason
        turn.waiting_for_input = turn.waiting_for_input or content.waiting_for_input
        if not content.ended:
            turn.end_due_at, turn.waiting_for = end_due(
                content,
                now,
                generated=turn.generated,
                first_audio_at=turn.first_audio_at,
                answer_bytes=turn.answer_bytes,
            )
        return turn

    def add_usage(self, usage: Usage) -> int | None:
        """Give usage to the turn being answered; returns the turn id to report it with.

        Usage sent after turnComplete (some models do) belongs to the turn just answered.
        """
        turn = self.answering()
        if turn is not None:
            turn.usage = usage
            return turn.report_id
        return self.last_completed

    def complete(self, turn: Turn | None, now: float, *, handle_due: bool) -> TurnFacts | None:
        """The server finished answering `turn` (None: a bare end of turn); its facts.

        `handle_due`: a resumption handle covering the turn is expected next.
        """
        self.last_activity = now
        if handle_due:
            self.awaiting_handle_since = now
        if turn is None:
            return None
        if turn.implicit:
            self.implicit = None
        else:
            del self.turns[turn.id]
        self.last_completed = turn.report_id
        sent_at = turn.sent_at if turn.sent_at is not None else now
        first = turn.first_audio_at - sent_at if turn.first_audio_at is not None else None
        return TurnFacts(
            turn_id=turn.report_id,
            label=turn.label,
            interrupted=turn.interrupted,
            duration_s=now - sent_at,
            first_audio_s=first,
            audio_s=seconds(turn.answer_bytes, ANSWER_RATE_HZ),
            heard="".join(turn.transcript_in).strip(),
            said="".join(turn.transcript_out).strip(),
            usage=turn.usage,
            end_reason=turn.end_reason,
            waiting_for_input=turn.waiting_for_input,
        )

    def end_due_at(self) -> float | None:
        """The earliest time an answer under way must have ended by (None: none is due)."""
        due = [t.end_due_at for t in self._answering_turns() if t.end_due_at is not None]
        return min(due) if due else None

    def overdue(self, now: float) -> tuple[Turn, str] | None:
        """A turn whose answer did not end in time, and the reason to fail it with."""
        for turn in self._answering_turns():
            if turn.end_due_at is not None and now >= turn.end_due_at:
                return turn, f"the service never ended its answer ({turn.waiting_for})"
        return None

    def _answering_turns(self) -> list[Turn]:
        turns = [t for t in self.turns.values() if t.sent]
        return turns + ([self.implicit] if self.implicit is not None else [])

    # ------------------------------------------------------------------ failures

    def fail(self, turn: Turn) -> None:
        """`turn` will not be answered: nothing more of it goes out, now or later."""
        self.turns.pop(turn.id, None)
        if self.open_turn is turn:
            self.open_turn = None
        self.outbox.drop_turn(turn.id)

    def fail_all(self) -> list[Turn]:
        """Every pending turn fails; nothing queued or loose goes out. Returns the turns."""
        self.outbox.clear()
        failed = list(self.turns.values())
        self.turns.clear()
        self.open_turn = None
        return failed

    # ------------------------------------------------------------------ state

    def has_work(self) -> bool:
        """Something is pending or queued: worth a connection."""
        return bool(self.outbox.ops or self.turns or self.outbox.loose)

    def awaiting_handle(self, now: float) -> bool:
        """A handle covering the last answered turn is due and its wait is not over."""
        since = self.awaiting_handle_since
        return since is not None and now - since < HANDLE_WAIT_S

    def handle_due_at(self, now: float) -> float | None:
        """When the wait for the due handle ends (None: no handle is awaited)."""
        since = self.awaiting_handle_since
        if since is None or not self.awaiting_handle(now):
            return None
        return since + HANDLE_WAIT_S

    def between_turns(self, now: float) -> bool:
        """Nothing on this connection awaits an answer or a handle (turns may be queued)."""
        return (
            not any(turn.on_wire for turn in self.turns.values())
            and self.implicit is None
            and not self.awaiting_handle(now)
        )

    def awaiting_first_answer(self) -> bool:
        """A turn is fully sent on this connection and nothing of its answer has come yet."""
        return any(
            turn.sent
            and turn.first_audio_at is None
            and not turn.transcript_out
            and not turn.generated
            for turn in self.turns.values()
        )

    def quiet(self, now: float) -> bool:
        """No turn open or unanswered, no answer arriving, nothing to send, no handle due."""
        return (
            not self.turns
            and self.implicit is None
            and not self.awaiting_handle(now)
            and not self.outbox.ops
            and not self.outbox.loose
        )
