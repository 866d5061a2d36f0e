"""The turn ledger on its own: no emulator, no sockets, no sleeps; the time is passed in."""

from __future__ import annotations

import math

import pytest
from google.genai import types

from talkbox.audio.format import ANSWER_RATE_HZ, pcm_bytes
from talkbox.live.events import Usage
from talkbox.live.messages import ContentRead
from talkbox.live.outbox import MAX_LOOSE_AUDIO_FRAMES, Op, OpKind
from talkbox.live.turn import Refusal, RefusedBy, Turn
from talkbox.live.turns import (
    HANDLE_WAIT_S,
    MAX_PENDING_TURNS,
    MAX_TURN_ATTEMPTS,
    MAX_TURN_AUDIO_BYTES,
    AudioFate,
    Requeued,
    TurnLedger,
)

FRAME = b"\x01\x00" * 320  # 20 ms at 16 kHz


def ledger(*, local_turns: bool = True) -> TurnLedger:
    return TurnLedger(local_turns=local_turns, now=0.0)


def accepted(result: Turn | Refusal) -> Turn:
    assert isinstance(result, Turn), result
    return result


def send_all(book: TurnLedger, now: float) -> list[Op]:
    """Write every queued op, as the send loop does; returns them in order."""
    sent = []
    while (op := book.outbox.next()) is not None:
        book.book_sent(op, now)
        book.outbox.written(op)
        sent.append(op)
    return sent


def content(
    *,
    chunks: tuple[bytes, ...] = (),
    heard: str | None = None,
    said: str | None = None,
    generated: bool = False,
    interrupted: bool = False,
    ended: bool = False,
) -> ContentRead:
    return ContentRead(
        heard=heard,
        heard_finished=False,
        chunks=chunks,
        said=said,
        said_finished=False,
        generated=generated,
        interrupted=interrupted,
        ended=ended,
    )


def test_a_ninth_pending_turn_is_refused() -> None:
    book = ledger()
    for n in range(MAX_PENDING_TURNS):
        accepted(book.add_text(f"question {n}", now=1.0))
    refused = book.add_text("one too many", now=1.0)
    assert refused == Refusal(
        turn_id=MAX_PENDING_TURNS + 1,
        reason=f"{MAX_PENDING_TURNS} turns are already waiting for an answer",
        by=RefusedBy.PENDING_LIMIT,
    )
    assert len(book.turns) == MAX_PENDING_TURNS
    # The refused id is spent: the next turn does not reuse it.
    book.fail(book.turns[1])
    assert accepted(book.add_text("room again", now=2.0)).id == MAX_PENDING_TURNS + 2


def test_while_a_failure_is_waited_out_new_turns_are_refused_with_its_reason() -> None:
    book = ledger()
    book.refusing = "HTTP 401: API key not valid"
    refused = book.open_audio(now=1.0)
    assert isinstance(refused, Refusal)
    assert refused.by is RefusedBy.FAILURE
    assert refused.reason == "HTTP 401: API key not valid"
    assert not book.turns
    assert book.outbox.next() is None


def test_a_resent_turn_sends_its_audio_whole() -> None:
    book = ledger()
    turn = accepted(book.open_audio(now=0.0))
    frames = [bytes([n]) * 640 for n in range(3)]
    for frame in frames:
        assert book.add_audio(frame) is AudioFate.IN_TURN
    # The connection drops after activityStart and one frame went out.
    for _ in range(2):
        op = book.outbox.next()
        assert op is not None
        book.book_sent(op, 0.1)
        book.outbox.written(op)
    book.close()
    book.connection_lost()

    (pending,) = book.rebuild_outbox()
    assert book.requeue(pending) is Requeued.RESENT
    sent = send_all(book, now=1.0)
    assert [op.kind for op in sent] == [OpKind.START, *[OpKind.AUDIO] * 3, OpKind.END]
    assert [op.pcm for op in sent if op.kind is OpKind.AUDIO] == frames
    assert turn.attempts == 2
    assert turn.sent
    assert turn.sent_at == 1.0


def test_a_turn_not_yet_sent_is_queued_for_its_first_sending_and_not_counted_as_resent() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    (pending,) = book.rebuild_outbox()
    assert book.requeue(pending) is Requeued.FIRST
    assert send_all(book, now=0.5) == [Op(OpKind.TEXT, turn.id, text="hello")]


