"""The link's words: what happened becomes one event for the owner and at most one log line.

`LinkReport` is handed facts (from the ledger, the conversation and the policies) and says
them: it emits the `talkbox.live.events` event and writes the journal line, so the wording of
both lives in one place and is tested without a connection. It decides nothing; the link
decides when each thing happened. The lines go to the link's logger, `talkbox.live.link`,
where they have always been.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from talkbox.audio.format import ANSWER_RATE_HZ
from talkbox.live.backoff import OutageStep
from talkbox.live.events import (
    AnswerAudioReceived,
    AnswerInterrupted,
    ContextCompressed,
    ConversationRestarted,
    GenerationCompleted,
    GoAwayReceived,
    LinkConnected,
    LinkDisconnected,
    LinkEvent,
    LinkFailed,
    ToolCallReceived,
    TranscriptReceived,
    TurnCompleted,
    TurnFailed,
    TurnResent,
    Usage,
    UsageReported,
)
from talkbox.live.goaway import EndReason
from talkbox.live.messages import ContentRead, reported_calls
from talkbox.live.turn import Refusal, RefusedBy, Turn, TurnFacts

if TYPE_CHECKING:
    from google.genai import types

# The link's journal lines keep the link's name, whichever module words them.
log = logging.getLogger("talkbox.live.link")


def _duration(seconds: float) -> str:
    """`seconds` as a person reads it in a log line: 42s, 3m05s."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}s"


def format_turn_facts(facts: TurnFacts, conversation_turn: int, *, transcripts: bool) -> str:
    """The one log line of facts about an answered turn (`transcripts`: add what was said)."""
    usage = facts.usage
    line = (
        f"{facts.label} (conversation turn {conversation_turn}) answered"
        f"{' (interrupted)' if facts.interrupted else ''} in {facts.duration_s:.2f}s: "
        f"first audio after {(facts.first_audio_s or 0.0) * 1000:.0f} ms, "
        f"{facts.audio_s:.1f}s of audio, tokens prompt={usage.prompt_tokens if usage else -1} "
        f"response={usage.response_tokens if usage else -1} "
        f"total={usage.total_tokens if usage else -1}"
    )
    if facts.end_reason is not None:
        line += f"; ended abnormally: {facts.end_reason}"
    if facts.waiting_for_input:
        line += "; the model was waiting for more input"
    if transcripts:
        line += f", heard {facts.heard!r}, said {facts.said!r}"
    return line


