"""The privacy invariant, over random event sequences (hypothesis).

Mic audio is handed upstream only in `listening`, with the LED showing the listening pattern;
the LED shows it exactly in `listening`; nothing goes up before the first press or wake word;
no frame heard while muted or while an answer played ever goes up, not even later as
pre-roll; and a turn the wake word opened sends nothing heard before it (the word itself).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

import talkbox.conversation as cv
from talkbox.conversation import Mode, State, TurnOptions
from talkbox.conversation import events as ev
from talkbox.live import events as link

PREROLL_FRAMES = 5

COMPLETED = {
    "turn_id": None,
    "interrupted": False,
    "audio_s": 1.0,
    "first_audio_s": 0.1,
    "duration_s": 1.0,
    "transcript": "",
    "usage": None,
    "conversation_turn": 1,
}


@dataclass
class Appliance:
    """Carries out the actions like talkbox.appliance.app would, and checks every one of them."""

    c: cv.Conversation
    led: State = State.STARTING
    frames: int = 0
    captured_in: dict[int, tuple[State, int]] = field(default_factory=dict)
    ring: deque[int] = field(default_factory=lambda: deque(maxlen=PREROLL_FRAMES))
    mute_epoch: int = 0
    pressed: bool = False
    activity_open: bool = False
    next_turn: int = 1
    sent: list[int] = field(default_factory=list)
    wake_floor: int = 0
    """The last frame heard before the wake word opened the turn being listened to."""
    wakes: int = 0

    def apply(self, event: cv.Event) -> None:
        if isinstance(event, ev.ButtonPressed | ev.WakeWordHeard | ev.TalkRequested):
            self.pressed = True
        was = self.c.state
        self.c, actions = cv.apply(self.c, event)
        opened = was is not State.LISTENING and self.c.state is State.LISTENING
        if isinstance(event, ev.WakeWordHeard | ev.TalkRequested) and opened:
            self.wakes += 1
            self.wake_floor = self.frames
        if self.c.state is State.MUTED and was is not State.MUTED:
            self.mute_epoch += 1
        for action in actions:
            self.carry_out(action, event)
        # The LED tells the truth after every event, and `listening` exactly then.
        assert self.led is self.c.state
        assert self.activity_open <= (self.c.state is State.LISTENING)

    def carry_out(self, action: cv.Action, event: cv.Event) -> None:
        match action:
            case cv.ShowState(state=state):
                self.led = state
            case cv.SendActivityStart():
                self.check_sending()
                assert not self.activity_open
                self.activity_open = True
                turn, self.next_turn = self.next_turn, self.next_turn + 1
                self.apply(ev.TurnOpened(turn_id=turn))
            case cv.SendPreroll():
                self.check_sending()
                assert self.activity_open
                for n in self.ring:
                    self.check_frame(n)
                    self.sent.append(n)
                self.ring.clear()
            case cv.SendAudio(pcm=pcm):
                self.check_sending()
                assert self.activity_open
                n = int.from_bytes(pcm[:4], "little")
                assert isinstance(event, ev.MicFrameCaptured)
                assert self.captured_in[n][0] is State.LISTENING
                self.check_frame(n)
                self.sent.append(n)
            case cv.SendActivityEnd() | cv.StartNewConversation() | cv.WithdrawTurn():
                self.activity_open = False
            case cv.RememberForPreroll(pcm=pcm):
                self.ring.append(int.from_bytes(pcm[:4], "little"))
            case cv.ClearPreroll():
                self.ring.clear()
            case _:
                pass

    def check_sending(self) -> None:
        assert self.pressed, "something went up before the first press"
        assert self.c.state is State.LISTENING
        assert self.led is State.LISTENING

    def check_frame(self, n: int) -> None:
        if self.c.by_voice:
            assert n > self.wake_floor, "the wake word (or what came before it) went up"
        state, epoch = self.captured_in[n]
        assert state in (State.IDLE, State.THINKING, State.LISTENING), state
        assert epoch == self.mute_epoch, "a frame from before a mute went up"

    def mic_frame(self) -> ev.MicFrameCaptured:
        self.frames += 1
        self.captured_in[self.frames] = (self.c.state, self.mute_epoch)
        return ev.MicFrameCaptured(pcm=self.frames.to_bytes(4, "little") * 160)


def resolve(move: str, app: Appliance) -> cv.Event:
    """A move made concrete against the appliance's current turn and timers."""
    turn = app.c.turn_id
    fixed: dict[str, cv.Event] = {
        "press": ev.ButtonPressed(),
        "wake": ev.WakeWordHeard(wake_word="okay_nabu"),
        "talk": ev.TalkRequested(source="home_assistant"),
        "release": ev.ButtonReleased(),
        "long": ev.LongPressed(),
        "double": ev.DoublePressed(),
        "speech": ev.SpeechStarted(),
        "silence": ev.SpeechEnded(),
        "limit": ev.UtteranceLimitReached(),
        "no_speech": ev.NoSpeechTimedOut(),
        "connected": link.LinkConnected(
            resumed=True, conversation_id="c", reconnects=1, reason="reconnect"
        ),
        "dropped": link.LinkDisconnected(reason="1006", retry_in_s=1.0),
        "offline": link.LinkDisconnected(reason="1006", retry_in_s=1.0, offline=True),
        "rotated": link.LinkDisconnected(reason="goaway", retry_in_s=0.0),
        "idle_closed": link.LinkDisconnected(
            reason="idle", retry_in_s=0.0, reconnecting=False, idle=True
        ),
        "fatal": link.LinkFailed(reason="bad key", retry_in_s=60.0),
        "mic_failed": ev.AudioDeviceFailed(device="capture", reason="gone"),
        "mic_back": ev.AudioDeviceRecovered(device="capture"),
        "mute_by_model": ev.MuteRequested(source="model"),
        "unmute": ev.UnmuteRequested(source="ctl"),
        "new": ev.NewConversationRequested(source="ctl"),
        "answer_timer": ev.TimerFired(timer=ev.Timer.ANSWER, serial=app.c.answer_timer),
        "failure_timer": ev.TimerFired(timer=ev.Timer.FAILURE_SHOWN, serial=app.c.failure_timer),
        "stale_timer": ev.TimerFired(timer=ev.Timer.ANSWER, serial=1),
        "audio": link.AnswerAudioReceived(turn_id=turn, pcm=b"\0\0"),
        "old_audio": link.AnswerAudioReceived(turn_id=1, pcm=b"\0\0"),
        "unprompted": link.AnswerAudioReceived(turn_id=None, pcm=b"\0\0"),
        "generated": link.GenerationCompleted(turn_id=turn),
        "completed": link.TurnCompleted(**{**COMPLETED, "turn_id": turn}),  # type: ignore[arg-type]
        "played": ev.PlaybackFinished(turn_id=turn),
        "interrupted": link.AnswerInterrupted(turn_id=turn),
        "resent": link.TurnResent(turn_id=turn or 1),
        "failed": link.TurnFailed(turn_id=turn or 1, reason="x"),
    }
    if move == "frame":
        return app.mic_frame()
    return fixed[move]


