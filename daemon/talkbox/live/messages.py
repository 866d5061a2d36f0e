"""Reading the Live server's messages: answer parts, turn boundaries, usage, handles, GoAway.

Pure functions over the SDK's types; what the link does with what they read lives in
`talkbox.live.link`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from google.genai import types

from talkbox.events import ToolCall, Usage


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
    )


def ends_turn(content: types.LiveServerContent) -> bool:
    """Whether the server finished its answer with this content.

    The same rule as the SDK's receive() (google.genai.live._is_interaction_complete,
    private, so copied): an interaction status, when present, decides; else turnComplete.
    """
    status = content.interaction_status
    if status is not None and status != types.InteractionStatus.INTERACTION_STATUS_UNSPECIFIED:
        return status == types.InteractionStatus.IDLE
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
