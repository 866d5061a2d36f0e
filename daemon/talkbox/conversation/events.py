"""The appliance's own events: button, wake word, voice activity, playback, devices, timers.

Like `talkbox.live.events` (the link's events) they are frozen, keyword-only and named in the past
tense. Adapters post them to the event loop; the control task applies them, together with the
link's events, to `talkbox.conversation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Timer(StrEnum):
    """The timers the conversation asks the appliance to run."""

    ANSWER = "answer"
    """The turn closed; its answer audio must start within ANSWER_TIMEOUT_S."""
    FAILURE_SHOWN = "failure_shown"
    """The error pattern is shown for a moment after a failed turn, then the box rests."""
    RING = "ring"
    """A timer rings for at most RING_S; then it stops, though nobody stopped it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonPressed:
    """The button went down (also `talkbox ctl press`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonReleased:
    """The button came up (also `talkbox ctl release`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LongPressed:
    """The button has been held for LONG_PRESS_S (posted while it is still down)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DoublePressed:
    """The button went down a second time soon after the first (posted after that press)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeWordHeard:
    """The wake word detector heard `wake_word` (a model's id) in the microphone's audio."""

    wake_word: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MicFrameCaptured:
    """One 20 ms frame of 16 kHz mono S16_LE microphone audio was read."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted:
    """The endpointer heard the start of speech (VAD_START_MS of it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechEnded:
    """The endpointer heard VAD_END_MS of silence after speech."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceLimitReached:
    """The utterance reached MAX_UTTERANCE_S."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSpeechTimedOut:
    """No speech started within the time the endpointer was given to wait."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOpened:
    """The link opened turn `turn_id` for the activityStart just asked for."""

    turn_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished:
    """Everything queued for the answer to `turn_id` has played on the local speaker."""

    turn_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioDeviceFailed:
    """An audio device vanished or is busy; `device` names it."""

    device: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioDeviceRecovered:
    """An audio device that had failed works again."""

    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """A timer the conversation started ran out; `serial` tells which start it was."""

    timer: Timer
    serial: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MuteRequested:
    """Privacy mute was asked for by `source` (a person via `ctl`, or the model's tool)."""

    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmuteRequested:
    """A person asked to unmute (`ctl unmute`); the model cannot."""

    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TextAsked:
    """A person asked a question as text (`talkbox ctl say`); its answer is spoken."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewConversationRequested:
    """A person asked for a fresh conversation (`ctl new`)."""

    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RingDue:
    """Timers or alarms fell due (`talkbox.timers`): the box rings; `labels` name them."""

    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TalkRequested:
    """A person asked from afar (Home Assistant's Talk button) for a turn, as a tap by voice.

    Whatever the button mode, the turn ends when they stop speaking (nobody holds a remote
    button), and nothing heard before the request goes up.
    """

    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RingStopRequested:
    """A person asked the ring to stop (`talkbox ctl stop`); a press or the wake word does too."""

    source: str


ApplianceEvent = (
    ButtonPressed
    | ButtonReleased
    | LongPressed
    | DoublePressed
    | WakeWordHeard
    | MicFrameCaptured
    | SpeechStarted
    | SpeechEnded
    | UtteranceLimitReached
    | NoSpeechTimedOut
    | TurnOpened
    | PlaybackFinished
    | AudioDeviceFailed
    | AudioDeviceRecovered
    | TimerFired
    | MuteRequested
    | UnmuteRequested
    | TextAsked
    | NewConversationRequested
    | RingDue
    | RingStopRequested
    | TalkRequested
)
"""Everything the appliance's own parts report to the conversation."""
