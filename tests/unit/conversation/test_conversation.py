"""The conversation state machine, driven the way the appliance drives it."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import talkbox.conversation as cv
from talkbox.conversation import Earcon, Mode, State, TurnOptions
from talkbox.conversation import events as ev
from talkbox.live import events as link

CONNECTED = link.LinkConnected(resumed=False, conversation_id="c1", reconnects=0, reason="start")
# A minute of failed connections: offline.
DROPPED = link.LinkDisconnected(reason="1006", retry_in_s=2.0, offline=True)
# One lost connection, reconnecting after a short backoff: not offline.
BLIP = link.LinkDisconnected(reason="1006", retry_in_s=0.3)
PRESS, RELEASE = ev.ButtonPressed(), ev.ButtonReleased()
SPEECH, SILENCE = ev.SpeechStarted(), ev.SpeechEnded()


class Bench:
    """Carries out actions like the appliance: numbers turns and answers with TurnOpened."""

    def __init__(self, mode: Mode = Mode.TAP, *, muted: bool = False, **options: float) -> None:
        self.c, self.log = cv.start(TurnOptions(mode=mode, **options), muted=muted)
        self.log = list(self.log)
        self.next_turn = 1

    def __call__(self, *events: cv.Event) -> list[cv.Action]:
        done: list[cv.Action] = []
        for event in events:
            self.c, actions = cv.apply(self.c, event)
            done += actions
            for action in actions:
                if isinstance(action, cv.SendActivityStart):
                    turn, self.next_turn = self.next_turn, self.next_turn + 1
                    done += self(ev.TurnOpened(turn_id=turn))
        self.log += done
        return done

    @property
    def state(self) -> State:
        return self.c.state

    def timer(self, timer: ev.Timer) -> ev.TimerFired:
        """The TimerFired the newest start of `timer` would post."""
        serial = self.c.answer_timer if timer is ev.Timer.ANSWER else self.c.failure_timer
        return ev.TimerFired(timer=timer, serial=serial)


def ready(mode: Mode = Mode.TAP, **options: float) -> Bench:
    bench = Bench(mode, **options)
    bench(CONNECTED)
    return bench


def audio(turn: int | None, pcm: bytes = b"\1\0" * 240) -> link.AnswerAudioReceived:
    return link.AnswerAudioReceived(turn_id=turn, pcm=pcm)


def frame(n: int) -> ev.MicFrameCaptured:
    return ev.MicFrameCaptured(pcm=n.to_bytes(2, "little") * 320)


def kinds(actions: list[cv.Action]) -> list[type]:
    return [type(a) for a in actions]


def answered(bench: Bench, turn: int) -> None:
    """The whole answer to `turn` arrives and plays."""
    bench(audio(turn), audio(turn), link.GenerationCompleted(turn_id=turn))
    bench(ev.PlaybackFinished(turn_id=turn))


# ------------------------------------------------------------------------------ start-up


def test_the_box_starts_showing_starting_and_rests_in_idle_once_connected() -> None:
    bench = Bench()
    assert bench.log == [cv.ShowState(state=State.STARTING)]
    assert bench(CONNECTED) == [cv.ShowState(state=State.IDLE), cv.ClearPreroll()]


def test_a_box_muted_before_a_restart_shows_muted_from_the_start() -> None:
    bench = Bench(muted=True)
    assert bench.log == [cv.ShowState(state=State.STARTING)]
    bench(CONNECTED)
    assert bench.state is State.MUTED


def test_a_first_connection_that_fails_shows_offline_and_a_refused_key_shows_error() -> None:
    bench = Bench()
    bench(DROPPED)
    assert bench.state is State.OFFLINE
    bench(link.LinkFailed(reason="API key not valid", retry_in_s=300.0))
    assert bench.state is State.ERROR
    bench(CONNECTED)
    assert bench.state is State.IDLE


# ----------------------------------------------------------------------------- hold mode


def test_in_hold_mode_the_press_shows_listening_then_sends_activity_start_and_the_preroll() -> None:
    bench = ready(Mode.HOLD)
    bench(frame(1), frame(2))
    assert bench(PRESS) == [
        cv.ShowState(state=State.LISTENING),
        cv.PlayEarcon(earcon=Earcon.START),
        cv.SendActivityStart(),
        cv.SendPreroll(),
        cv.StartEndpointing(end_on_silence=False, no_speech_timeout_s=None),
        cv.ClearPreroll(),
    ]
    assert bench.c.turn_id == 1
    assert bench(frame(3)) == [cv.SendAudio(pcm=frame(3).pcm)]


def test_in_hold_mode_the_release_sends_activity_end_and_starts_the_answer_timer() -> None:
    bench = ready(Mode.HOLD, answer_timeout_s=8.0)
    bench(PRESS, frame(1), SPEECH, SILENCE)
    assert bench.state is State.LISTENING  # silence does not end a held turn
    assert bench(RELEASE) == [
        cv.ShowState(state=State.THINKING),
        cv.SendActivityEnd(),
        cv.PlayEarcon(earcon=Earcon.END),
        cv.StartTimer(timer=ev.Timer.ANSWER, seconds=8.0, serial=1),
        cv.StopEndpointing(),
        cv.ClearPreroll(),
    ]
    assert bench(frame(2)) == [cv.RememberForPreroll(pcm=frame(2).pcm)]


def test_in_hold_mode_the_utterance_limit_closes_the_turn_and_the_late_release_is_ignored() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, ev.UtteranceLimitReached())
    assert bench.state is State.THINKING
    assert bench(RELEASE) == []


def test_in_hold_mode_a_long_press_while_talking_is_part_of_the_talking() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, SPEECH)
    assert bench(ev.LongPressed()) == []
    assert bench.state is State.LISTENING


def test_a_long_press_without_speech_starts_a_new_conversation_and_sends_no_activity_end() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS)
    done = bench(ev.LongPressed())
    assert cv.StartNewConversation() in done
    assert cv.SendActivityEnd() not in done
    assert bench.state is State.IDLE
    assert bench(RELEASE) == []


# ------------------------------------------------------------------------------ tap mode


def test_in_tap_mode_the_press_listens_locally_and_sends_nothing_until_speech() -> None:
    bench = ready(Mode.TAP, no_speech_timeout_s=5.0)
    assert bench(PRESS) == [
        cv.ShowState(state=State.LISTENING),
        cv.PlayEarcon(earcon=Earcon.START),
        cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=5.0),
    ]
    assert bench(frame(1)) == [cv.RememberForPreroll(pcm=frame(1).pcm)]
    assert bench(SPEECH) == [cv.SendActivityStart(), cv.SendPreroll(), cv.ClearPreroll()]
    assert bench(frame(2)) == [cv.SendAudio(pcm=frame(2).pcm)]
    assert kinds(bench(SILENCE))[:3] == [cv.ShowState, cv.SendActivityEnd, cv.PlayEarcon]
    assert bench.state is State.THINKING


def test_in_tap_mode_no_speech_closes_the_turn_without_sending_anything() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, frame(1), frame(2))
    done = bench(ev.NoSpeechTimedOut())
    assert bench.state is State.IDLE
    assert cv.PlayEarcon(earcon=Earcon.END) in done
    sent = (cv.SendActivityStart, cv.SendPreroll, cv.SendAudio, cv.SendActivityEnd)
    assert not [a for a in bench.log if isinstance(a, sent)]


def test_in_tap_mode_a_second_tap_closes_the_turn() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, SPEECH, frame(1))
    assert cv.SendActivityEnd() in bench(PRESS)
    assert bench.state is State.THINKING
    assert bench(RELEASE) == []


def test_in_tap_mode_a_quick_double_press_mutes_without_sending_anything() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, RELEASE, PRESS, ev.DoublePressed(), RELEASE)
    assert bench.state is State.MUTED
    assert cv.PersistMute(muted=True) in bench.log
    assert not [a for a in bench.log if isinstance(a, cv.SendActivityStart)]


# ------------------------------------------------------------------------------ answers


def test_speaking_lasts_until_local_playback_has_played_the_answer() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    first = bench(audio(1, b"a"))
    assert first[:2] == [cv.ShowState(state=State.SPEAKING), cv.Play(turn_id=1, pcm=b"a")]
    assert cv.CancelTimer(timer=ev.Timer.ANSWER) in first
    assert bench(audio(1, b"b")) == [cv.Play(turn_id=1, pcm=b"b")]
    assert bench(link.GenerationCompleted(turn_id=1)) == [cv.FinishPlayback(turn_id=1)]
    completed = link.TurnCompleted(
        turn_id=1,
        interrupted=False,
        audio_s=1.0,
        first_audio_s=0.2,
        duration_s=1.0,
        transcript="",
        usage=None,
        conversation_turn=1,
    )
    assert bench(completed) == []
    assert bench.state is State.SPEAKING
    bench(ev.PlaybackFinished(turn_id=1))
    assert bench.state is State.IDLE


def test_turn_complete_ends_the_answer_when_the_model_sends_no_generation_complete() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1))
    completed = link.TurnCompleted(
        turn_id=1,
        interrupted=False,
        audio_s=1.0,
        first_audio_s=0.2,
        duration_s=1.0,
        transcript="",
        usage=None,
        conversation_turn=1,
    )
    assert bench(completed) == [cv.FinishPlayback(turn_id=1)]


def test_a_playback_finished_before_all_audio_is_in_does_not_end_speaking() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1), ev.PlaybackFinished(turn_id=1))
    assert bench.state is State.SPEAKING


def test_after_an_answer_tap_mode_listens_locally_for_a_follow_up() -> None:
    bench = ready(Mode.TAP, follow_up_s=4.0)
    bench(PRESS, SPEECH, SILENCE)
    bench(audio(1), link.GenerationCompleted(turn_id=1))
    done = bench(ev.PlaybackFinished(turn_id=1))
    assert cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=4.0) in done
    assert bench.state is State.IDLE
    bench(frame(1))
    opened = bench(SPEECH)
    assert opened[:3] == [
        cv.ShowState(state=State.LISTENING),
        cv.SendActivityStart(),
        cv.SendPreroll(),
    ]
    assert not [a for a in opened if isinstance(a, cv.PlayEarcon | cv.StartEndpointing)]
    assert bench.c.turn_id == 2


def test_the_follow_up_window_closes_when_no_one_speaks() -> None:
    bench = ready(Mode.TAP, follow_up_s=4.0)
    bench(PRESS, SPEECH, SILENCE)
    answered(bench, 1)
    assert bench(ev.NoSpeechTimedOut()) == [cv.StopEndpointing()]
    assert bench(SPEECH) == []


def test_by_default_no_follow_up_window_opens_after_an_answer() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, SPEECH, SILENCE)
    answered(bench, 1)
    assert bench.state is State.IDLE
    assert not bench.c.follow_up
    assert bench(SPEECH) == []


def test_a_chain_of_follow_ups_is_bounded_and_a_press_starts_a_new_count() -> None:
    bench = ready(Mode.TAP, follow_up_s=4.0, follow_up_turns=2)
    bench(PRESS, SPEECH, SILENCE)
    answered(bench, 1)
    for turn in (2, 3):
        assert bench.c.follow_up
        assert cv.SendActivityStart() in bench(SPEECH)
        bench(SILENCE)
        answered(bench, turn)
    # Two follow-ups after one press: the third needs a press.
    assert not bench.c.follow_up
    assert bench(SPEECH) == []
    bench(PRESS, SPEECH, SILENCE)
    answered(bench, 4)
    assert bench.c.follow_up


def test_hold_mode_and_unprompted_answers_have_no_follow_up_window() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    answered(bench, 1)
    assert not bench.c.follow_up
    tap = ready(Mode.TAP)
    tap(audio(None), link.GenerationCompleted(turn_id=None))
    assert tap.state is State.SPEAKING
    tap(ev.PlaybackFinished(turn_id=None))
    assert tap.state is State.IDLE
    assert not tap.c.follow_up


# ------------------------------------------------------------------------- interruptions


@pytest.mark.parametrize("mode", list(Mode))
def test_a_press_while_speaking_flushes_playback_before_anything_else(mode: Mode) -> None:
    bench = ready(mode)
    bench(PRESS, SPEECH, RELEASE if mode is Mode.HOLD else SILENCE, audio(1))
    done = bench(PRESS)
    assert done[0] == cv.FlushPlayback()
    assert done[1] == cv.ShowState(state=State.LISTENING)
    assert bench(audio(1)) == []  # the rest of the old answer is not played


def test_a_press_while_thinking_flushes_playback_and_opens_a_new_turn() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    done = bench(PRESS)
    assert done[0] == cv.FlushPlayback()
    assert bench.c.turn_id == 2
    assert cv.CancelTimer(timer=ev.Timer.ANSWER) in done


def test_the_server_interrupting_the_answer_flushes_playback() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1))
    done = bench(link.AnswerInterrupted(turn_id=1))
    assert done[0] == cv.FlushPlayback()
    assert bench.state is State.IDLE


def test_a_resent_turn_drops_what_was_playing_and_plays_the_new_answer_once() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1, b"first"))
    done = bench(link.TurnResent(turn_id=1))
    assert done[0] == cv.FlushPlayback()
    assert bench.state is State.THINKING
    assert bench(audio(1, b"second"))[1] == cv.Play(turn_id=1, pcm=b"second")


# ------------------------------------------------------------------------------ failures


def test_a_turn_without_answer_audio_in_time_fails_for_a_moment_then_rests() -> None:
    bench = ready(Mode.HOLD, answer_timeout_s=10.0, failure_shown_s=2.0)
    bench(PRESS, RELEASE)
    fired = bench.timer(ev.Timer.ANSWER)
    done = bench(fired)
    assert bench.state is State.ERROR
    assert cv.PlayEarcon(earcon=Earcon.ERROR) in done
    assert [a for a in done if isinstance(a, cv.Warn)] == [
        cv.Warn(message="no answer within 10 s (ANSWER_TIMEOUT_S)")
    ]
    # The person heard the error tone: the turn is taken back, never sent or answered later.
    assert cv.WithdrawTurn(turn_id=1, reason="no answer within 10 s (ANSWER_TIMEOUT_S)") in done
    assert cv.StartTimer(timer=ev.Timer.FAILURE_SHOWN, seconds=2.0, serial=2) in done
    assert bench(audio(1)) == []  # an answer minutes later is not played
    bench(bench.timer(ev.Timer.FAILURE_SHOWN))
    assert bench.state is State.IDLE


def test_a_stale_answer_timer_does_not_fail_the_next_turn() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    stale = bench.timer(ev.Timer.ANSWER)
    bench(PRESS, RELEASE)
    assert bench(stale) == []
    assert bench.state is State.THINKING


def test_a_press_while_offline_is_answered_by_the_error_earcon_and_sends_nothing() -> None:
    bench = ready(Mode.HOLD)
    bench(DROPPED)
    assert bench.state is State.OFFLINE
    assert bench(PRESS) == [cv.PlayEarcon(earcon=Earcon.ERROR)]
    assert bench(frame(1), RELEASE) == []


@pytest.mark.parametrize("mode", [Mode.HOLD, Mode.TAP])
def test_a_press_during_a_short_reconnect_opens_the_turn(mode: Mode) -> None:
    bench = ready(mode)
    assert bench(BLIP) == []
    assert bench.state is State.IDLE
    done = bench(PRESS)
    assert bench.state is State.LISTENING
    assert cv.PlayEarcon(earcon=Earcon.START) in done
    assert cv.PlayEarcon(earcon=Earcon.ERROR) not in done


def test_a_first_connection_that_keeps_failing_starts_until_offline() -> None:
    bench = Bench()
    bench(BLIP)
    assert bench.state is State.STARTING
    bench(DROPPED)
    assert bench.state is State.OFFLINE


def test_an_answer_cut_by_a_short_reconnect_waits_for_the_resent_answer() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1))
    done = bench(BLIP)
    assert bench.state is State.THINKING
    assert done[0] == cv.FlushPlayback()
    bench(audio(1))
    assert bench.state is State.SPEAKING


def test_an_immediate_reconnect_or_an_idle_disconnect_is_not_offline() -> None:
    bench = ready()
    assert bench(link.LinkDisconnected(reason="goaway", retry_in_s=0.0)) == []
    idle = link.LinkDisconnected(reason="idle", retry_in_s=0.0, reconnecting=False, idle=True)
    assert bench(idle) == []
    assert bench.state is State.IDLE


def test_a_connection_lost_during_a_turn_leaves_the_turn_to_the_answer_timeout() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, DROPPED, RELEASE)
    assert bench.state is State.THINKING
    bench(bench.timer(ev.Timer.ANSWER))
    bench(bench.timer(ev.Timer.FAILURE_SHOWN))
    assert bench.state is State.OFFLINE


def test_a_turn_the_link_gives_up_on_fails_with_the_error_earcon() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    done = bench(link.TurnFailed(turn_id=1, reason="cut 3 times"))
    assert cv.PlayEarcon(earcon=Earcon.ERROR) in done
    assert bench.state is State.ERROR


def test_a_press_during_the_failure_moment_opens_a_turn() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, link.TurnFailed(turn_id=1, reason="x"))
    done = bench(PRESS)
    assert bench.state is State.LISTENING
    assert cv.CancelTimer(timer=ev.Timer.FAILURE_SHOWN) in done


def test_an_answer_completed_without_audio_fails_the_turn() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    completed = link.TurnCompleted(
        turn_id=1,
        interrupted=False,
        audio_s=0.0,
        first_audio_s=None,
        duration_s=0.5,
        transcript="",
        usage=None,
        conversation_turn=1,
    )
    bench(completed)
    assert bench.state is State.ERROR


def test_a_failed_speaker_during_an_answer_flushes_and_shows_error_until_it_returns() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE, audio(1))
    done = bench(ev.AudioDeviceFailed(device="playback", reason="No such device"))
    assert done[0] == cv.FlushPlayback()
    assert bench.state is State.ERROR
    assert bench(PRESS) == [cv.PlayEarcon(earcon=Earcon.ERROR)]
    bench(ev.AudioDeviceRecovered(device="playback"))
    assert bench.state is State.IDLE


def test_a_failed_microphone_during_a_turn_withdraws_it_without_asking_for_an_answer() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS)
    done = bench(ev.AudioDeviceFailed(device="capture", reason="gone"))
    assert cv.WithdrawTurn(turn_id=1, reason="the capture device failed") in done
    assert cv.SendActivityEnd() not in done
    assert bench.state is State.ERROR


def test_a_failed_microphone_while_thinking_withdraws_the_turn_asked() -> None:
    bench = ready(Mode.HOLD)
    bench(PRESS, RELEASE)
    done = bench(ev.AudioDeviceFailed(device="capture", reason="gone"))
    assert cv.WithdrawTurn(turn_id=1, reason="the capture device failed") in done


# --------------------------------------------------------------------------------- mute


def test_a_double_press_mutes_persistently_and_presses_while_muted_do_nothing() -> None:
    bench = ready(Mode.HOLD)
    done = bench(ev.DoublePressed())
    assert cv.PersistMute(muted=True) in done
    assert bench.state is State.MUTED
    assert bench(PRESS, frame(1), SPEECH, RELEASE) == []
    bench(ev.DoublePressed())
    assert bench.state is State.IDLE
    assert cv.PersistMute(muted=False) in bench.log


@pytest.mark.parametrize("mode", [Mode.HOLD, Mode.TAP])
def test_muting_mid_sentence_withdraws_the_turn_instead_of_ending_it(mode: Mode) -> None:
    bench = ready(mode)
    bench(PRESS, SPEECH, frame(1))
    done = bench(ev.DoublePressed())
    # activityEnd would ask for an answer to half a sentence and keep it in the conversation.
    assert cv.SendActivityEnd() not in done
    assert cv.WithdrawTurn(turn_id=1, reason="muted") in done
    assert bench(audio(1)) == []
    assert bench.state is State.MUTED


@pytest.mark.parametrize("mode", [Mode.HOLD, Mode.TAP])
def test_a_double_press_mid_sentence_takes_back_the_half_sentence_its_first_press_closed(
    mode: Mode,
) -> None:
    bench = ready(mode)
    bench(PRESS, SPEECH, frame(1))
    if mode is Mode.HOLD:
        bench(RELEASE)  # a held button: the double press begins by letting go
    # The first press of the pair closes the turn (tap) or barges in over it (hold): only
    # the second says it was a double press.
    done = bench(PRESS, RELEASE, PRESS, ev.DoublePressed(), RELEASE)
    withdrawn = [a.turn_id for a in done if isinstance(a, cv.WithdrawTurn)]
    assert 1 in withdrawn
    assert bench.state is State.MUTED


def test_a_double_press_during_an_answer_keeps_the_question_that_was_answered() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, SPEECH, frame(1), SILENCE, audio(1))
    done = bench(PRESS, RELEASE, PRESS, ev.DoublePressed(), RELEASE)
    assert not [a for a in done if isinstance(a, cv.WithdrawTurn)]
    assert bench.state is State.MUTED


def test_muting_before_anything_went_up_has_nothing_to_withdraw() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS)
    done = bench(ev.DoublePressed())
    assert not [a for a in done if isinstance(a, cv.WithdrawTurn | cv.SendActivityEnd)]
    assert bench.state is State.MUTED


def test_only_a_person_unmutes() -> None:
    bench = ready()
    bench(ev.MuteRequested(source="model"))
    assert bench(ev.MuteRequested(source="model")) == []
    bench(ev.UnmuteRequested(source="ctl"))
    assert bench.state is State.IDLE


def test_a_new_conversation_can_be_asked_for_in_any_state() -> None:
    for state_maker in (lambda b: None, lambda b: b(PRESS), lambda b: b(DROPPED)):
        bench = ready(Mode.HOLD)
        state_maker(bench)
        assert cv.StartNewConversation() in bench(ev.NewConversationRequested(source="ctl"))


# ----------------------------------------------------------------------------- the table


def test_every_state_reacts_to_the_link_and_device_events() -> None:
    for event in (
        link.LinkConnected,
        link.LinkDisconnected,
        link.LinkFailed,
        ev.AudioDeviceFailed,
        ev.AudioDeviceRecovered,
        ev.MicFrameCaptured,
        ev.NewConversationRequested,
    ):
        assert {s for s in State if (s, event) in cv.TABLE} == set(State), event


def test_every_event_type_has_at_least_one_row() -> None:
    events = set(typing.get_args(ev.ApplianceEvent)) | {
        link.LinkConnected,
        link.LinkDisconnected,
        link.LinkFailed,
        link.AnswerAudioReceived,
        link.GenerationCompleted,
        link.TurnCompleted,
        link.AnswerInterrupted,
        link.TurnResent,
        link.TurnFailed,
    }
    assert events <= {event for _, event in cv.TABLE}


def test_an_event_without_a_row_changes_nothing() -> None:
    bench = ready()
    before = bench.c
    assert bench(link.GoAwayReceived(time_left_s=10.0), RELEASE) == []
    assert bench.c is before


def test_actions_and_appliance_events_are_frozen_and_keyword_only() -> None:
    classes = [*typing.get_args(cv.Action), *typing.get_args(ev.ApplianceEvent)]
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert all(f.kw_only for f in dataclasses.fields(cls)), cls


@pytest.mark.parametrize(
    "options",
    [{"no_speech_timeout_s": 0.0}, {"answer_timeout_s": 0.5}, {"follow_up_s": -1.0}],
)
def test_turn_options_refuse_values_out_of_range(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        TurnOptions(**options)  # type: ignore[arg-type]
