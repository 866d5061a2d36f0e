"""A remote talk button (Home Assistant's): a tap by voice, whatever the button mode."""

from __future__ import annotations

import pytest

import talkbox.conversation as cv
from talkbox.conversation import Earcon, Mode, State
from talkbox.conversation import events as ev

from .test_conversation import SILENCE, SPEECH, audio, frame, kinds, ready

TALK = ev.TalkRequested(source="home_assistant")


@pytest.mark.parametrize("mode", list(Mode))
def test_talk_opens_a_turn_that_ends_on_silence_and_sends_nothing_from_before(
    mode: Mode,
) -> None:
    bench = ready(mode)
    bench(frame(1), frame(2))  # heard before the request: kept for a pre-roll while idle
    actions = bench(TALK)
    assert bench.state is State.LISTENING
    assert kinds(actions) == [cv.ShowState, cv.PlayEarcon, cv.ClearPreroll, cv.StartEndpointing]
    assert actions[1] == cv.PlayEarcon(earcon=Earcon.START)
    assert actions[3] == cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=5.0)
    bench(frame(3))
    sent = bench(SPEECH)
    assert cv.SendPreroll() in sent
    assert bench(frame(4)) == [cv.SendAudio(pcm=frame(4).pcm)]
    assert cv.SendActivityEnd() in bench(SILENCE)
    assert bench.state is State.THINKING


def test_talk_is_refused_while_muted_and_cuts_an_answer_as_a_press_does() -> None:
    bench = ready()
    bench(ev.MuteRequested(source="ctl"))
    assert bench(TALK) == []
    assert bench.state is State.MUTED
    bench(ev.UnmuteRequested(source="ctl"), TALK, SPEECH, SILENCE)
    turn = bench.c.turn_id
    bench(audio(turn))
    assert bench.state is State.SPEAKING
    actions = bench(TALK)
    assert actions[0] == cv.FlushPlayback()
    assert bench.state is State.LISTENING
