"""The link's words: each fact becomes one event and at most one log line, worded here."""

from __future__ import annotations

import logging

import pytest

from talkbox.fakes import EventRecorder
from talkbox.live.backoff import OutageStep
from talkbox.live.events import (
    AnswerAudioReceived,
    AnswerInterrupted,
    ConversationRestarted,
    GenerationCompleted,
    LinkConnected,
    LinkDisconnected,
    TranscriptReceived,
    TurnCompleted,
    TurnFailed,
    Usage,
)
from talkbox.live.goaway import EndReason
from talkbox.live.messages import ContentRead
from talkbox.live.report import LinkReport, format_turn_facts
from talkbox.live.turns import Refusal, RefusedBy, TurnFacts

FACTS = TurnFacts(
    turn_id=3,
    label="turn 3",
    interrupted=False,
    duration_s=1.234,
    first_audio_s=0.4567,
    audio_s=2.26,
    heard="what time is it",
    said="It is noon.",
    usage=Usage(prompt_tokens=120, response_tokens=30, total_tokens=150),
)


@pytest.fixture
def link_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="talkbox.live.link")
    return caplog


def test_the_fact_line_gives_durations_latency_audio_and_tokens() -> None:
    assert format_turn_facts(FACTS, 5, transcripts=False) == (
        "turn 3 (conversation turn 5) answered in 1.23s: first audio after 457 ms, "
        "2.3s of audio, tokens prompt=120 response=30 total=150"
    )


def test_the_fact_line_tells_what_was_heard_and_said_only_when_asked_to() -> None:
    line = format_turn_facts(FACTS, 5, transcripts=True)
    assert line.endswith(", heard 'what time is it', said 'It is noon.'")


def test_an_interrupted_answer_without_audio_or_usage_says_so() -> None:
    facts = TurnFacts(
        turn_id=None,
        label="server turn",
        interrupted=True,
        duration_s=0.5,
        first_audio_s=None,
        audio_s=0.0,
        heard="",
        said="",
        usage=None,
    )
    assert format_turn_facts(facts, 1, transcripts=False) == (
        "server turn (conversation turn 1) answered (interrupted) in 0.50s: first audio after "
        "0 ms, 0.0s of audio, tokens prompt=-1 response=-1 total=-1"
    )


def test_a_completed_turn_is_one_fact_line_and_one_event(
    link_log: pytest.LogCaptureFixture,
) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).completed(FACTS, 5)
    assert recorder.events == [
        TurnCompleted(
            turn_id=3,
            interrupted=False,
            audio_s=2.26,
            first_audio_s=0.4567,
            duration_s=1.234,
            transcript="It is noon.",
            usage=FACTS.usage,
            conversation_turn=5,
        )
    ]
    assert [r.getMessage() for r in link_log.records] == [
        format_turn_facts(FACTS, 5, transcripts=False)
    ]


def test_a_bare_end_of_turn_is_an_event_without_a_line(link_log: pytest.LogCaptureFixture) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=True).completed(None, 2)
    (done,) = recorder.of(TurnCompleted)
    assert done.turn_id is None
    assert done.conversation_turn == 2
    assert not link_log.records


@pytest.mark.parametrize(
    ("by", "level"),
    [(RefusedBy.FAILURE, logging.DEBUG), (RefusedBy.PENDING_LIMIT, logging.WARNING)],
)
def test_a_refused_turn_is_reported_and_logged_loudly_only_when_nothing_else_said_why(
    link_log: pytest.LogCaptureFixture, by: RefusedBy, level: int
) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).refused(Refusal(turn_id=9, reason="because", by=by))
    assert recorder.events == [TurnFailed(turn_id=9, reason="because")]
    assert [(r.levelno, r.getMessage()) for r in link_log.records] == [
        (level, "turn 9 refused: because")
    ]


def test_an_answer_is_reported_in_the_order_the_server_sent_it() -> None:
    recorder = EventRecorder()
    content = ContentRead(
        heard="hi",
        heard_finished=True,
        chunks=(b"\1\1", b"\2\2"),
        said="hello",
        said_finished=False,
        generated=True,
        interrupted=True,
        ended=True,
    )
    LinkReport(recorder, transcripts=False).answer(7, content)
    assert recorder.events == [
        TranscriptReceived(turn_id=7, direction="input", text="hi", finished=True),
        AnswerAudioReceived(turn_id=7, pcm=b"\1\1", rate=24_000),
        AnswerAudioReceived(turn_id=7, pcm=b"\2\2", rate=24_000),
        TranscriptReceived(turn_id=7, direction="output", text="hello", finished=False),
        GenerationCompleted(7),
        AnswerInterrupted(7),
    ]


