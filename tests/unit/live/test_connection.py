"""One connection's tasks against a real ledger, report and conversation: no emulator, no sleeps.

Server messages are SDK objects given to `Connection.on_message`; the clock is a number the
test moves; what the connection tells the link (`LinkSide`'s calls back) is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from google.genai import types

from talkbox.fakes import EventRecorder
from talkbox.live.connection import Connection, EndConnection, LinkSide
from talkbox.live.events import (
    ContextCompressed,
    GoAwayReceived,
    ToolCallCancelled,
    TurnCompleted,
    TurnSent,
    UsageReported,
)
from talkbox.live.failures import ServiceSilent
from talkbox.live.goaway import EndReason
from talkbox.live.handles import StoredConversation
from talkbox.live.outbox import OpKind
from talkbox.live.report import LinkReport
from talkbox.live.turn import Turn
from talkbox.live.turns import TurnLedger

SILENCE_S = 30.0


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Link:
    """The link's side, recorded: what a connection changes and what it says back."""

    clock: Clock = field(default_factory=Clock)
    events: EventRecorder = field(default_factory=EventRecorder)
    ledger: TurnLedger = field(default_factory=lambda: TurnLedger(local_turns=True, now=0.0))
    conversation: StoredConversation = field(
        default_factory=lambda: StoredConversation(None, max_age_s=3600.0, resume=True)
    )
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    leaving: bool = False
    withdrawing: bool = False
    done: list[Turn] = field(default_factory=list)
    failed: list[tuple[Turn, str]] = field(default_factory=list)

    def side(self) -> LinkSide:
        return LinkSide(
            ledger=self.ledger,
            report=LinkReport(self.events, transcripts=False),
            conversation=self.conversation,
            changed=self.changed,
            clock=self.clock,
            wall_clock=lambda: 1_000_000.0,
            idle_disconnect_s=0.0,
            answer_silence_s=SILENCE_S,
            leaving=lambda: self.leaving,
            withdrawing=lambda: self.withdrawing,
            turn_done=self.done.append,
            fail_turn=self.fail_turn,
        )

    def fail_turn(self, turn: Turn, reason: str) -> None:
        # As the link does when a new conversation waited for this turn: the turn leaves
        # the ledger, and the connection is to be left.
        self.failed.append((turn, reason))
        self.ledger.fail(turn)
        self.leaving = True

    def connection(self) -> Connection:
        return Connection(self.side(), 1, None)

    def asked(self) -> Turn:
        """A text turn, written whole at the clock's time."""
        turn = self.ledger.add_text("hello", self.clock.now)
        assert isinstance(turn, Turn)
        while (op := self.ledger.outbox.next()) is not None:
            self.ledger.book_sent(op, self.clock.now)
            self.ledger.outbox.written(op)
        return turn


def content(**fields: object) -> types.LiveServerMessage:
    return types.LiveServerMessage(server_content=types.LiveServerContent(**fields))


def answer_audio(seconds: float) -> types.LiveServerMessage:
    data = b"\x00\x01" * int(24_000 * seconds)
    part = types.Part(inline_data=types.Blob(data=data, mime_type="audio/pcm;rate=24000"))
    return content(model_turn=types.Content(role="model", parts=[part]))


def handle(value: str) -> types.LiveServerMessage:
    update = types.LiveServerSessionResumptionUpdate(new_handle=value, resumable=True)
    return types.LiveServerMessage(session_resumption_update=update)


def test_a_handle_after_a_finished_generation_ends_the_turn_before_it_is_kept() -> None:
    link = Link()
    conn = link.connection()
    turn = link.asked()
    link.clock.now = 1.0
    conn.on_message(answer_audio(0.5))
    conn.on_message(content(generation_complete=True))
    assert link.done == []
    # Some models never send turnComplete: the resumable handle says the turn is over.
    conn.on_message(handle("h1"))
    assert link.done == [turn]
    assert [e.turn_id for e in link.events.of(TurnCompleted)] == [turn.id]
    assert link.conversation.turns == 1
    assert link.conversation.handle == "h1"
    assert not link.ledger.turns
    assert link.ledger.awaiting_handle_since is None, "the handle it waited for came"


def test_a_handle_from_a_conversation_being_left_ends_the_wait_but_is_not_kept() -> None:
    link = Link(leaving=True)
    conn = link.connection()
    link.ledger.awaiting_handle_since = 0.0
    conn.on_message(handle("old"))
    assert link.conversation.handle is None
    assert link.ledger.awaiting_handle_since is None
    assert link.changed.is_set(), "whoever waits for the handle looks again"


