"""One websocket connection of the link while it is open: its state and its three tasks.

`talkbox.live.link` opens each connection, sets it up, and judges how it ended; between
those a `Connection` runs three tasks in the connection's TaskGroup. The send task writes
the ledger's outbox in order; the receive task applies each server message to the ledger,
the conversation and the report (answers, usage, GoAway, tool calls, handles); the watch
task leaves the connection on purpose (GoAway, idle, a new conversation, by raising
`EndConnection`), fails a turn whose answer never ended, and fails the connection when the
service falls silent. What outlives the connection it reaches through `LinkSide`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from talkbox.audio.format import INPUT_MIME
from talkbox.live import events, messages
from talkbox.live.backoff import silence_left
from talkbox.live.failures import ServiceSilent
from talkbox.live.goaway import EndReason, Leave, end_connection, go_away_deadline
from talkbox.live.handles import StoredConversation
from talkbox.live.outbox import Op, OpKind
from talkbox.live.report import LinkReport
from talkbox.live.tools import ToolCalls
from talkbox.live.turn import Turn
from talkbox.live.turns import TurnLedger

if TYPE_CHECKING:
    from google.genai import types
    from google.genai.live import AsyncSession


class EndConnection(Exception):
    """Raised inside a connection's TaskGroup to leave it on purpose (GoAway, idle)."""

    def __init__(self, why: EndReason) -> None:
        self.why = why
        super().__init__(why)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSide:
    """The link as its connections see it: what outlives them, and three calls back."""

    ledger: TurnLedger
    report: LinkReport
    conversation: StoredConversation
    changed: asyncio.Event
    """Set when anything a task (or `LiveLink.settled`) waits for may have changed."""
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    idle_disconnect_s: float
    answer_silence_s: float
    leaving: Callable[[], bool]
    """Whether a new conversation was asked for: end the connection, adopt no handle."""
    withdrawing: Callable[[], bool]
    """Whether a turn partly sent on this connection was withdrawn: end the connection,
    adopt no handle (one issued now could hold the withdrawn turn)."""
    turn_done: Callable[[Turn], None]
    """A turn's answer is complete (it left the ledger): a restart waiting for it may go."""
    fail_turn: Callable[[Turn, str], None]
    """A turn's answer never ended: it fails with the reason given."""