def test_a_turn_cut_too_often_is_given_up_and_not_queued() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    for _ in range(MAX_TURN_ATTEMPTS):
        send_all(book, now=0.0)
        book.connection_lost()
        for pending in book.rebuild_outbox():
            book.requeue(pending)
    assert turn.attempts == MAX_TURN_ATTEMPTS
    book.rebuild_outbox()
    assert book.requeue(turn) is Requeued.GIVE_UP
    assert book.outbox.next() is None


def test_a_failed_turn_leaves_nothing_in_the_outbox() -> None:
    book = ledger()
    first = accepted(book.open_audio(now=0.0))
    book.add_audio(FRAME)
    book.close()
    second = accepted(book.add_text("next", now=0.0))
    book.fail(first)
    assert first.id not in book.turns
    assert list(book.outbox.ops) == [Op(OpKind.TEXT, second.id, text="next")]


def test_failing_the_open_turn_closes_it_so_its_later_audio_is_dropped() -> None:
    book = ledger()
    turn = accepted(book.open_audio(now=0.0))
    book.fail(turn)
    assert book.open_turn is None
    assert book.add_audio(FRAME) is AudioFate.OUTSIDE_TURN
    assert book.outbox.next() is None


def test_failing_every_turn_empties_the_outbox_and_the_loose_audio() -> None:
    book = ledger(local_turns=False)
    book.add_audio(FRAME)
    turns = [accepted(book.add_text(f"q{n}", now=0.0)) for n in range(3)]
    assert book.fail_all() == turns
    assert not book.turns
    assert not book.outbox.ops
    assert not book.outbox.loose
    assert book.open_turn is None


def test_with_local_turn_detection_audio_outside_a_turn_is_dropped_and_counted() -> None:
    book = ledger()
    assert [book.add_audio(FRAME) for _ in range(3)] == [AudioFate.OUTSIDE_TURN] * 3
    assert book.dropped_outside_turn == 3
    assert book.outside_run == 3
    assert book.outbox.next() is None
    # A turn starts a new run (so the link logs the next run of drops once again).
    turn = accepted(book.open_audio(now=0.0))
    book.close()
    book.add_audio(FRAME)
    assert book.outside_run == 1
    assert book.dropped_outside_turn == 4
    assert all(op.turn_id == turn.id for op in book.outbox.ops)


def test_with_server_turn_detection_the_backlog_keeps_the_newest_loose_frames() -> None:
    book = ledger(local_turns=False)
    frames = [n.to_bytes(2, "little") * 320 for n in range(MAX_LOOSE_AUDIO_FRAMES + 5)]
    fates = [book.add_audio(frame) for frame in frames]
    assert fates[:MAX_LOOSE_AUDIO_FRAMES] == [AudioFate.LOOSE] * MAX_LOOSE_AUDIO_FRAMES
    assert fates[MAX_LOOSE_AUDIO_FRAMES:] == [AudioFate.LOOSE_DISPLACED] * 5
    assert book.outbox.loose_dropped == 5
    assert [op.pcm for op in book.outbox.loose] == frames[5:]


def test_turns_go_out_before_loose_audio() -> None:
    book = ledger(local_turns=False)
    book.add_audio(FRAME)
    turn = accepted(book.add_text("question", now=0.0))
    assert [op.kind for op in send_all(book, now=0.0)] == [OpKind.TEXT, OpKind.LOOSE_AUDIO]
    assert turn.sent


def test_audio_past_a_minute_is_dropped_from_the_turn_and_counted() -> None:
    book = ledger()
    turn = accepted(book.open_audio(now=0.0))
    second = pcm_bytes(1, 16_000)
    for _ in range(60):
        assert book.add_audio(b"\0" * second) is AudioFate.IN_TURN
    assert turn.audio_bytes == MAX_TURN_AUDIO_BYTES
    assert book.add_audio(FRAME) is AudioFate.TOO_LONG
    assert book.add_audio(FRAME) is AudioFate.TOO_LONG
    assert turn.dropped_frames == 2
    assert turn.audio_bytes == MAX_TURN_AUDIO_BYTES


