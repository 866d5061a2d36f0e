"""A due timer rings: from every state, cutting what is under way, stopped by a person or RING_S."""

from __future__ import annotations

import pytest

import talkbox.conversation as cv
from talkbox.conversation import Mode, StartRing, State, StopRing, Warn
from talkbox.conversation import events as ev
from talkbox.live import events as link

from .test_conversation import (
    CONNECTED,
    DROPPED,
    PRESS,
    SPEECH,
    Bench,
    answered,
    audio,
    frame,
    kinds,
    ready,
)

DUE = ev.RingDue(labels=("the pasta timer",))


def ring_fired(bench: Bench) -> ev.TimerFired:
    return ev.TimerFired(timer=ev.Timer.RING, serial=bench.c.ring_timer)


def test_a_due_timer_rings_from_idle_and_a_press_stops_it_without_opening_a_turn() -> None:
    bench = ready(ring_s=120.0)
    actions = bench(DUE)
    assert bench.state is State.RINGING
    assert actions[0] == cv.ShowState(state=State.RINGING)
    assert StartRing(labels=("the pasta timer",)) in actions
    start = next(a for a in actions if isinstance(a, cv.StartTimer))
    assert start.timer is ev.Timer.RING
    assert start.seconds == 120.0
    actions = bench(PRESS)
    assert bench.state is State.IDLE
    assert actions[:2] == [cv.ShowState(state=State.IDLE), StopRing(reason="stopped by a press")]
    assert cv.CancelTimer(timer=ev.Timer.RING) in actions
    assert not any(isinstance(a, (cv.PlayEarcon, cv.SendActivityStart)) for a in actions)
    # The release of that press opens nothing either.
    assert bench(ev.ButtonReleased()) == []


def test_the_wake_word_and_ctl_stop_stop_it() -> None:
    bench = ready()
    bench(DUE)
    stopped = StopRing(reason="stopped by the wake word okay_nabu")
    assert stopped in bench(ev.WakeWordHeard(wake_word="okay_nabu"))
    assert bench.state is State.IDLE
    bench(DUE)
    assert StopRing(reason="stopped by ctl") in bench(ev.RingStopRequested(source="ctl"))


def test_a_ring_nobody_stops_ends_after_ring_s_with_a_warning() -> None:
    bench = ready(ring_s=60.0)
    bench(DUE)
    stale = ring_fired(bench)
    bench(ev.RingDue(labels=("the tea timer",)))  # a second one: the bound starts again
    assert bench(stale) == []
    actions = bench(ring_fired(bench))
    assert bench.state is State.IDLE
    assert StopRing(reason="nobody stopped it within 60 s") in actions
    warning = (
        "the pasta timer and the tea timer rang for 60 s and nobody stopped it "
        "(TALKBOX_TIMER_RING_S)"
    )
    assert Warn(message=warning) in actions


def test_a_ring_cuts_an_answer_being_spoken() -> None:
    bench = ready()
    bench(PRESS, SPEECH, ev.SpeechEnded(), audio(1))
    assert bench.state is State.SPEAKING
    actions = bench(DUE)
    assert actions[:2] == [cv.FlushPlayback(), cv.ShowState(state=State.RINGING)]
    # What is left of the answer is not played after the ring.
    assert bench(audio(1), link.GenerationCompleted(turn_id=1)) == []
    bench(PRESS)
    assert bench.state is State.IDLE


def test_a_ring_takes_back_a_turn_being_asked_and_nothing_goes_up_while_it_rings() -> None:
    bench = ready()
    bench(PRESS, SPEECH)
    assert bench.state is State.LISTENING
    actions = bench(DUE)
    assert cv.WithdrawTurn(turn_id=1, reason="a timer rang") in actions
    assert cv.StopEndpointing() in actions
    assert bench(frame(1)) == []  # neither sent nor kept for the pre-roll


def test_a_ring_while_thinking_cancels_the_answer_timer() -> None:
    bench = ready()
    bench(PRESS, SPEECH, ev.SpeechEnded())
    assert bench.state is State.THINKING
    actions = bench(DUE)
    assert cv.CancelTimer(timer=ev.Timer.ANSWER) in actions
    assert kinds(actions).count(cv.WithdrawTurn) == 1


def test_a_ring_rings_offline_and_muted_and_rests_where_it_was() -> None:
    bench = Bench(muted=True)
    bench(CONNECTED)
    assert bench.state is State.MUTED
    bench(DUE)
    assert bench.state is State.RINGING
    bench(DROPPED)
    assert bench.state is State.RINGING  # the network does not matter to a ring
    bench(PRESS)
    assert bench.state is State.MUTED
    bench(ev.UnmuteRequested(source="ctl"))
    assert bench.state is State.OFFLINE
    bench(DUE)
    assert bench.state is State.RINGING
    bench(ev.RingStopRequested(source="ctl"))
    assert bench.state is State.OFFLINE


def test_a_mute_while_ringing_stops_the_ring_too() -> None:
    bench = ready()
    bench(DUE)
    actions = bench(ev.MuteRequested(source="ctl"))
    assert bench.state is State.MUTED
    assert actions[:2] == [
        cv.ShowState(state=State.MUTED),
        StopRing(reason="stopped: the box left ringing"),
    ]
    assert cv.CancelTimer(timer=ev.Timer.RING) in actions


def test_a_device_lost_while_ringing_keeps_ringing_and_shows_the_error_after() -> None:
    bench = ready()
    bench(DUE)
    assert bench(ev.AudioDeviceFailed(device="capture", reason="gone")) == []
    assert bench.state is State.RINGING
    bench(PRESS)
    assert bench.state is State.ERROR


@pytest.mark.parametrize("mode", list(Mode))
def test_after_a_ring_the_next_press_opens_a_turn(mode: Mode) -> None:
    bench = ready(mode)
    bench(DUE, PRESS, ev.ButtonReleased())
    bench(PRESS)
    assert bench.state is State.LISTENING
    if mode is Mode.HOLD:
        bench(ev.ButtonReleased())
    else:
        bench(SPEECH, ev.SpeechEnded())
    answered(bench, 1)
    assert bench.state is State.IDLE


def test_an_unanswered_ring_in_starting_rests_in_starting() -> None:
    bench = Bench()
    bench(DUE)
    assert bench.state is State.RINGING
    bench(ring_fired(bench))
    assert bench.state is State.STARTING


def test_a_press_held_on_after_stopping_a_ring_is_not_a_new_conversation() -> None:
    bench = ready()
    bench(DUE, PRESS)
    assert bench.state is State.IDLE
    assert bench(ev.LongPressed()) == []  # still the press that stopped the ring
    bench(ev.ButtonReleased())
    # A long press of its own, later (from idle, as the button reports one after its press).
    actions = bench(ev.LongPressed())
    assert cv.StartNewConversation() in actions
