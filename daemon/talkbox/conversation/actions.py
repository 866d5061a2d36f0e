"""What the conversation asks the appliance to do: the states it shows and the actions.

Pure data, split from `talkbox.conversation` (the state machine) so that the vocabulary the
appliance carries out stays readable on its own: `State` (one LED pattern each), `Earcon`,
and one frozen dataclass per action, joined in the `Action` union.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from talkbox.audio.format import ANSWER_RATE_HZ
from talkbox.conversation.events import Timer


class State(StrEnum):
    """What the appliance is doing; each state has one LED pattern (`talkbox.conversation.leds`)."""

    STARTING = "starting"
    """Opening devices and making the first connection."""
    IDLE = "idle"
    """Connected or ready to connect; waiting for a press (or follow-up speech)."""
    LISTENING = "listening"
    """A user turn is open. The only state in which microphone audio goes upstream."""
    THINKING = "thinking"
    """The turn is closed; waiting for the first answer audio."""
    SPEAKING = "speaking"
    """Playing the answer, until local playback has played all of it."""
    MUTED = "muted"
    """Privacy mute: the microphone is never read into the uplink."""
    OFFLINE = "offline"
    """The network or the service is unreachable; the link retries with backoff."""
    ERROR = "error"
    """Needs a person (bad key, missing audio device), or a turn just failed (for a moment)."""
    RINGING = "ringing"
    """A timer or alarm is due: the ring plays until a press, the wake word, `ctl stop` or
    RING_S. Nothing goes upstream."""


class Earcon(StrEnum):
    """The short tones the appliance plays."""

    START = "start"
    """A turn opened: speak now."""
    END = "end"
    """A turn closed (or a new conversation began)."""
    ERROR = "error"
    """A turn failed, or a press cannot be served now (offline, error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowState:
    """Show `state`'s LED pattern."""

    state: State


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayEarcon:
    """Play an earcon on the speaker."""

    earcon: Earcon


@dataclass(frozen=True, slots=True, kw_only=True)
class SendActivityStart:
    """Open a user turn on the link (`start_turn`), then apply `TurnOpened`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendPreroll:
    """Send the pre-roll: the audio kept by `RememberForPreroll` (at most PREROLL_MS)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAudio:
    """Send one microphone frame into the open turn."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SendText:
    """Ask a text turn on the link (`send_text`), then apply `TurnOpened`."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SendActivityEnd:
    """Close the open user turn on the link (`end_turn`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawTurn:
    """Take a turn back on the link (`withdraw`): never answered, never in the conversation.

    Nothing more of it is sent, now or after a reconnect.
    """

    turn_id: int | None
    """None: the turn open on the link (its id not applied yet)."""
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RememberForPreroll:
    """Keep this microphone frame in the pre-roll ring (the newest PREROLL_MS are kept)."""

    pcm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearPreroll:
    """Forget everything the pre-roll ring holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Play:
    """Queue answer audio for `turn_id` on the speaker."""

    turn_id: int | None
    pcm: bytes
    rate: int = ANSWER_RATE_HZ


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishPlayback:
    """All audio of `turn_id` is queued: apply `PlaybackFinished` once it has played."""

    turn_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlushPlayback:
    """Drop everything queued or playing on the speaker at once (ALSA `drop()`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartEndpointing:
    """Reset the endpointer and feed it every microphone frame from now on."""

    end_on_silence: bool
    """False while a held button keeps the utterance open: only the length limit applies."""
    no_speech_timeout_s: float | None
    """How long to wait for speech to start; None: wait as it takes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StopEndpointing:
    """Stop feeding the endpointer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTimer:
    """Apply `TimerFired(timer, serial)` after `seconds` (replacing a running `timer`)."""

    timer: Timer
    seconds: float
    serial: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelTimer:
    """Stop `timer` if it runs."""

    timer: Timer


@dataclass(frozen=True, slots=True, kw_only=True)
class StartNewConversation:
    """Drop the resumption handle and start fresh; a turn in progress is abandoned."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistMute:
    """Store the privacy mute in the state dir, so it survives a restart."""

    muted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Warn:
    """Log one WARNING line."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRing:
    """Start the ring on the speaker (its own tone, not an earcon): `labels` fell due."""

    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRing:
    """Stop the ring at once; `reason` says who stopped it, for the journal."""

    reason: str


Action = (
    ShowState
    | PlayEarcon
    | SendActivityStart
    | SendPreroll
    | SendAudio
    | SendActivityEnd
    | SendText
    | WithdrawTurn
    | RememberForPreroll
    | ClearPreroll
    | Play
    | FinishPlayback
    | FlushPlayback
    | StartEndpointing
    | StopEndpointing
    | StartTimer
    | CancelTimer
    | StartNewConversation
    | PersistMute
    | StartRing
    | StopRing
    | Warn
)
"""Everything the conversation asks the appliance to do."""
