"""The outbox: the messages the link owes the server, and the order they leave in.

Two queues: the turns' messages and tool responses (`Outbox.ops`), always first, and the
loose audio of server turn detection, a bounded backlog whose oldest frames go first. Only
a written message leaves: what a failed write carried is rebuilt from its turn by the
ledger (`talkbox.live.turns`), which decides what goes in; the send task of
`talkbox.live.connection` takes it out. Pure: no sockets, no clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.genai import types


# Audio streamed outside a turn (server turn detection) is only worth a few seconds of
# backlog while the connection is down or slow; older speech would be answered out of
# context, so the oldest frames go first.
MAX_LOOSE_AUDIO_FRAMES = 250
# A turn's audio queued together leaves as one message of at most this much (100 ms of
# 16 kHz mono S16_LE): each message costs the SDK's send (~50 us) and a websocket frame
# whatever its size, and audio already queued gains nothing by waiting for its own message.
MAX_AUDIO_MESSAGE_BYTES = 3200


class OpKind(StrEnum):
    """What one queued message is."""

    START = "start"
    """activityStart: an audio turn begins."""
    AUDIO = "audio"
    """A chunk of a turn's audio."""
    END = "end"
    """activityEnd: the audio turn is complete."""
    TEXT = "text"
    """A whole text turn (clientContent with turnComplete)."""
    STREAM_END = "stream_end"
    """audioStreamEnd: the microphone paused (server turn detection)."""
    LOOSE_AUDIO = "loose_audio"
    """Audio outside any turn (server turn detection)."""
    TOOL = "tool"
    """Function responses."""

    @property
    def opens_turn(self) -> bool:
        """Whether this message is the first of a user turn."""
        return self in (OpKind.START, OpKind.TEXT)

    @property
    def completes_turn(self) -> bool:
        """Whether the turn is fully sent once this message is written."""
        return self in (OpKind.END, OpKind.TEXT)


@dataclass(frozen=True, slots=True)
class Op:
    """One message to send, in order."""

    kind: OpKind
    turn_id: int | None = None
    pcm: bytes = b""
    text: str = ""
    responses: tuple[types.FunctionResponse, ...] = ()


class Outbox:
    """The turns' messages and tool responses in order, then the loose audio backlog."""

    def __init__(self) -> None:
        self.ops: deque[Op] = deque()
        """The turns' messages and tool responses, in order."""
        self.loose: deque[Op] = deque(maxlen=MAX_LOOSE_AUDIO_FRAMES)
        """Server turn detection only: audio and stream ends outside any turn, in order."""
        self.loose_dropped = 0
        """Loose frames pushed out of the full backlog, oldest first."""

    def next(self) -> Op | None:
        """The next message to write: turns first, loose audio when no turn has any."""
        queue = self.ops or self.loose
        return queue[0] if queue else None

    def audio_run(self, limit: int = MAX_AUDIO_MESSAGE_BYTES) -> list[Op]:
        """The turn's audio at the head of `ops`, as one message takes it (at most `limit`).

        Consecutive audio ops of one turn, oldest first; always at least the head when it is
        audio (a frame longer than `limit` still goes).
        """
        run: list[Op] = []
        size = 0
        for op in self.ops:
            if op.kind is not OpKind.AUDIO or (run and op.turn_id != run[0].turn_id):
                break
            if run and size + len(op.pcm) > limit:
                break
            run.append(op)
            size += len(op.pcm)
        return run

    def written(self, op: Op) -> None:
        """`op` reached the socket: it leaves its queue.

        Only a written op leaves; what a failed write carried is rebuilt from its turn on
        the next connection. The queue may have changed during the write (a failed turn
        purged, the oldest loose frame dropped), so only the op itself is removed.
        """
        if self.ops and self.ops[0] is op:
            self.ops.popleft()
        elif self.loose and self.loose[0] is op:
            self.loose.popleft()

    def add_loose(self, op: Op) -> bool:
        """Queue loose audio or a stream end; True when the oldest loose frame was dropped."""
        full = len(self.loose) == self.loose.maxlen
        if full:
            # The deque drops its oldest item on append: old speech is worth least.
            self.loose_dropped += 1
        self.loose.append(op)
        return full

    def drop_turn(self, turn_id: int) -> None:
        """Take a turn's messages out: nothing more of it goes out."""
        if any(op.turn_id == turn_id for op in self.ops):
            self.ops = deque(op for op in self.ops if op.turn_id != turn_id)

    def drop_tool_responses(self, ids: Set[str]) -> None:
        """Take the responses to cancelled calls out: they are never sent."""
        if not any(op.kind is OpKind.TOOL for op in self.ops):
            return
        kept: deque[Op] = deque()
        for op in self.ops:
            if op.kind is OpKind.TOOL:
                left = tuple(r for r in op.responses if (r.id or "") not in ids)
                if not left:
                    continue
                op = Op(OpKind.TOOL, responses=left) if left != op.responses else op
            kept.append(op)
        self.ops = kept

    def clear(self) -> None:
        """Nothing queued or loose goes out."""
        self.ops.clear()
        self.loose.clear()