# What a person and the world do often, weighted by repetition; failures are rarer.
COMMON = ["frame"] * 8 + ["press"] * 3 + ["release"] * 2 + ["double"] * 2 + ["speech"] * 2
COMMON += ["wake"] * 2 + ["talk"]
COMMON += ["silence", "no_speech", "audio", "audio", "generated", "played", "played"]
COMMON += ["answer_timer", "failure_timer", "unmute", "connected"]
RARE = ["long", "limit", "dropped", "rotated", "idle_closed", "fatal", "mic_failed", "mic_back"]
RARE += ["mute_by_model", "new", "stale_timer", "old_audio", "unprompted", "completed"]
RARE += ["interrupted", "resent", "failed"]
MOVES = st.sampled_from(COMMON * 3 + RARE)


@settings(max_examples=500, deadline=None)
@given(
    mode=st.sampled_from(list(Mode)),
    muted=st.booleans(),
    connected_first=st.booleans(),
    follow_up=st.booleans(),
    voice=st.booleans(),
    moves=st.lists(MOVES, max_size=80),
)
def test_mic_audio_goes_up_only_in_listening_with_the_led_saying_so(
    mode: Mode, muted: bool, connected_first: bool, follow_up: bool, voice: bool, moves: list[str]
) -> None:
    # Follow-up listening and voice barge-in are off by default; the property covers them on.
    options = TurnOptions(mode=mode, follow_up_s=4.0 if follow_up else 0.0, barge_in_by_voice=voice)
    c, actions = cv.start(options, muted=muted)
    app = Appliance(c=c, mute_epoch=1 if muted else 0)
    for action in actions:
        app.carry_out(action, ev.ButtonReleased())
    for move in ["connected"] * connected_first + moves:
        app.apply(resolve(move, app))
    assert len(set(app.sent)) == len(app.sent), "a frame went up twice"


def test_the_property_sees_audio_go_up_in_an_ordinary_turn() -> None:
    # Guards the property against passing vacuously: the moves do reach the upstream.
    c, _ = cv.start(TurnOptions(mode=Mode.TAP))
    app = Appliance(c=c)
    for move in ["connected", "frame", "press", "frame", "speech", "frame", "silence"]:
        app.apply(resolve(move, app))
    assert app.sent == [1, 2, 3]


def test_the_property_sees_audio_go_up_after_a_wake_word_and_not_the_word() -> None:
    # Guards the wake word part: frames 1 and 2 are the word, 3 and 4 the question.
    c, _ = cv.start(TurnOptions(mode=Mode.HOLD))
    app = Appliance(c=c)
    for move in ["connected", "frame", "frame", "wake", "frame", "speech", "frame", "silence"]:
        app.apply(resolve(move, app))
    assert app.wakes == 1
    assert app.sent == [3, 4]


# The wake word's own moves, with the few that end or interrupt a turn around them.
HANDS_FREE = ["frame"] * 6 + ["wake"] * 2 + ["speech", "silence", "no_speech", "press"]
HANDS_FREE += ["audio", "generated", "played", "double", "unmute"]


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(list(Mode)),
    moves=st.lists(st.sampled_from(HANDS_FREE), max_size=60),
)
def test_a_turn_the_wake_word_opened_never_sends_the_word(mode: Mode, moves: list[str]) -> None:
    c, actions = cv.start(TurnOptions(mode=mode))
    app = Appliance(c=c)
    for action in actions:
        app.carry_out(action, ev.ButtonReleased())
    for move in ["connected", *moves]:
        app.apply(resolve(move, app))
    assert len(set(app.sent)) == len(app.sent), "a frame went up twice"
