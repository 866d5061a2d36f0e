"""What the conversation state machine remembers between two events, and what follows from it.

`Conversation` is the whole memory (`TurnOptions` are its settings, `Mode` and `LinkStatus`
two of its fields); the predicates below it answer the questions `talkbox.conversation`
asks of it on every event: where the appliance rests, and whether the microphone's frames go
up, are kept for the pre-roll or feed the endpointer. Pure data and pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from talkbox.conversation.actions import State


class Mode(StrEnum):
    """How the button controls a turn (TALKBOX_BUTTON_MODE)."""

    HOLD = "hold"
    """Press opens the turn, release closes it."""
    TAP = "tap"
    """Press opens the turn; local VAD silence, a second tap or the length limit closes it."""


class LinkStatus(StrEnum):
    """What the conversation knows about the Live link."""

    CONNECTING = "connecting"
    """No connection has been made or refused yet."""
    UP = "up"
    """Connected, or ready to connect on the next turn (idle disconnect)."""
    DOWN = "down"
    """A connection was lost or refused; the link retries after a delay."""
    FAILED = "failed"
    """The service refused us in a way only a person can fix."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnOptions:
    """The turn-control settings the state machine needs (TALKBOX_* in brackets)."""

    mode: Mode = Mode.TAP
    """How the button controls a turn (BUTTON_MODE)."""
    no_speech_timeout_s: float = 5.0
    """A tapped turn without speech ends after this long, sending nothing (NO_SPEECH_TIMEOUT_S)."""
    follow_up_s: float = 0.0
    """In tap mode, speech this soon after an answer opens a turn without a press; 0: off."""
    follow_up_turns: int = 2
    """How many follow-up turns one press or wake word may chain (FOLLOW_UP_TURNS)."""
    answer_timeout_s: float = 10.0
    """A closed turn without answer audio after this long fails (ANSWER_TIMEOUT_S)."""
    failure_shown_s: float = 2.0
    """How long the error pattern is shown after a turn failed."""
    ring_s: float = 180.0
    """A ring nobody stops ends after this long (TIMER_RING_S)."""
    barge_in_by_voice: bool = False
    """Speech heard over the answer interrupts it and opens a turn (BARGE_IN=voice)."""

    def __post_init__(self) -> None:
        """Refuse values no appliance could work with."""
        checks = {
            "no_speech_timeout_s": (self.no_speech_timeout_s, 0.5, 60.0),
            "follow_up_s": (self.follow_up_s, 0.0, 60.0),
            "follow_up_turns": (self.follow_up_turns, 1, 10),
            "answer_timeout_s": (self.answer_timeout_s, 1.0, 300.0),
            "failure_shown_s": (self.failure_shown_s, 0.1, 60.0),
            "ring_s": (self.ring_s, 1.0, 3600.0),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, not {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """Everything the state machine remembers between two events."""

    options: TurnOptions = field(default_factory=TurnOptions)
    state: State = State.STARTING
    muted: bool = False
    """The privacy mute (persisted; restored at start)."""
    link: LinkStatus = LinkStatus.CONNECTING
    broken: frozenset[str] = frozenset()
    """Audio devices that failed and have not come back."""
    turn_id: int | None = None
    """The link's id of the turn being asked or answered (None: none, or unprompted)."""
    upstream: bool = False
    """activityStart was sent for the turn being listened to: frames go up."""
    heard: bool = False
    """The endpointer heard speech in the turn being listened to."""
    by_voice: bool = False
    """The turn being listened to was opened by the wake word: it ends as a tapped one does."""
    answer_in: bool = False
    """All answer audio of `turn_id` is queued for playback."""
    follow_up: bool = False
    """Idle with the follow-up window open (tap mode, after an answer)."""
    follow_ups: int = 0
    """Follow-up turns opened since a person last opened one (press, wake word)."""
    pressed_away: tuple[int | None, int | None] = (None, None)
    """The turns the two newest presses closed, or barged in over before their answer:
    when those presses were a double press (mute), the turns are taken back too."""
    timer_serial: int = 0
    """Serial of the newest timer started."""
    answer_timer: int = 0
    """Serial of the running answer timer (0: none)."""
    failure_timer: int = 0
    """Serial of the running failure timer (0: none): the error pattern is shown for a moment."""
    ring_timer: int = 0
    """Serial of the running ring timer (0: none): the ring's bound."""
    ringing_for: tuple[str, ...] = ()
    """What the ring under way rings for (the timers' labels), for the journal."""
    ring_press: bool = False
    """The press that stopped a ring is still down: held on, it is no new conversation."""


def resting(c: Conversation) -> State:
    """The state the appliance rests in when no turn is under way."""
    if c.broken or c.link is LinkStatus.FAILED:
        return State.ERROR
    if c.muted:
        return State.MUTED
    if c.link is LinkStatus.CONNECTING:
        return State.STARTING
    if c.link is LinkStatus.DOWN:
        return State.OFFLINE
    return State.IDLE


def sends_mic_audio(c: Conversation) -> bool:
    """Whether microphone frames go upstream now (only ever in `listening`)."""
    return c.state is State.LISTENING and c.upstream


def keeps_preroll(c: Conversation) -> bool:
    """Whether microphone frames are kept for the pre-roll now."""
    if c.state is State.LISTENING:
        return not c.upstream
    return c.state in (State.IDLE, State.THINKING) or hears_over_answer(c)


def hears_over_answer(c: Conversation) -> bool:
    """Whether the endpointer listens while the answer plays (BARGE_IN=voice); never sends.

    Only over the answer to a turn a person opened: what the model says on its own (a late
    tool result) is no invitation to open the microphone.
    """
    return c.state is State.SPEAKING and c.options.barge_in_by_voice and c.turn_id is not None


def ends_on_silence(c: Conversation) -> bool:
    """Whether the turn being listened to ends when the person stops speaking (not a release)."""
    return c.options.mode is Mode.TAP or c.by_voice


def endpointing(c: Conversation) -> bool:
    """Whether the endpointer is fed now: a turn, the follow-up window, BARGE_IN=voice's answer."""
    return (
        c.state is State.LISTENING
        or (c.state is State.IDLE and c.follow_up)
        or hears_over_answer(c)
    )
