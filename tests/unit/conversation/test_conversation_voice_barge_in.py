"""TALKBOX_BARGE_IN=voice: speech heard over the answer interrupts it and opens a turn."""

from __future__ import annotations

import talkbox.conversation as cv
from talkbox.conversation import Mode, State
from talkbox.conversation import events as ev
from talkbox.live import events as link

from .test_conversation import PRESS, SILENCE, SPEECH, Bench, audio, frame, kinds, ready

WAKE = ev.WakeWordHeard(wake_word="okay_nabu")


def speaking(**options: float | bool) -> Bench:
    bench = ready(Mode.TAP, barge_in_by_voice=True, **options)
    bench(PRESS, SPEECH, SILENCE)
    started = bench(audio(1))
    assert bench.state is State.SPEAKING
    # The endpointer listens over the answer: no timeout, it only waits for speech.
    assert cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=None) in started
    return bench


def test_speech_over_the_answer_flushes_it_and_sends_from_just_before_the_speech() -> None:
    bench = speaking()
    assert bench(frame(7)) == [cv.RememberForPreroll(pcm=frame(7).pcm)]  # kept, not sent
    opened = bench(SPEECH)
    assert opened[:4] == [
        cv.FlushPlayback(),
        cv.ShowState(state=State.LISTENING),
        cv.SendActivityStart(),
        cv.SendPreroll(),
    ]
    # The endpointer that heard the speech start goes on to hear it end; no earcon over it.
    assert not [a for a in opened if isinstance(a, cv.StartEndpointing | cv.PlayEarcon)]
    assert bench.c.turn_id == 2
    assert bench(frame(8)) == [cv.SendAudio(pcm=frame(8).pcm)]
    assert cv.SendActivityEnd() in bench(SILENCE)


def test_without_the_setting_speech_over_the_answer_changes_nothing() -> None:
    bench = ready(Mode.TAP)
    bench(PRESS, SPEECH, SILENCE)
    started = bench(audio(1))
    assert not [a for a in started if isinstance(a, cv.StartEndpointing)]
    assert bench(frame(7)) == []
    assert bench(SPEECH) == []
    assert bench.state is State.SPEAKING


def test_the_answer_played_to_its_end_stops_listening_over_it_or_opens_the_follow_up() -> None:
    bench = speaking()
    bench(link.GenerationCompleted(turn_id=1))
    assert cv.StopEndpointing() in bench(ev.PlaybackFinished(turn_id=1))
    follow = speaking(follow_up_s=4.0)
    follow(link.GenerationCompleted(turn_id=1))
    done = follow(ev.PlaybackFinished(turn_id=1))
    assert cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=4.0) in done


def test_the_wake_word_over_the_answer_starts_a_fresh_endpointer_for_its_turn() -> None:
    bench = speaking()
    actions = bench(WAKE)
    assert bench.state is State.LISTENING
    assert kinds(actions)[:2] == [cv.FlushPlayback, cv.ShowState]
    assert cv.StartEndpointing(end_on_silence=True, no_speech_timeout_s=5.0) in actions
    assert not [a for a in actions if isinstance(a, cv.SendActivityStart)]


def test_an_answer_no_one_asked_for_is_not_listened_over() -> None:
    bench = ready(Mode.TAP, barge_in_by_voice=True)
    started = bench(audio(None))  # the model speaks on its own (a late tool result)
    assert bench.state is State.SPEAKING
    assert not [a for a in started if isinstance(a, cv.StartEndpointing)]
    assert bench(frame(1)) == []
    assert bench(SPEECH) == []