def test_usage_after_the_answer_goes_to_that_turn_and_a_smaller_prompt_is_a_compression() -> None:
    link = Link()
    conn = link.connection()
    turn = link.asked()
    conn.on_message(content(turn_complete=True))
    for prompt in (900, 400):
        meta = types.UsageMetadata(prompt_token_count=prompt, total_token_count=prompt)
        conn.on_message(types.LiveServerMessage(usage_metadata=meta))
    assert [e.turn_id for e in link.events.of(UsageReported)] == [turn.id, turn.id]
    assert link.events.of(ContextCompressed) == [
        ContextCompressed(before_tokens=900, after_tokens=400)
    ]


def test_a_cancelled_calls_queued_response_never_leaves_and_the_owner_hears_of_it() -> None:
    link = Link()
    conn = link.connection()
    link.ledger.add_tool_response(
        (
            types.FunctionResponse(id="c1", name="get_time", response={}),
            types.FunctionResponse(id="c2", name="get_time", response={}),
        )
    )
    cancel = types.LiveServerToolCallCancellation(ids=["c1"])
    conn.on_message(types.LiveServerMessage(tool_call_cancellation=cancel))
    tools = [op for op in link.ledger.outbox.ops if op.kind is OpKind.TOOL]
    assert [r.id for op in tools for r in op.responses] == ["c2"]
    assert link.events.of(ToolCallCancelled) == [ToolCallCancelled(("c1",))]


async def test_a_go_away_between_turns_ends_the_connection_at_once() -> None:
    link = Link()
    conn = link.connection()
    conn.on_message(types.LiveServerMessage(go_away=types.LiveServerGoAway(time_left="50s")))
    assert link.events.of(GoAwayReceived) == [GoAwayReceived(50.0)]
    assert conn.go_away_deadline is not None
    with pytest.raises(EndConnection) as ended:
        await conn.watch()
    assert ended.value.why is EndReason.GOAWAY


async def test_mid_turn_a_go_away_ends_the_connection_once_its_deadline_passed() -> None:
    link = Link()
    conn = link.connection()
    link.asked()
    conn.on_message(types.LiveServerMessage(go_away=types.LiveServerGoAway(time_left="10s")))
    assert conn.go_away_deadline is not None
    link.clock.now = conn.go_away_deadline
    with pytest.raises(EndConnection) as ended:
        await conn.watch()
    assert ended.value.why is EndReason.GOAWAY_DEADLINE


async def test_a_turn_the_service_never_starts_answering_fails_the_connection() -> None:
    link = Link()
    conn = link.connection()
    link.asked()
    link.clock.now = SILENCE_S
    with pytest.raises(ServiceSilent):
        await conn.watch()


async def test_an_answer_that_never_ends_fails_its_turn_through_the_link() -> None:
    link = Link()
    conn = link.connection()
    turn = link.asked()
    link.clock.now = 1.0
    conn.on_message(answer_audio(0.5))
    link.clock.now = 1.0 + 600.0
    with pytest.raises(EndConnection) as ended:
        await conn.watch()
    assert link.failed == [
        (turn, "the service never ended its answer (the answer stopped before generationComplete)")
    ]
    assert ended.value.why is EndReason.NEW_CONVERSATION


class RecordingSession:
    """The SDK session's sending side, recording each write and what was emitted by then."""

    def __init__(self, events: EventRecorder) -> None:
        self.events = events
        self.writes: list[tuple[str, list[object]]] = []
        self.wrote = asyncio.Event()

    async def send_client_content(self, **kwargs: object) -> None:
        self.writes.append(("client_content", list(self.events.events)))
        self.wrote.set()


async def test_a_turn_is_booked_sent_before_its_write_so_an_early_answer_finds_it() -> None:
    link = Link()
    conn = link.connection()
    turn = link.ledger.add_text("hello", 0.0)
    assert isinstance(turn, Turn)
    link.clock.now = 2.0
    session = RecordingSession(link.events)
    sending = asyncio.create_task(conn.send(session))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(10):
            await session.wrote.wait()
    finally:
        sending.cancel()
    assert session.writes == [("client_content", [TurnSent(turn.id)])]
    assert turn.sent
    assert link.ledger.outbox.next() is None
    assert conn.last_traffic == 2.0
