"""The end of an answer on today's models: IDLE, fillers, reasons, and bounded waits.

No emulator and no sleeps: the ledger is given the time, messages are SDK objects.
"""

from __future__ import annotations

import warnings

import pytest
from google.genai import types

from talkbox.audio.format import ANSWER_RATE_HZ, pcm_bytes
from talkbox.live.answer_end import ANSWER_SILENCE_S, END_GRACE_S, IN_PROGRESS_WAIT_S
from talkbox.live.messages import ContentRead, read_content
from talkbox.live.outbox import Op, OpKind
from talkbox.live.report import format_turn_facts
from talkbox.live.turn import Turn
from talkbox.live.turns import TurnLedger

SECOND = b"\x00\x01" * ANSWER_RATE_HZ  # one second of answer audio


def audio(data: bytes) -> types.LiveServerContent:
    part = types.Part(inline_data=types.Blob(data=data, mime_type="audio/pcm;rate=24000"))
    return types.LiveServerContent(model_turn=types.Content(role="model", parts=[part]))


def asked(book: TurnLedger, now: float) -> Turn:
    turn = book.add_text("hello", now)
    assert isinstance(turn, Turn)
    while (op := book.outbox.next()) is not None:
        book.book_sent(op, now)
        book.outbox.written(op)
    return turn


def take(book: TurnLedger, content: types.LiveServerContent, now: float) -> ContentRead:
    read = read_content(content)
    book.take_content(read, now)
    return read


def test_a_3_8_answer_ends_at_idle_and_says_why_when_it_was_blocked() -> None:
    content = types.LiveServerContent(
        turn_complete=True,
        interaction_status=types.InteractionStatus.IDLE,
        turn_complete_reason=types.TurnCompleteReason.GENERATED_CONTENT_SAFETY,
        waiting_for_input=True,
    )
    read = read_content(content)
    assert read.ended
    assert read.turn_complete
    assert not read.goes_on
    assert (read.status, read.end_reason, read.waiting_for_input) == (
        "IDLE",
        "GENERATED_CONTENT_SAFETY",
        True,
    )
    book = TurnLedger(local_turns=True, now=0.0)
    turn = asked(book, 1.0)
    book.take_content(read, 2.0)
    facts = book.complete(turn, 2.0, handle_due=False)
    assert facts is not None
    assert (facts.end_reason, facts.waiting_for_input) == ("GENERATED_CONTENT_SAFETY", True)
    line = format_turn_facts(facts, 1, transcripts=False)
    assert line.endswith(
        "; ended abnormally: GENERATED_CONTENT_SAFETY; the model was waiting for more input"
    )


def test_a_normal_end_has_no_reason() -> None:
    read = read_content(
        types.LiveServerContent(
            turn_complete=True,
            turn_complete_reason=types.TurnCompleteReason.TURN_COMPLETE_REASON_UNSPECIFIED,
        )
    )
    assert read.ended
    assert read.end_reason is None
    assert read.status is None


def test_a_filler_ended_in_progress_is_not_the_end_and_waits_boundedly_for_the_answer() -> None:
    book = TurnLedger(local_turns=True, now=0.0)
    turn = asked(book, 1.0)
    filler = audio(SECOND)
    filler.output_transcription = types.Transcription(text="Let me think.", finished=True)
    take(book, filler, 1.5)
    take(book, types.LiveServerContent(generation_complete=True), 1.6)
    assert turn.generated
    filler_end = take(
        book,
        types.LiveServerContent(
            turn_complete=True, interaction_status=types.InteractionStatus.IN_PROGRESS
        ),
        2.5,
    )
    assert filler_end.goes_on
    assert not filler_end.ended
    # The filler's generationComplete is not the answer's: the real answer is still to come.
    assert not turn.generated
    assert book.end_due_at() == pytest.approx(2.5 + IN_PROGRESS_WAIT_S)
    assert book.overdue(2.5 + IN_PROGRESS_WAIT_S - 0.1) is None
    # The answer comes and ends IDLE: one turn, filler and answer together.
    answer = audio(SECOND)
    answer.output_transcription = types.Transcription(text="Because of air.", finished=True)
    take(book, answer, 10.0)
    take(book, types.LiveServerContent(generation_complete=True), 10.1)
    done = take(
        book,
        types.LiveServerContent(
            turn_complete=True, interaction_status=types.InteractionStatus.IDLE
        ),
        11.0,
    )
    assert done.ended
    facts = book.complete(turn, 11.0, handle_due=False)
    assert facts is not None
    assert facts.audio_s == pytest.approx(2.0)
    assert facts.said == "Let me think. Because of air."
    assert facts.end_reason is None


