"""The wake word in the conversation state machine: a tap by voice."""

from __future__ import annotations

import pytest

import talkbox.conversation as cv
from talkbox.conversation import Earcon, Mode, State
from talkbox.conversation import events as ev
from talkbox.live import events as link

from .test_conversation import (
    CONNECTED,
    DROPPED,
    PRESS,
    RELEASE,
    SILENCE,
    SPEECH,
    Bench,
    audio,
    frame,
    kinds,
    ready,
)

WAKE = ev.WakeWordHeard(wake_word="okay_nabu")


@pytest.mark.parametrize("mode", list(Mode))
def test_a_wake_word_opens_a_turn_that_sends_only_what_follows_the_word(mode: Mode) -> None:
    bench = ready(mode)
    bench(frame(1), frame(2))  # the wake word, kept for the pre-roll while idle
    actions = bench(WAKE)
    assert bench.state is State.LISTENING
    assert kinds(actions) == [
        cv.ShowState,
        cv.PlayEarcon,
        cv.ClearPreroll,
        cv.StartEndpointing,
    ]
    assert actions[1] == cv.PlayEarcon(earcon=Earcon.START)
    # Whatever the button mode, the turn ends as a tapped one: on silence, with a timeout.
    assert actions[3] == cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=5.0)
    assert bench(frame(3)) == [cv.RememberForPreroll(pcm=frame(3).pcm)]
    assert kinds(bench(SPEECH))[:2] == [cv.SendActivityStart, cv.SendPreroll]
    assert bench(frame(4)) == [cv.SendAudio(pcm=frame(4).pcm)]
    assert cv.SendActivityEnd() in bench(SILENCE)
    assert bench.state is State.THINKING


def test_in_hold_mode_a_release_does_not_end_a_turn_the_wake_word_opened() -> None:
    bench = ready(Mode.HOLD)
    bench(WAKE, SPEECH)
    assert bench(RELEASE) == []
    assert bench.state is State.LISTENING
    bench(SILENCE)
    assert bench.state is State.THINKING


def test_in_hold_mode_a_press_ends_a_turn_the_wake_word_opened_and_then_holds_again() -> None:
    bench = ready(Mode.HOLD)
    bench(WAKE, SPEECH)
    assert cv.SendActivityEnd() in bench(PRESS)
    bench(audio(1), link.GenerationCompleted(turn_id=1), ev.PlaybackFinished(turn_id=1))
    assert bench.state is State.IDLE
    # The next turn is the button's: activityStart at the press, ended by the release.
    assert cv.SendActivityStart() in bench(PRESS)
    assert cv.SendActivityEnd() in bench(RELEASE)


def test_a_wake_word_without_speech_after_it_sends_nothing() -> None:
    bench = ready()
    bench(WAKE, frame(1))
    actions = bench(ev.NoSpeechTimedOut())
    assert bench.state is State.IDLE
    assert not any(isinstance(a, cv.SendActivityStart | cv.SendAudio) for a in bench.log)
    assert cv.PlayEarcon(earcon=Earcon.END) in actions


@pytest.mark.parametrize("during", ["thinking", "speaking"])
def test_a_wake_word_during_an_answer_flushes_playback_first_and_opens_a_turn(
    during: str,
) -> None:
    bench = ready()
    bench(PRESS, SPEECH, SILENCE)
    if during == "speaking":
        bench(audio(1))
    assert bench.state is State(during)
    actions = bench(WAKE)
    assert actions[0] == cv.FlushPlayback()
    assert actions[1] == cv.ShowState(state=State.LISTENING)
    assert cv.ClearPreroll() in actions
    assert bench.state is State.LISTENING
    assert bench.c.by_voice
    # The answer to the first turn no longer plays.
    assert bench(audio(1)) == []


def test_a_wake_word_while_listening_changes_nothing() -> None:
    bench = ready()
    bench(PRESS, SPEECH)
    assert bench(WAKE) == []
    assert not bench.c.by_voice


def test_a_wake_word_while_muted_changes_nothing() -> None:
    bench = Bench(muted=True)
    bench(CONNECTED)
    assert bench.state is State.MUTED
    assert bench(WAKE) == []
    assert bench.state is State.MUTED


def test_a_wake_word_while_offline_is_answered_by_the_error_earcon_only() -> None:
    bench = ready()
    bench(DROPPED)
    assert bench.state is State.OFFLINE
    assert bench(WAKE) == [cv.PlayEarcon(earcon=Earcon.ERROR)]
    assert bench.state is State.OFFLINE


def test_a_wake_word_in_the_follow_up_window_opens_a_turn_by_voice() -> None:
    bench = ready(follow_up_s=4.0)
    bench(PRESS, SPEECH, SILENCE, audio(1), link.GenerationCompleted(turn_id=1))
    bench(ev.PlaybackFinished(turn_id=1))
    assert bench.state is State.IDLE
    assert bench.c.follow_up
    bench(WAKE)
    assert bench.state is State.LISTENING
    assert bench.c.by_voice
    assert not bench.c.follow_up