async def wait_for(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait for `event` at most `timeout_s` seconds (None: no limit); True when it was set."""
    if timeout_s is None:
        await event.wait()
        return True
    if timeout_s <= 0:
        return event.is_set()
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


class Connection:
    """One websocket connection: what has happened on it, and its send, receive and watch."""

    def __init__(self, link: LinkSide, number: int, handle: str | None) -> None:
        self.number = number
        self.handle = handle
        """The handle it resumes (None: it starts a fresh conversation)."""
        self.opened_at = link.clock()
        self.setup_done = False
        self.go_away_deadline: float | None = None
        self.tools: ToolCalls | None = None
        """The function calls running on it (set once its TaskGroup exists)."""
        self.last_traffic = 0.0
        """When a message last went either way (the service's silence is counted from it)."""
        self._link = link

    # ------------------------------------------------------------------- tasks

    async def receive(self, session: AsyncSession) -> None:
        """Apply every server message, until the connection ends."""
        # receive() ends at every turnComplete; the conversation does not.
        while True:
            async for message in session.receive():
                self.on_message(message)

    async def send(self, session: AsyncSession) -> None:
        """Write the outbox in order, holding what must wait, until the connection ends."""
        link = self._link
        ledger = link.ledger
        while True:
            op = ledger.outbox.next()
            if op is None:
                link.changed.clear()
                await wait_for(link.changed, None)
                continue
            hold = ledger.hold(op, link.clock(), leaving=self.go_away_deadline is not None)
            if hold is not None:
                link.changed.clear()
                await wait_for(link.changed, None if math.isinf(hold) else hold)
                continue
            sent = ledger.book_sent(op, link.clock())
            if sent is not None:
                link.report.emit(events.TurnSent(sent.id))
            if op.kind is OpKind.AUDIO:
                # What the turn has queued goes as one message (audio ops are never held
                # and book nothing): the mic hands frames over in batches.
                run = ledger.outbox.audio_run()
                await _send_audio(session, b"".join(o.pcm for o in run))
            else:
                run = [op]
                await _send_op(session, op)
            self.last_traffic = link.clock()
            for done in run:
                ledger.outbox.written(done)
            if sent is not None:
                # A turn now awaits its answer: the watch bounds the service's silence.
                link.changed.set()
            # A write does not yield while the socket takes it: without this a backlog (a
            # resent turn) goes out in one burst, and when the socket fails mid-burst the
            # rest is written to it before anyone learns, each write an asyncio WARNING
            # ("socket.send() raised exception."). One loop turn per message lets the loss
            # be seen after at most a write or two.
            await asyncio.sleep(0)

    async def watch(self) -> None:
        """End the connection on purpose: GoAway deadline, idle timeout, new conversation."""
        link = self._link
        ledger = link.ledger
        while True:
            link.changed.clear()
            now = link.clock()
            decision = end_connection(
                now=now,
                restart_requested=link.leaving(),
                withdrawn=link.withdrawing(),
                go_away_deadline=self.go_away_deadline,
                between_turns=ledger.between_turns(now),
                idle_disconnect_s=link.idle_disconnect_s,
                quiet=ledger.quiet(now),
                last_activity=ledger.last_activity,
                handle_due_at=ledger.handle_due_at(now),
                answer_due_at=ledger.end_due_at(),
            )
            if isinstance(decision, Leave):
                raise EndConnection(decision.why)
            overdue = ledger.overdue(now)
            if overdue is not None:
                link.fail_turn(*overdue)
                continue
            await wait_for(link.changed, self._silence_bound(now, decision.seconds))

    def _silence_bound(self, now: float, wake: float | None) -> float | None:
        """`wake`, shortened to when the service's silence would fail the connection.

        Raises ServiceSilent when it already has: a turn waited for its answer to start and
        nothing came either way for `RetryPolicy.answer_silence_s`.
        """
        limit_s = self._link.answer_silence_s
        silence = silence_left(
            now=now,
            awaiting=self._link.ledger.awaiting_first_answer(),
            quiet_since=max(self.last_traffic, self.opened_at),
            limit_s=limit_s,
        )
        if silence is None:
            return wake
        if silence <= 0:
            raise ServiceSilent(limit_s)
        return silence if wake is None else min(wake, silence)

    # ------------------------------------------------------------- server messages

    def on_message(self, msg: types.LiveServerMessage) -> None:
        """Apply one server message to the ledger, the conversation and the report."""
        link = self._link
        self.last_traffic = link.clock()
        if msg.go_away is not None:
            self._on_go_away(msg.go_away)
        if msg.tool_call is not None:
            self._on_tool_call(msg.tool_call)
        if msg.tool_call_cancellation is not None:
            ids = tuple(msg.tool_call_cancellation.ids or ())
            if self.tools is not None:
                self.tools.cancel(ids)
            link.ledger.outbox.drop_tool_responses(set(ids))
            link.report.emit(events.ToolCallCancelled(ids))
        if msg.usage_metadata is not None:
            self._on_usage(msg.usage_metadata)
        if msg.server_content is not None:
            self._on_content(msg.server_content)
        # Last: a handle describes the conversation after everything else in the message.
        handle = messages.new_handle(msg.session_resumption_update)
        if handle is not None:
            answering = link.ledger.answering()
            if answering is not None and answering.generated:
                # Some models never send turnComplete. The server marks a point resumable
                # only when no turn is in progress, so the finished generation was the end
                # of the turn; without this the turn would be resent on top of a handle
                # that already holds it.
                self._complete(answering)
            self._new_handle(handle)

    def _on_content(self, content: types.LiveServerContent) -> None:
        link = self._link
        read = messages.read_content(content)
        turn = link.ledger.take_content(read, link.clock())
        link.report.answer(turn.report_id if turn else None, read)
        if read.ended:
            self._complete(turn)

    def _complete(self, turn: Turn | None) -> None:
        link = self._link
        conversation = link.conversation
        facts = link.ledger.complete(turn, link.clock(), handle_due=conversation.resume)
        if facts is None:
            # A bare end of turn with nothing said either way: nothing to count or log.
            link.report.completed(None, conversation.turns)
            return
        assert turn is not None
        conversation.turns += 1
        link.report.completed(facts, conversation.turns)
        link.changed.set()
        link.turn_done(turn)

    def _on_usage(self, meta: types.UsageMetadata) -> None:
        link = self._link
        usage = messages.usage_of(meta)
        turn_id = link.ledger.add_usage(usage)
        previous = link.conversation.context_shrank(usage.prompt_tokens)
        link.report.usage(turn_id, usage, compressed_from=previous)

    def _on_go_away(self, go_away: types.LiveServerGoAway) -> None:
        link = self._link
        left, self.go_away_deadline = go_away_deadline(messages.time_left_s(go_away), link.clock())
        link.report.go_away(left, between_turns=link.ledger.between_turns(link.clock()))
        link.changed.set()

    def _on_tool_call(self, tool_call: types.LiveServerToolCall) -> None:
        calls = messages.tool_calls(tool_call)
        turn = self._link.ledger.answering()
        self._link.report.tool_calls(turn.report_id if turn else None, calls)
        if self.tools is not None:
            self.tools.start(calls)

    def _new_handle(self, handle: str) -> None:
        link = self._link
        link.ledger.awaiting_handle_since = None
        link.changed.set()
        if link.leaving() or link.withdrawing():
            # The old conversation's last words (it is being left, not continued), or a
            # state that may hold a withdrawn turn.
            return
        link.conversation.adopt(handle, now=link.wall_clock())


# google.genai is imported where it is used: the link loads it after READY=1 (link.py).


async def _send_audio(session: AsyncSession, pcm: bytes) -> None:
    from google.genai import types

    await session.send_realtime_input(audio=types.Blob(data=pcm, mime_type=INPUT_MIME))


async def _send_op(session: AsyncSession, op: Op) -> None:
    from google.genai import types

    match op.kind:
        case OpKind.START:
            await session.send_realtime_input(activity_start=types.ActivityStart())
        case OpKind.AUDIO | OpKind.LOOSE_AUDIO:
            await _send_audio(session, op.pcm)
        case OpKind.END:
            await session.send_realtime_input(activity_end=types.ActivityEnd())
        case OpKind.STREAM_END:
            await session.send_realtime_input(audio_stream_end=True)
        case OpKind.TEXT:
            # client_content is the ordered path, and with automatic activity detection
            # disabled the service answers it at turnComplete=True without activity
            # signals; realtime text would need them.
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=op.text)]),
                turn_complete=True,
            )
        case OpKind.TOOL:
            await session.send_tool_response(function_responses=list(op.responses))