def test_after_generation_complete_the_end_is_due_when_the_answer_would_have_played() -> None:
    book = TurnLedger(local_turns=True, now=0.0)
    turn = asked(book, 1.0)
    # Four seconds of audio in one second: 3.8 sends it about four times faster.
    for step in range(4):
        take(book, audio(SECOND), 2.0 + step * 0.25)
    take(book, types.LiveServerContent(generation_complete=True), 3.0)
    assert book.end_due_at() == pytest.approx(2.0 + 4.0 + END_GRACE_S)
    assert book.overdue(2.0 + 4.0 + END_GRACE_S - 0.01) is None
    overdue = book.overdue(2.0 + 4.0 + END_GRACE_S)
    assert overdue is not None
    assert overdue[0] is turn
    assert overdue[1] == "the service never ended its answer (generationComplete, then no end)"


def test_an_unknown_status_with_turn_complete_fails_the_turn_after_a_short_wait() -> None:
    with warnings.catch_warnings():
        # The SDK warns about an enum value it does not know, and keeps it.
        warnings.simplefilter("ignore")
        content = types.LiveServerContent.model_validate(
            {"turnComplete": True, "interactionStatus": "WAITING_FOR_INPUT"}
        )
    book = TurnLedger(local_turns=True, now=0.0)
    turn = asked(book, 1.0)
    take(book, audio(SECOND), 1.2)
    read = take(book, content, 1.5)
    assert (read.ended, read.goes_on, read.status_known) == (False, True, False)
    assert read.status == "WAITING_FOR_INPUT"
    overdue = book.overdue(1.5 + END_GRACE_S)
    assert overdue == (
        turn,
        "the service never ended its answer (turnComplete with interactionStatus "
        "WAITING_FOR_INPUT)",
    )


def test_an_answer_that_stops_mid_way_is_due_after_a_silence() -> None:
    book = TurnLedger(local_turns=True, now=0.0)
    turn = asked(book, 1.0)
    assert book.end_due_at() is None, "no bound before the answer starts"
    take(book, audio(SECOND), 2.0)
    assert book.end_due_at() == pytest.approx(2.0 + ANSWER_SILENCE_S)
    assert book.overdue(2.0 + ANSWER_SILENCE_S) == (
        turn,
        "the service never ended its answer (the answer stopped before generationComplete)",
    )


def test_responses_to_cancelled_calls_leave_the_outbox_and_the_rest_stay() -> None:
    book = TurnLedger(local_turns=True, now=0.0)
    cancelled = types.FunctionResponse(id="c1", name="slow", response={"ok": True})
    kept = types.FunctionResponse(id="c2", name="quick", response={"ok": True})
    book.add_tool_response((cancelled, kept))
    book.add_tool_response((cancelled,))
    text = book.add_text("next", 1.0)
    assert isinstance(text, Turn)
    book.outbox.drop_tool_responses({"c1"})
    ops = list(book.outbox.ops)
    assert [op.kind for op in ops] == [OpKind.TOOL, OpKind.TEXT]
    assert ops[0] == Op(OpKind.TOOL, responses=(kept,))


def test_a_long_answer_keeps_pushing_its_end_back_while_audio_arrives() -> None:
    book = TurnLedger(local_turns=True, now=0.0)
    asked(book, 1.0)
    take(book, audio(b"\x00" * pcm_bytes(1, ANSWER_RATE_HZ)), 2.0)
    first = book.end_due_at()
    take(book, audio(SECOND), 20.0)
    later = book.end_due_at()
    assert first is not None
    assert later is not None
    assert later > first