def test_an_audio_turn_is_fully_sent_only_at_its_activity_end() -> None:
    book = ledger()
    turn = accepted(book.open_audio(now=0.0))
    book.add_audio(FRAME)
    start, audio = book.outbox.next(), None
    assert start is not None
    assert book.book_sent(start, 1.0) is None
    assert turn.on_wire
    assert turn.attempts == 1
    assert not turn.sent
    book.outbox.written(start)
    audio = book.outbox.next()
    assert audio is not None
    assert audio.kind is OpKind.AUDIO
    assert book.book_sent(audio, 1.1) is None
    book.outbox.written(audio)
    book.close()
    end = book.outbox.next()
    assert end is not None
    assert book.book_sent(end, 1.2) is turn
    assert turn.sent
    assert turn.sent_at == 1.2
    assert book.last_activity == 1.2


def test_only_the_written_op_leaves_its_queue() -> None:
    book = ledger()
    first = accepted(book.add_text("first", now=0.0))
    second = accepted(book.add_text("second", now=0.0))
    op = book.outbox.next()
    assert op is not None
    book.book_sent(op, 0.0)
    # While the write was under way the turn failed: its op is gone already.
    book.fail(first)
    book.outbox.written(op)
    assert list(book.outbox.ops) == [Op(OpKind.TEXT, second.id, text="second")]


def test_a_lost_connection_leaves_nothing_on_the_wire_and_cuts_the_servers_own_turn() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    send_all(book, now=0.0)
    book.awaiting_handle_since = 0.0
    # With our turn answered, the server starts one of its own.
    book.complete(turn, 1.0, handle_due=False)
    implicit = book.take_content(content(chunks=(b"\0\0",)), 1.5)
    assert implicit is not None
    assert implicit.implicit
    other = accepted(book.add_text("again", now=2.0))
    send_all(book, now=2.0)
    assert book.connection_lost() is implicit
    assert not other.sent
    assert not other.on_wire
    assert book.implicit is None
    assert book.awaiting_handle_since is None


def test_the_oldest_fully_sent_turn_is_the_one_being_answered() -> None:
    book = ledger()
    first = accepted(book.add_text("first", now=0.0))
    second = accepted(book.add_text("second", now=0.0))
    assert book.answering() is None
    send_all(book, now=0.0)
    assert book.answering() is first
    book.complete(first, 1.0, handle_due=False)
    assert book.answering() is second


def test_content_is_recorded_in_the_turn_it_answers() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    send_all(book, now=10.0)
    chunk = b"\0\0" * 2400  # 0.1 s at 24 kHz
    assert book.take_content(content(heard="hel", chunks=(chunk,)), 10.25) is turn
    book.take_content(content(heard="lo ", chunks=(chunk, chunk), said=" hi "), 10.5)
    book.take_content(content(generated=True, interrupted=True), 10.75)
    assert turn.first_audio_at == 10.25
    assert turn.answer_bytes == 3 * len(chunk)
    assert turn.generated
    assert turn.interrupted
    facts = book.complete(turn, 11.0, handle_due=True)
    assert facts is not None
    assert facts.turn_id == turn.id
    assert facts.label == f"turn {turn.id}"
    assert facts.duration_s == pytest.approx(1.0)
    assert facts.first_audio_s == pytest.approx(0.25)
    assert facts.audio_s == pytest.approx(3 * len(chunk) / (2 * ANSWER_RATE_HZ))
    assert (facts.heard, facts.said) == ("hello", "hi")
    assert facts.interrupted
    assert turn.id not in book.turns
    assert book.awaiting_handle_since == 11.0


def test_content_with_no_turn_of_ours_opens_the_servers_own_and_is_reported_without_an_id() -> None:
    book = ledger(local_turns=False)
    assert book.take_content(content(), 5.0) is None
    turn = book.take_content(content(said="hi"), 5.0)
    assert turn is not None
    assert turn is book.implicit
    assert turn.report_id is None
    assert turn.label == "server turn"
    facts = book.complete(turn, 6.0, handle_due=False)
    assert facts is not None
    assert facts.turn_id is None
    assert facts.first_audio_s is None
    assert facts.duration_s == pytest.approx(1.0)
    assert book.implicit is None


def test_a_bare_end_of_turn_has_no_facts_but_a_handle_is_still_due() -> None:
    book = ledger()
    assert book.complete(None, 3.0, handle_due=True) is None
    assert book.awaiting_handle_since == 3.0
    assert book.last_activity == 3.0