def closing_in_order(
    session: AsyncSession,
) -> Callable[
    [type[BaseException] | None, BaseException | None, TracebackType | None],
    Awaitable[None],
]:
    """An exit callback closing `session` with 1000 when the link leaves it or is stopped."""

    async def close(
        _type: type[BaseException] | None,
        exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(leaf(exc), (EndConnection, asyncio.CancelledError)):
            await session.close()

    return close


LOST_WRITE_LINES = ("socket.send() raised exception.", "SSL connection is closed")
"""asyncio's lines, without context, for writes to a connection already lost."""


class WritesAfterLoss(logging.Filter):
    """Silences and counts asyncio's lines about writes to a lost connection.

    The link says the connection was lost in its own words; these lines, without context,
    would stand beside it as WARNINGs in `journalctl -p warning`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.told = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop it) for one of asyncio's lost-write lines."""
        if record.name == "asyncio" and record.getMessage() in LOST_WRITE_LINES:
            self.count += 1
            return False
        return True

    def tell(self, connection: int) -> None:
        """Once a connection ended: one line if writes to it were lost (asyncio's were not said)."""
        if self.count > self.told:
            self.told = self.count
            # The link's line (its logger): asyncio's own lines were silenced.
            logging.getLogger("talkbox.live.link").info(
                "connection %d was lost in the middle of sending; what it carried goes again",
                connection,
            )


def leaf(exc: BaseException) -> BaseException:
    """The first real cause inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def release_frames(exc: BaseException) -> None:
    """Clear the locals of the frames a finished connection's exception holds.

    On Python 3.11 a TaskGroup's exception group and the frames it was raised through refer
    to each other: the cycle kept each ended connection (its session, websocket and 256 KiB
    TLS buffer) alive until a full collection, which a daemon runs rarely: the soak's RSS
    grew with every reconnect. With the frames cleared, refcounting frees the connection.
    """
    pending = [exc]
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        pending.extend(e for e in (error.__cause__, error.__context__) if e is not None)
