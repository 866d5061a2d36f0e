"""Text questions (`ctl say`) and an answer cut by a connection that cannot come back at once."""

from __future__ import annotations

import talkbox.conversation as cv
from talkbox.conversation import Earcon, Mode, State, TurnOptions
from talkbox.conversation import events as ev
from talkbox.live import events as link

CONNECTED = link.LinkConnected(resumed=False, conversation_id="c1", reconnects=0, reason="start")
# A minute of failed connections: offline.
DROPPED = link.LinkDisconnected(reason="1006", retry_in_s=2.0, offline=True)
# One lost connection, reconnecting after a short backoff: not offline.
BLIP = link.LinkDisconnected(reason="1006", retry_in_s=0.3)
AT_ONCE = link.LinkDisconnected(reason="go away", retry_in_s=0.0)


def ready(mode: Mode = Mode.HOLD) -> cv.Conversation:
    c, _ = cv.start(TurnOptions(mode=mode))
    c, _ = cv.apply(c, CONNECTED)
    return c


def run(c: cv.Conversation, *events: cv.Event) -> tuple[cv.Conversation, list[cv.Action]]:
    done: list[cv.Action] = []
    for event in events:
        c, actions = cv.apply(c, event)
        done += actions
    return c, done


def audio(turn: int | None) -> link.AnswerAudioReceived:
    return link.AnswerAudioReceived(turn_id=turn, pcm=b"\1\0" * 240)


def test_a_text_question_when_idle_is_sent_and_its_answer_is_waited_for() -> None:
    c, actions = run(ready(), ev.TextAsked(text="what time is it"))
    assert c.state is State.THINKING
    assert cv.SendText(text="what time is it") in actions
    assert any(isinstance(a, cv.StartTimer) and a.timer is ev.Timer.ANSWER for a in actions)
    assert not any(isinstance(a, cv.SendAudio | cv.SendActivityStart) for a in actions)


def test_the_answer_to_a_text_question_plays_and_the_box_rests_after_it() -> None:
    c, _ = run(ready(), ev.TextAsked(text="hello"), ev.TurnOpened(turn_id=7))
    assert c.turn_id == 7
    c, actions = run(c, audio(7))
    assert c.state is State.SPEAKING
    assert any(isinstance(a, cv.Play) for a in actions)
    c, _ = run(c, link.GenerationCompleted(7), ev.PlaybackFinished(turn_id=7))
    assert c.state is State.IDLE


def test_a_text_question_while_muted_or_busy_is_refused_with_the_error_earcon() -> None:
    muted, _ = run(ready(), ev.MuteRequested(source="ctl"))
    c, actions = run(muted, ev.TextAsked(text="hello"))
    assert c.state is State.MUTED
    assert actions == []  # no row: muted stays muted, nothing is sent
    offline, _ = run(ready(), DROPPED)
    c, actions = run(offline, ev.TextAsked(text="hello"))
    assert c.state is State.OFFLINE
    assert actions == [cv.PlayEarcon(earcon=Earcon.ERROR)]


def speaking() -> cv.Conversation:
    c, _ = run(
        ready(),
        ev.ButtonPressed(),
        ev.TurnOpened(turn_id=1),
        ev.ButtonReleased(),
        audio(1),
    )
    assert c.state is State.SPEAKING
    return c


def test_an_answer_cut_by_a_connection_that_must_wait_is_dropped_and_timed_like_a_new_ask() -> None:
    c, actions = run(speaking(), DROPPED)
    assert c.state is State.THINKING
    assert actions[0] == cv.FlushPlayback()
    timer = next(a for a in actions if isinstance(a, cv.StartTimer))
    c, actions = run(c, ev.TimerFired(timer=ev.Timer.ANSWER, serial=timer.serial))
    assert c.state is State.ERROR
    assert cv.PlayEarcon(earcon=Earcon.ERROR) in actions


def test_an_answer_cut_by_a_connection_that_comes_back_at_once_waits_for_the_resend() -> None:
    c, actions = run(speaking(), AT_ONCE)
    assert c.state is State.SPEAKING
    assert actions == []
    c, actions = run(c, link.TurnResent(1))
    assert c.state is State.THINKING
    assert actions[0] == cv.FlushPlayback()


def test_a_connection_lost_after_all_the_answer_is_in_lets_it_play_out() -> None:
    c, _ = run(speaking(), link.GenerationCompleted(1))
    c, actions = run(c, DROPPED)
    assert c.state is State.SPEAKING
    assert not any(isinstance(a, cv.FlushPlayback) for a in actions)
    c, _ = run(c, ev.PlaybackFinished(turn_id=1))
    assert c.state is State.OFFLINE