class LinkReport:
    """Emits the link's events and logs its lines; `emit` must neither block nor raise."""

    def __init__(self, emit: Callable[[LinkEvent], None], *, transcripts: bool) -> None:
        self.emit = emit
        """The owner's event sink."""
        self.transcripts = transcripts
        """Whether fact lines include what was heard and said (TALKBOX_LOG_TRANSCRIPTS)."""

    # ------------------------------------------------------------------ connections

    def connected(
        self, *, reason: str, resumed: bool, conversation_id: str, turns: int, reconnects: int
    ) -> None:
        """A connection finished setup."""
        log.info(
            "connected (%s, %s conversation %s, %d turns so far)",
            reason,
            "resumed" if resumed else "fresh",
            conversation_id,
            turns,
        )
        self.emit(
            LinkConnected(
                resumed=resumed,
                conversation_id=conversation_id,
                reconnects=reconnects,
                reason=reason,
            )
        )

    def ended_on_purpose(self, why: EndReason) -> None:
        """The link left a connection itself (GoAway, idle, new conversation)."""
        if why is EndReason.IDLE:
            log.info("closed the idle connection; the next turn reconnects")
            self.emit(
                LinkDisconnected(reason="idle", retry_in_s=0.0, reconnecting=False, idle=True)
            )
            return
        log.info("reconnecting: %s", why)
        self.emit(LinkDisconnected(reason=str(why), retry_in_s=0.0))

    def lost(
        self, reason: str, retry_in_s: float, *, during_setup: bool, outage: OutageStep
    ) -> None:
        """A connection was refused or lost; the link reconnects after `retry_in_s`."""
        what = "refused" if during_setup else "lost"
        if outage.offline:
            log.warning(
                "offline for %s: connection %s %d times in a row (last: %s); reconnecting in %.2fs",
                _duration(outage.lasted_s),
                what,
                outage.failures,
                reason,
                retry_in_s,
            )
        else:
            log.info("connection %s (%s); reconnecting in %.2fs", what, reason, retry_in_s)
        self.emit(LinkDisconnected(reason=reason, retry_in_s=retry_in_s, offline=outage.offline))

    def gave_up(self, reason: str, outage: OutageStep) -> str:
        """Connecting kept failing for longer than the owner waits; returns the reason given."""
        why = (
            f"gave up after {outage.failures} failed connection"
            f"{'s' if outage.failures != 1 else ''} in {_duration(outage.lasted_s)} "
            f"(last: {reason})"
        )
        log.error("the Live service cannot be reached: %s", why)
        self.emit(
            LinkDisconnected(
                reason=why,
                retry_in_s=0.0,
                reconnecting=False,
                offline=outage.offline,
                gave_up=True,
            )
        )
        return why

    def back_online(self, lasted_s: float, failures: int) -> None:
        """A connection finished setup after the link had been offline."""
        # WARNING like the lines of the outage, so `journalctl -p warning` shows its end too.
        log.warning(
            "back online after %s offline (%d failed connections)", _duration(lasted_s), failures
        )

    def fatal(self, reason: str, retry_in_s: float) -> None:
        """The service refused us in a way retrying cannot fix soon."""
        log.error("the Live service refused the connection: %s", reason)
        self.emit(LinkFailed(reason=reason, retry_in_s=retry_in_s))

    def handle_refused(self, reason: str, conversation_id: str, *, sent_handle: bool) -> None:
        """The service refused the handle, or no longer has the session; a fresh one follows.

        `conversation_id` is the fresh conversation.
        """
        if sent_handle:
            log.warning(
                "the service refused the resumption handle (%s); starting a fresh conversation",
                reason,
            )
        else:
            log.warning(
                "the service no longer has the conversation (%s); starting a fresh conversation",
                reason,
            )
        self.emit(ConversationRestarted(reason=reason, conversation_id=conversation_id))

    def fresh_after_loss(self, old_id: str, turns: int, new_id: str) -> None:
        """A connection lost before any handle came: the next one could only start afresh."""
        reason = "the connection was lost before the service sent a resumption handle"
        log.warning(
            "%s: conversation %s (%d turns) cannot be continued; this is a fresh conversation %s",
            reason,
            old_id,
            turns,
            new_id,
        )
        self.emit(ConversationRestarted(reason=reason, conversation_id=new_id))

    def resume_abandoned(self, failures: int, old_id: str, new_id: str) -> None:
        """Resuming kept failing where a fresh session works: the conversation was left."""
        # The handle (or the session behind it) is what the service cannot serve.
        log.warning(
            "the service failed %d times to resume conversation %s but accepts a fresh "
            "one; starting a fresh conversation",
            failures,
            old_id,
        )
        self.emit(ConversationRestarted(reason="resuming kept failing", conversation_id=new_id))

    def conversation_ending(self, reason: str, conversation_id: str) -> None:
        """The service ended the conversation (its pending turns fail next)."""
        log.warning(
            "the service ended conversation %s (%s); the next turn starts a fresh one",
            conversation_id,
            reason,
        )

    def conversation_ended(self, reason: str, conversation_id: str) -> None:
        """The conversation the service ended was left; the next turn starts `conversation_id`."""
        self.emit(ConversationRestarted(reason=reason, conversation_id=conversation_id))
        self.emit(LinkDisconnected(reason=reason, retry_in_s=0.0, reconnecting=False))

    def go_away(self, time_left_s: float, *, between_turns: bool) -> None:
        """The server announced the end of the connection."""
        log.info(
            "GoAway: connection ends in %.2fs; rotating %s",
            time_left_s,
            "now" if between_turns else "after the current turn",
        )
        self.emit(GoAwayReceived(time_left_s))

    # ------------------------------------------------------------------ turns

    def refused(self, refusal: Refusal) -> None:
        """A new turn was refused."""
        if refusal.by is RefusedBy.FAILURE:
            # The ERROR line of the fatal failure already says why; no line per turn.
            log.debug("turn %d refused: %s", refusal.turn_id, refusal.reason)
        else:
            log.warning("turn %d refused: %s", refusal.turn_id, refusal.reason)
        self.emit(TurnFailed(turn_id=refusal.turn_id, reason=refusal.reason))

    def failed(self, turn: Turn, reason: str, *, level: int = logging.WARNING) -> None:
        """A pending turn will not be answered."""
        log.log(level, "turn %d failed: %s", turn.id, reason)
        self.emit(TurnFailed(turn_id=turn.id, reason=reason))

    def withdrawn(self, turn: Turn, reason: str, *, taken_back: bool) -> None:
        """The owner took a pending turn back; `taken_back`: some of it had gone up."""
        log.info(
            "turn %d withdrawn (%s)%s",
            turn.id,
            reason,
            "; it is taken back from the service" if taken_back else "; nothing of it was sent",
        )
        self.emit(TurnFailed(turn_id=turn.id, reason=f"withdrawn: {reason}"))

    def whole_before_end(self, turn: Turn) -> None:
        """A connection ended after all of `turn`'s answer arrived, before its turnComplete."""
        log.info(
            "the connection ended after all of turn %d's answer arrived; it plays whole and "
            "is not asked again",
            turn.id,
        )

    def resent(self, turn: Turn) -> None:
        """A turn cut by a lost connection is being sent again."""
        log.info("sending turn %d again (attempt %d)", turn.id, turn.attempts + 1)
        self.emit(TurnResent(turn.id))

    def completed(self, facts: TurnFacts | None, conversation_turn: int) -> None:
        """The server finished an answer (None: a bare end of turn, nothing to log)."""
        if facts is None:
            self.emit(
                TurnCompleted(
                    turn_id=None,
                    interrupted=False,
                    audio_s=0.0,
                    first_audio_s=None,
                    duration_s=0.0,
                    transcript="",
                    usage=None,
                    conversation_turn=conversation_turn,
                )
            )
            return
        # A blocked or malformed answer is a problem to see in `journalctl -p warning`.
        level = logging.WARNING if facts.end_reason is not None else logging.INFO
        log.log(
            level, "%s", format_turn_facts(facts, conversation_turn, transcripts=self.transcripts)
        )
        self.emit(
            TurnCompleted(
                turn_id=facts.turn_id,
                interrupted=facts.interrupted,
                audio_s=facts.audio_s,
                first_audio_s=facts.first_audio_s,
                duration_s=facts.duration_s,
                transcript=facts.said,
                usage=facts.usage,
                conversation_turn=conversation_turn,
                end_reason=facts.end_reason,
                waiting_for_input=facts.waiting_for_input,
            )
        )

    # ------------------------------------------------------------------ answers

    def answer(self, turn_id: int | None, content: ContentRead) -> None:
        """What a serverContent brought, in its order: transcripts, audio, generation, cut."""
        if content.heard is not None:
            self._transcript(turn_id, "input", content.heard, content.heard_finished)
        for pcm in content.chunks:
            self.emit(AnswerAudioReceived(turn_id=turn_id, pcm=pcm, rate=ANSWER_RATE_HZ))
        if content.said is not None:
            self._transcript(turn_id, "output", content.said, content.said_finished)
        if content.generated:
            log.debug("all answer audio is in (generationComplete)")
            self.emit(GenerationCompleted(turn_id))
        if content.interrupted:
            self.emit(AnswerInterrupted(turn_id))

    def _transcript(
        self,
        turn_id: int | None,
        direction: Literal["input", "output"],
        text: str,
        finished: bool,
    ) -> None:
        self.emit(
            TranscriptReceived(turn_id=turn_id, direction=direction, text=text, finished=finished)
        )

    def usage(self, turn_id: int | None, usage: Usage, *, compressed_from: int | None) -> None:
        """Token counts; `compressed_from`: the larger prompt size before a compression."""
        if compressed_from is not None:
            log.info(
                "context compressed: %d -> %d prompt tokens", compressed_from, usage.prompt_tokens
            )
            self.emit(
                ContextCompressed(before_tokens=compressed_from, after_tokens=usage.prompt_tokens)
            )
        self.emit(UsageReported(turn_id=turn_id, usage=usage))

    def tool_calls(self, turn_id: int | None, calls: tuple[types.FunctionCall, ...]) -> None:
        """The model asked for function calls."""
        self.emit(ToolCallReceived(turn_id=turn_id, calls=reported_calls(calls)))
