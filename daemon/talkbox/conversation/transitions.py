"""Every transition of the conversation: one handler per row of `TABLE`.

A handler takes the `Conversation` and the event and returns the next conversation with the
row's own actions; `talkbox.conversation.apply` looks the row up and adds the actions that
follow from the change of state itself, so no handler here emits `ShowState`, `CancelTimer`,
`StartEndpointing` / `StopEndpointing` or `ClearPreroll` for a change it makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from talkbox.conversation.actions import (
    Action,
    ClearPreroll,
    Earcon,
    FinishPlayback,
    FlushPlayback,
    PersistMute,
    Play,
    PlayEarcon,
    RememberForPreroll,
    SendActivityEnd,
    SendActivityStart,
    SendAudio,
    SendPreroll,
    SendText,
    StartNewConversation,
    State,
    WithdrawTurn,
)
from talkbox.conversation.events import (
    AudioDeviceFailed,
    AudioDeviceRecovered,
    ButtonPressed,
    ButtonReleased,
    DoublePressed,
    LongPressed,
    MicFrameCaptured,
    MuteRequested,
    NewConversationRequested,
    NoSpeechTimedOut,
    PlaybackFinished,
    SpeechEnded,
    SpeechStarted,
    TalkRequested,
    TextAsked,
    Timer,
    TimerFired,
    TurnOpened,
    UnmuteRequested,
    UtteranceLimitReached,
    WakeWordHeard,
)
from talkbox.conversation.memory import (
    Conversation,
    LinkStatus,
    Mode,
    ends_on_silence,
    hears_over_answer,
    keeps_preroll,
    resting,
    sends_mic_audio,
)
from talkbox.conversation.ringing import with_ringing
from talkbox.conversation.steps import (
    AT_REST,
    Handler,
    Step,
    abandon,
    fail,
    open_turn,
    pressed,
    refuse,
    rest,
    settle,
    start_timer,
    unchanged,
)
from talkbox.live.events import (
    AnswerAudioReceived,
    AnswerInterrupted,
    GenerationCompleted,
    LinkConnected,
    LinkDisconnected,
    LinkFailed,
    TurnCompleted,
    TurnFailed,
    TurnResent,
)


def _press_at_rest(c: Conversation, _e: ButtonPressed) -> Step:
    c = pressed(c, None)
    if resting(c) is State.IDLE:
        return open_turn(c)  # also ends a failure moment early
    return refuse(c)


def _barge_in(c: Conversation, _e: ButtonPressed) -> Step:
    # A turn still waiting for its answer may be the half sentence a double press (mute)
    # began by closing.
    c = pressed(c, c.turn_id if c.state is State.THINKING else None)
    # Flush first: the person pressed to stop the answer, whatever happens next.
    flush: list[Action] = [FlushPlayback()]
    if resting(c) is State.IDLE:
        c, actions = open_turn(c)
        return c, flush + actions
    c, actions = refuse(rest(c))
    return c, flush + actions


def _wake_at_rest(c: Conversation, _e: WakeWordHeard) -> Step:
    if resting(c) is not State.IDLE:
        return refuse(c)
    c, actions = open_turn(c, by_voice=True)
    # What the pre-roll holds is the wake word itself: only the audio after it goes up.
    return c, [*actions, ClearPreroll()]


def _wake_barge_in(c: Conversation, e: WakeWordHeard) -> Step:
    c, actions = rest(c), [FlushPlayback()]  # flush first, as for a press
    c, more = _wake_at_rest(c, e)
    return c, actions + more


def _talk_at_rest(c: Conversation, _e: TalkRequested) -> Step:
    if resting(c) is not State.IDLE:
        return refuse(c)
    c, actions = open_turn(c, by_voice=True)
    # Only what the person says after asking goes up, as after the wake word.
    return c, [*actions, ClearPreroll()]


def _talk_barge_in(c: Conversation, e: TalkRequested) -> Step:
    c, actions = rest(c), [FlushPlayback()]  # flush first, as for a press
    c, more = _talk_at_rest(c, e)
    return c, actions + more


def _close_turn(c: Conversation) -> Step:
    """activityEnd: the turn is asked; its answer must start within the answer timeout."""
    c = replace(c, state=State.THINKING, upstream=False)
    c, timer = start_timer(c, Timer.ANSWER, c.options.answer_timeout_s)
    return c, [SendActivityEnd(), PlayEarcon(earcon=Earcon.END), timer]


def _nothing_said(c: Conversation) -> Step:
    """The turn ends before anything was sent: nothing goes up, no answer is waited for."""
    return rest(c), [PlayEarcon(earcon=Earcon.END)]


def _end_listening(c: Conversation) -> Step:
    return _close_turn(c) if c.upstream else _nothing_said(c)


def _second_press(c: Conversation, _e: ButtonPressed) -> Step:
    c = pressed(c, c.turn_id if c.upstream else None)
    if ends_on_silence(c):
        return _end_listening(c)
    return c, []  # a bounce or a missed release; the release closes the turn


def _release(c: Conversation, _e: ButtonReleased) -> Step:
    if not ends_on_silence(c):
        return _end_listening(c)
    return unchanged(c)


def _speech_started(c: Conversation, _e: SpeechStarted) -> Step:
    if c.upstream:
        return replace(c, heard=True), []
    c = replace(c, upstream=True, heard=True)
    return c, [SendActivityStart(), SendPreroll()]


def _follow_up_speech(c: Conversation, _e: SpeechStarted) -> Step:
    if not c.follow_up:
        return unchanged(c)  # a late decision of an endpointer already stopped
    # No earcon: it would play over the person's first words and go up with them.
    c = replace(
        c,
        state=State.LISTENING,
        follow_up=False,
        follow_ups=c.follow_ups + 1,
        upstream=True,
        heard=True,
    )
    return c, [SendActivityStart(), SendPreroll()]


def _voice_barge_in(c: Conversation, _e: SpeechStarted) -> Step:
    if not hears_over_answer(c):
        return unchanged(c)  # a late decision of an endpointer already stopped
    c = rest(c)
    if c.state is not State.IDLE:
        return c, [FlushPlayback()]
    # As a follow-up: the speech that started goes up from just before its start, and no
    # earcon plays over the person's first words. Flushed first: the person talks over it.
    c = replace(c, state=State.LISTENING, by_voice=True, upstream=True, heard=True, follow_ups=0)
    return c, [FlushPlayback(), SendActivityStart(), SendPreroll()]


def _speech_ended(c: Conversation, _e: SpeechEnded) -> Step:
    if ends_on_silence(c) and c.upstream:
        return _close_turn(c)
    return unchanged(c)


def _utterance_limit(c: Conversation, _e: UtteranceLimitReached) -> Step:
    return _end_listening(c)


def _no_speech(c: Conversation, _e: NoSpeechTimedOut) -> Step:
    if c.heard or c.upstream:
        return unchanged(c)
    return _nothing_said(c)


def _follow_up_over(c: Conversation, _e: NoSpeechTimedOut) -> Step:
    return replace(c, follow_up=False), []


def _turn_opened(c: Conversation, e: TurnOpened) -> Step:
    if c.upstream and c.turn_id is None:
        return replace(c, turn_id=e.turn_id), []
    return unchanged(c)


def _mic_frame(c: Conversation, e: MicFrameCaptured) -> Step:
    if sends_mic_audio(c):
        return c, [SendAudio(pcm=e.pcm)]
    if keeps_preroll(c):
        return c, [RememberForPreroll(pcm=e.pcm)]
    return unchanged(c)


def _first_audio(c: Conversation, e: AnswerAudioReceived) -> Step:
    if e.turn_id != c.turn_id:
        return unchanged(c)  # an answer to a turn left behind (barge-in, mute)
    c = replace(c, state=State.SPEAKING)
    return c, [Play(turn_id=e.turn_id, pcm=e.pcm, rate=e.rate)]


def _more_audio(c: Conversation, e: AnswerAudioReceived) -> Step:
    if e.turn_id != c.turn_id or c.answer_in:
        return unchanged(c)
    return c, [Play(turn_id=e.turn_id, pcm=e.pcm, rate=e.rate)]


def _unprompted_audio(c: Conversation, e: AnswerAudioReceived) -> Step:
    if e.turn_id is not None:
        return unchanged(c)  # a late answer to an abandoned turn
    c = replace(c, state=State.SPEAKING, turn_id=None, answer_in=False, follow_up=False)
    return c, [Play(turn_id=None, pcm=e.pcm, rate=e.rate)]


def _all_audio_in(c: Conversation, e: GenerationCompleted | TurnCompleted) -> Step:
    # generationComplete says all audio is in; turnComplete says so too when a model
    # does not send generationComplete. Speaking lasts until playback has played it.
    if e.turn_id != c.turn_id or c.answer_in:
        return unchanged(c)
    return replace(c, answer_in=True), [FinishPlayback(turn_id=c.turn_id)]


def _completed_silently(c: Conversation, e: TurnCompleted) -> Step:
    if e.turn_id != c.turn_id or e.interrupted:
        return unchanged(c)
    # The link reports why (a blocked answer, turnCompleteReason); the person hears the earcon.
    return fail(c)


def _played(c: Conversation, e: PlaybackFinished) -> Step:
    if e.turn_id != c.turn_id or not c.answer_in:
        return unchanged(c)
    answered_a_person = c.turn_id is not None
    c = rest(c)
    # Only an answer to a turn a person opened invites a follow-up: after an unprompted
    # one (a reminder) nothing may go up before someone presses. A chain of follow-ups is
    # bounded: with a TV talking, one press must not become an open microphone.
    if (
        answered_a_person
        and c.state is State.IDLE
        and c.options.mode is Mode.TAP
        and c.options.follow_up_s > 0
        and c.follow_ups < c.options.follow_up_turns
    ):
        c = replace(c, follow_up=True)
    return c, []


def _interrupted(c: Conversation, e: AnswerInterrupted) -> Step:
    if e.turn_id != c.turn_id:
        return unchanged(c)
    return rest(c), [FlushPlayback()]


def _resent(c: Conversation, e: TurnResent) -> Step:
    if e.turn_id != c.turn_id:
        return unchanged(c)
    # What played belongs to the first answer; the resent turn's answer plays whole, once.
    c = replace(c, state=State.THINKING, answer_in=False)
    c, timer = start_timer(c, Timer.ANSWER, c.options.answer_timeout_s)
    return c, [FlushPlayback(), timer]


def _turn_failed(c: Conversation, e: TurnFailed) -> Step:
    if e.turn_id != c.turn_id:
        return unchanged(c)
    return fail(c)


def _timer_fired(c: Conversation, e: TimerFired) -> Step:
    if e.timer is Timer.ANSWER and e.serial == c.answer_timer and c.state is State.THINKING:
        seconds = c.options.answer_timeout_s
        return fail(c, f"no answer within {seconds:g} s (ANSWER_TIMEOUT_S)")
    if e.timer is Timer.FAILURE_SHOWN and e.serial == c.failure_timer:
        return rest(replace(c, failure_timer=0)), []
    return unchanged(c)


def _mute(c: Conversation, e: DoublePressed | MuteRequested) -> Step:
    # A muted utterance never becomes part of the conversation: neither the turn under
    # way nor, for a double press, the one its first press closed.
    actions = abandon(c, "muted")
    if isinstance(e, DoublePressed):
        actions += [
            WithdrawTurn(turn_id=away, reason="muted")
            for away in dict.fromkeys(c.pressed_away)
            if away is not None and away != c.turn_id
        ]
    c = rest(replace(c, muted=True))
    return c, [*actions, PersistMute(muted=True)]


def _unmute(c: Conversation, _e: DoublePressed | UnmuteRequested) -> Step:
    return rest(replace(c, muted=False)), [PersistMute(muted=False)]


def _new_conversation(c: Conversation, _e: LongPressed | NewConversationRequested) -> Step:
    flush = abandon(c, "a new conversation") if c.state is State.SPEAKING else []
    # At rest (offline, muted, a failure moment) the state stays as it is.
    rested = c if c.state in AT_REST and c.state is not State.IDLE else rest(c)
    return rested, [*flush, StartNewConversation(), PlayEarcon(earcon=Earcon.END)]


def _long_press(c: Conversation, e: LongPressed) -> Step:
    if c.heard:
        return unchanged(c)  # someone is talking into a held button
    return _new_conversation(c, e)


def _link_connected(c: Conversation, _e: LinkConnected) -> Step:
    return settle(replace(c, link=LinkStatus.UP))


def _text_opened(c: Conversation, e: TurnOpened) -> Step:
    if c.turn_id is None:
        return replace(c, turn_id=e.turn_id), []
    return unchanged(c)


def _text_asked(c: Conversation, e: TextAsked) -> Step:
    if resting(c) is not State.IDLE:
        return refuse(c)
    c = replace(rest(c), state=State.THINKING)
    c, timer = start_timer(c, Timer.ANSWER, c.options.answer_timeout_s)
    return c, [SendText(text=e.text), timer]


def _link_disconnected(c: Conversation, e: LinkDisconnected) -> Step:
    if e.idle or not e.reconnecting:
        link = LinkStatus.UP  # ready to connect when there is something to send
    elif e.offline:
        link = LinkStatus.DOWN
    else:
        # Reconnecting (at once, or after a backoff) is not offline: that takes a minute of
        # failures (`RetryPolicy.offline_after_s`). A press opens a turn meanwhile; its audio
        # waits for the connection, bounded by the utterance limit and the answer timeout.
        return unchanged(c)
    return settle(replace(c, link=link))


def _lost_while_speaking(c: Conversation, e: LinkDisconnected) -> Step:
    c, actions = _link_disconnected(c, e)
    if not e.reconnecting or e.retry_in_s <= 0 or c.answer_in:
        return c, actions
    # The answer was cut and the link must wait to reconnect: what played is dropped (a
    # resent turn is answered whole), and the answer timeout runs as after any question.
    c = replace(c, state=State.THINKING)
    c, timer = start_timer(c, Timer.ANSWER, c.options.answer_timeout_s)
    return c, [FlushPlayback(), timer]


def _link_failed(c: Conversation, _e: LinkFailed) -> Step:
    return settle(replace(c, link=LinkStatus.FAILED))


def _device_failed(c: Conversation, e: AudioDeviceFailed) -> Step:
    actions = abandon(c, f"the {e.device} device failed")
    earcon: list[Action] = [PlayEarcon(earcon=Earcon.ERROR)] if c.state not in AT_REST else []
    return rest(replace(c, broken=c.broken | {e.device})), actions + earcon


def _device_recovered(c: Conversation, e: AudioDeviceRecovered) -> Step:
    return settle(replace(c, broken=c.broken - {e.device}))


# ------------------------------------------------------------------------------------ table

S = State
_ALL: Final = tuple(State)
_TURN: Final = (S.LISTENING, S.THINKING, S.SPEAKING)


def _every(event: type, handler: Handler, states: tuple[State, ...] = _ALL) -> dict[Any, Handler]:
    return {(state, event): handler for state in states}


TABLE: Final[Mapping[tuple[State, type], Handler]] = with_ringing(
    {
        # the button
        **_every(ButtonPressed, _press_at_rest, (S.STARTING, S.IDLE, S.OFFLINE, S.ERROR)),
        (S.LISTENING, ButtonPressed): _second_press,
        (S.THINKING, ButtonPressed): _barge_in,
        (S.SPEAKING, ButtonPressed): _barge_in,
        (S.LISTENING, ButtonReleased): _release,
        (S.LISTENING, LongPressed): _long_press,
        # the wake word: a tap by voice (no row in muted: the detector does not even run there)
        **_every(WakeWordHeard, _wake_at_rest, (S.STARTING, S.IDLE, S.OFFLINE, S.ERROR)),
        (S.THINKING, WakeWordHeard): _wake_barge_in,
        (S.SPEAKING, WakeWordHeard): _wake_barge_in,
        # a remote talk button (Home Assistant): a tap by voice too; refused while muted
        **_every(TalkRequested, _talk_at_rest, (S.STARTING, S.IDLE, S.OFFLINE, S.ERROR)),
        (S.THINKING, TalkRequested): _talk_barge_in,
        (S.SPEAKING, TalkRequested): _talk_barge_in,
        **_every(LongPressed, _new_conversation, (S.STARTING, S.IDLE, S.MUTED, S.OFFLINE, S.ERROR)),
        **_every(NewConversationRequested, _new_conversation),
        **_every(DoublePressed, _mute, tuple(s for s in State if s is not S.MUTED)),
        (S.MUTED, DoublePressed): _unmute,
        **_every(MuteRequested, _mute, tuple(s for s in State if s is not S.MUTED)),
        (S.MUTED, UnmuteRequested): _unmute,
        # the microphone and the endpointer
        **_every(MicFrameCaptured, _mic_frame),
        (S.LISTENING, SpeechStarted): _speech_started,
        (S.IDLE, SpeechStarted): _follow_up_speech,
        (S.SPEAKING, SpeechStarted): _voice_barge_in,
        (S.LISTENING, SpeechEnded): _speech_ended,
        (S.LISTENING, UtteranceLimitReached): _utterance_limit,
        (S.LISTENING, NoSpeechTimedOut): _no_speech,
        (S.IDLE, NoSpeechTimedOut): _follow_up_over,
        # the turn on the link, and its answer
        (S.LISTENING, TurnOpened): _turn_opened,
        (S.THINKING, TurnOpened): _text_opened,
        **_every(TextAsked, _text_asked, (S.STARTING, S.IDLE, S.OFFLINE, S.ERROR)),
        (S.THINKING, AnswerAudioReceived): _first_audio,
        (S.SPEAKING, AnswerAudioReceived): _more_audio,
        (S.IDLE, AnswerAudioReceived): _unprompted_audio,
        (S.SPEAKING, GenerationCompleted): _all_audio_in,
        (S.SPEAKING, TurnCompleted): _all_audio_in,
        (S.THINKING, TurnCompleted): _completed_silently,
        (S.SPEAKING, PlaybackFinished): _played,
        (S.THINKING, AnswerInterrupted): _interrupted,
        (S.SPEAKING, AnswerInterrupted): _interrupted,
        (S.SPEAKING, TurnResent): _resent,
        **_every(TurnFailed, _turn_failed, _TURN),
        (S.THINKING, TimerFired): _timer_fired,
        (S.ERROR, TimerFired): _timer_fired,
        # the link and the devices
        **_every(LinkConnected, _link_connected),
        **_every(
            LinkDisconnected, _link_disconnected, tuple(s for s in State if s is not S.SPEAKING)
        ),
        (S.SPEAKING, LinkDisconnected): _lost_while_speaking,
        **_every(LinkFailed, _link_failed),
        **_every(AudioDeviceFailed, _device_failed),
        **_every(AudioDeviceRecovered, _device_recovered),
        # a due timer or alarm: `with_ringing` adds `talkbox.conversation.ringing`'s rows
    }
)
"""Every transition: (state, event type) → handler. A missing row means: nothing changes."""