def test_an_idle_close_waits_for_work_and_other_ends_reconnect_at_once() -> None:
    recorder = EventRecorder()
    report = LinkReport(recorder, transcripts=False)
    report.ended_on_purpose(EndReason.IDLE)
    report.ended_on_purpose(EndReason.GOAWAY)
    assert recorder.events == [
        LinkDisconnected(reason="idle", retry_in_s=0.0, reconnecting=False, idle=True),
        LinkDisconnected(reason="GoAway", retry_in_s=0.0),
    ]


def test_a_connection_is_logged_with_its_conversation(link_log: pytest.LogCaptureFixture) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).connected(
        reason="reconnect", resumed=True, conversation_id="abc", turns=4, reconnects=2
    )
    assert recorder.events == [
        LinkConnected(resumed=True, conversation_id="abc", reconnects=2, reason="reconnect")
    ]
    assert link_log.records[0].getMessage() == (
        "connected (reconnect, resumed conversation abc, 4 turns so far)"
    )


def test_a_conversation_the_service_ended_is_restarted_and_waits_for_the_next_turn() -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).conversation_ended("1008 context", "new-id")
    assert recorder.events == [
        ConversationRestarted(reason="1008 context", conversation_id="new-id"),
        LinkDisconnected(reason="1008 context", retry_in_s=0.0, reconnecting=False),
    ]


def outage_step(*, offline: bool, failures: int = 3, lasted_s: float = 75.0) -> OutageStep:
    return OutageStep(
        failures=failures,
        lasted_s=lasted_s,
        level=logging.WARNING if offline else logging.INFO,
        offline=offline,
        give_up=False,
    )


def test_a_lost_connection_is_info_until_the_box_is_offline_then_a_warning(
    link_log: pytest.LogCaptureFixture,
) -> None:
    recorder = EventRecorder()
    report = LinkReport(recorder, transcripts=False)
    report.lost("HTTP 503", 2.0, during_setup=True, outage=outage_step(offline=False))
    report.lost("HTTP 503", 30.0, during_setup=True, outage=outage_step(offline=True))
    assert [(r.levelno, r.getMessage()) for r in link_log.records] == [
        (logging.INFO, "connection refused (HTTP 503); reconnecting in 2.00s"),
        (
            logging.WARNING,
            "offline for 1m15s: connection refused 3 times in a row (last: HTTP 503); "
            "reconnecting in 30.00s",
        ),
    ]
    assert [e.offline for e in recorder.of(LinkDisconnected)] == [False, True]


def test_giving_up_is_one_error_line_and_an_event_that_says_so(
    link_log: pytest.LogCaptureFixture,
) -> None:
    recorder = EventRecorder()
    why = LinkReport(recorder, transcripts=False).gave_up(
        "HTTP 503", outage_step(offline=False, failures=1, lasted_s=28.4)
    )
    assert why == "gave up after 1 failed connection in 28s (last: HTTP 503)"
    assert [(r.levelno, r.getMessage()) for r in link_log.records] == [
        (logging.ERROR, f"the Live service cannot be reached: {why}")
    ]
    (event,) = recorder.of(LinkDisconnected)
    assert event.gave_up
    assert not event.reconnecting


def test_back_online_is_a_warning_so_the_outage_ends_in_the_warnings_too(
    link_log: pytest.LogCaptureFixture,
) -> None:
    LinkReport(EventRecorder(), transcripts=False).back_online(200.0, 9)
    assert [(r.levelno, r.getMessage()) for r in link_log.records] == [
        (logging.WARNING, "back online after 3m20s offline (9 failed connections)")
    ]


@pytest.mark.parametrize(
    ("sent_handle", "words"),
    [(True, "refused the resumption handle"), (False, "no longer has the conversation")],
)
def test_only_a_sent_handle_is_blamed_for_a_fresh_start(
    link_log: pytest.LogCaptureFixture, sent_handle: bool, words: str
) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).handle_refused(
        "1008 Requested entity was not found", "new-id", sent_handle=sent_handle
    )
    (record,) = link_log.records
    assert words in record.getMessage()
    assert recorder.of(ConversationRestarted)[0].conversation_id == "new-id"


def test_a_conversation_lost_before_its_first_handle_is_reported_as_left(
    link_log: pytest.LogCaptureFixture,
) -> None:
    recorder = EventRecorder()
    LinkReport(recorder, transcripts=False).fresh_after_loss("old-id", 2, "new-id")
    (record,) = link_log.records
    assert record.levelno == logging.WARNING
    assert "old-id (2 turns) cannot be continued" in record.getMessage()
    assert "fresh conversation new-id" in record.getMessage()
    assert recorder.of(ConversationRestarted)[0].conversation_id == "new-id"
