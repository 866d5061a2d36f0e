"""Reading the Live server's messages: answer parts, turn boundaries, usage, handles, GoAway.

Pure functions over the SDK's types; what the link does with what they read lives in
`talkbox.live.connection` (its receive task). The SDK's enums are strings (their values are
their names), so they are compared with their names here and the SDK need not be imported
before the link loads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talkbox.live.events import ToolCall, Usage

if TYPE_CHECKING:
    from google.genai import types


def parse_duration(text: str | None) -> float | None:
    """Seconds in a protobuf Duration string such as "50s" or "9.500s" (None if unparsable)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d*)?)s?\s*", text)
    return float(match.group(1)) if match else None


def time_left_s(go_away: types.LiveServerGoAway) -> float | None:
    """The seconds a GoAway says the connection has left (None if it says nothing readable)."""
    return parse_duration(go_away.time_left)


def answer_chunks(content: types.LiveServerContent) -> list[bytes]:
    """The answer audio in a serverContent, every part in order (transcripts share messages)."""
    parts = content.model_turn.parts if content.model_turn is not None else None
    return [
        part.inline_data.data
        for part in parts or ()
        if part.inline_data is not None and part.inline_data.data
    ]


def transcript_text(transcription: types.Transcription | None) -> str | None:
    """The text of a transcription piece, None when there is none."""
    if transcription is None or not transcription.text:
        return None
    return transcription.text


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentRead:
    """What one serverContent says, in the order it says it."""

    heard: str | None
    """A piece of the input transcript (what the person said)."""
    heard_finished: bool
    chunks: tuple[bytes, ...]
    """Answer audio, every part in order."""
    said: str | None
    """A piece of the output transcript (the answer)."""
    said_finished: bool
    generated: bool
    """generationComplete: all of the answer's audio is in."""
    interrupted: bool
    ended: bool
    """The answer is complete (ends_turn)."""
    turn_complete: bool = False
    """turnComplete: one utterance ended (the interaction may go on: see `status`)."""
    status: str | None = None
    """The interactionStatus sent with it (IDLE, IN_PROGRESS, or a value we do not know)."""
    end_reason: str | None = None
    """turnCompleteReason when the turn ended other than normally (e.g. a safety block)."""
    waiting_for_input: bool = False
    """waitingForInput: the model thinks the person is mid-utterance."""

    @property
    def goes_on(self) -> bool:
        """A turnComplete that does not end the interaction (a spoken filler, IN_PROGRESS)."""
        return self.turn_complete and not self.ended

    @property
    def status_known(self) -> bool:
        """Whether the interaction status, if any, is one the link knows how to read."""
        return self.status in (None, IN_PROGRESS, IDLE)

    @property
    def opens_turn(self) -> bool:
        """Whether, with no turn of ours to answer, this starts one of the server's own."""
        return self.heard is not None or self.said is not None or bool(self.chunks)


def read_content(content: types.LiveServerContent) -> ContentRead:
    """Read a serverContent once: transcripts, audio, generation, interruption, turn end."""
    heard, said = content.input_transcription, content.output_transcription
    return ContentRead(
        heard=transcript_text(heard),
        heard_finished=bool(heard and heard.finished),
        chunks=tuple(answer_chunks(content)),
        said=transcript_text(said),
        said_finished=bool(said and said.finished),
        generated=bool(content.generation_complete),
        interrupted=bool(content.interrupted),
        ended=ends_turn(content),
        turn_complete=bool(content.turn_complete),
        status=_status_name(content.interaction_status),
        end_reason=_reason_name(content.turn_complete_reason),
        waiting_for_input=bool(content.waiting_for_input),
    )


IN_PROGRESS = "IN_PROGRESS"
IDLE = "IDLE"
_STATUS_UNSPECIFIED = "INTERACTION_STATUS_UNSPECIFIED"
_REASON_UNSPECIFIED = "TURN_COMPLETE_REASON_UNSPECIFIED"


def _status_name(status: types.InteractionStatus | None) -> str | None:
    # The SDK keeps a value it does not know as an enum member named after it.
    if status is None or status == _STATUS_UNSPECIFIED:
        return None
    return str(status.name)


def _reason_name(reason: types.TurnCompleteReason | None) -> str | None:
    if reason is None or reason == _REASON_UNSPECIFIED:
        return None
    return str(reason.name)


def ends_turn(content: types.LiveServerContent) -> bool:
    """Whether the server finished its answer with this content.

    The same rule as the SDK's receive() (google.genai.live._is_interaction_complete,
    private, so copied): an interaction status, when present, decides; else turnComplete.
    So on extended thinking a filler's turnComplete + IN_PROGRESS ends nothing, and neither
    does a status the link does not know: the ledger's bounded wait ends such a turn
    (docs/live-models.md §4).
    """
    status = content.interaction_status
    if status is not None and status != _STATUS_UNSPECIFIED:
        return status == IDLE
    return bool(content.turn_complete)


def usage_of(meta: types.UsageMetadata) -> Usage:
    """The token counts of a usageMetadata (0 for any the server left out)."""
    return Usage(
        prompt_tokens=meta.prompt_token_count or 0,
        response_tokens=meta.response_token_count or 0,
        total_tokens=meta.total_token_count or 0,
    )


def tool_calls(tool_call: types.LiveServerToolCall) -> tuple[types.FunctionCall, ...]:
    """The function calls of a toolCall message."""
    return tuple(tool_call.function_calls or ())


def reported_calls(calls: tuple[types.FunctionCall, ...]) -> tuple[ToolCall, ...]:
    """The calls as the link reports them in ToolCallReceived."""
    return tuple(ToolCall(id=c.id or "", name=c.name or "", args=dict(c.args or {})) for c in calls)


def new_handle(update: types.LiveServerSessionResumptionUpdate | None) -> str | None:
    """The handle a resumption update offers, only when the server marked it resumable."""
    if update is not None and update.resumable and update.new_handle:
        return update.new_handle
    return None