def test_usage_goes_to_the_turn_being_answered_and_after_it_to_the_one_just_answered() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    send_all(book, now=0.0)
    usage = Usage(prompt_tokens=10, response_tokens=5, total_tokens=15)
    assert book.add_usage(usage) == turn.id
    assert turn.usage == usage
    book.complete(turn, 1.0, handle_due=False)
    assert book.add_usage(usage) == turn.id
    assert ledger().add_usage(usage) is None


def test_a_due_handle_is_awaited_for_a_second_and_keeps_the_connection_mid_turn() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    send_all(book, now=0.0)
    assert not book.between_turns(0.5)
    book.complete(turn, 1.0, handle_due=True)
    assert book.awaiting_handle(1.0 + HANDLE_WAIT_S / 2)
    assert book.handle_due_at(1.5) == 1.0 + HANDLE_WAIT_S
    assert not book.between_turns(1.5)
    assert not book.quiet(1.5)
    later = 1.0 + HANDLE_WAIT_S
    assert not book.awaiting_handle(later)
    assert book.handle_due_at(later) is None
    assert book.between_turns(later)
    assert book.quiet(later)


def test_a_queued_turn_not_yet_on_the_wire_is_between_turns_but_not_quiet() -> None:
    book = ledger()
    accepted(book.add_text("hello", now=0.0))
    assert book.between_turns(0.0)
    assert not book.quiet(0.0)
    assert book.has_work()


def test_closing_without_an_open_turn_queues_nothing() -> None:
    book = ledger()
    assert book.close() is None
    assert not book.has_work()


def test_the_current_turn_is_the_newest_pending_one_else_the_servers_own() -> None:
    book = ledger()
    assert book.current() is None
    accepted(book.add_text("first", now=0.0))
    newest = accepted(book.add_text("second", now=0.0))
    assert book.current() is newest


def test_tool_responses_queue_behind_what_was_queued_before_them() -> None:
    book = ledger()
    turn = accepted(book.add_text("hello", now=0.0))
    response = types.FunctionResponse(id="1", name="get_time", response={"time": "12:00"})
    book.add_tool_response((response,))
    ops = send_all(book, now=0.0)
    assert [op.kind for op in ops] == [OpKind.TEXT, OpKind.TOOL]
    assert ops[1].responses == (response,)
    assert ops[0].turn_id == turn.id


@pytest.mark.parametrize(
    ("kind", "opens", "completes"),
    [
        (OpKind.START, True, False),
        (OpKind.TEXT, True, True),
        (OpKind.END, False, True),
        (OpKind.AUDIO, False, False),
        (OpKind.LOOSE_AUDIO, False, False),
        (OpKind.STREAM_END, False, False),
        (OpKind.TOOL, False, False),
    ],
)
def test_each_kind_of_message_says_whether_it_opens_or_completes_a_turn(
    kind: OpKind, opens: bool, completes: bool
) -> None:
    assert (kind.opens_turn, kind.completes_turn) == (opens, completes)


def test_after_a_goaway_a_new_turn_waits_for_the_next_connection_but_its_rest_goes_on() -> None:
    book = ledger()
    turn = accepted(book.open_audio(now=0.0))
    start = book.outbox.next()
    assert start is not None
    assert book.hold(start, 0.0, leaving=True) == math.inf
    book.book_sent(start, 0.0)
    book.outbox.written(start)
    book.add_audio(FRAME)
    audio = book.outbox.next()
    assert audio is not None
    assert audio.turn_id == turn.id
    assert book.hold(audio, 0.0, leaving=True) is None


def test_a_new_turn_waits_while_the_handle_covering_the_previous_one_is_due() -> None:
    book = ledger()
    first = accepted(book.add_text("first", now=0.0))
    send_all(book, now=0.0)
    book.complete(first, 1.0, handle_due=True)
    accepted(book.add_text("second", now=1.0))
    op = book.outbox.next()
    assert op is not None
    assert book.hold(op, 1.25, leaving=False) == pytest.approx(HANDLE_WAIT_S - 0.25)
    assert book.hold(op, 1.0 + HANDLE_WAIT_S, leaving=False) is None
    book.awaiting_handle_since = None  # the handle came
    assert book.hold(op, 1.25, leaving=False) is None
