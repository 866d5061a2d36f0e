"""What the appliance tells about itself: its STATUS= line, counters, the last turn's facts.

`Facts` follows the events the control task handles (link status, device failures, ended
turns) so that `talkbox ctl status` and systemd's STATUS= can say why the box is offline or
in error, and what the last turn was like; `Counters` is the progress the watchdog checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from talkbox.conversation import AudioDeviceFailed, AudioDeviceRecovered, Event, State
from talkbox.live.events import (
    LinkConnected,
    LinkDisconnected,
    LinkFailed,
    TurnCompleted,
    TurnFailed,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LastTurn:
    """What `talkbox ctl status` says about the last turn that ended."""

    turn_id: int | None
    answered: bool
    interrupted: bool = False
    audio_s: float = 0.0
    first_audio_s: float | None = None
    duration_s: float = 0.0
    transcript: str = ""
    reason: str = ""


@dataclass(slots=True)
class Counters:
    """Progress the watchdog checks, and what the status reports."""

    frames: int = 0
    """Microphone frames the control task took from the mic."""
    frames_dropped: int = 0
    """Frames dropped because the control task fell behind."""
    applied: int = 0
    """Events the control task applied."""
    frames_sent: int = 0
    """Microphone frames handed to the link (SendAudio, and pre-roll frames)."""
    wake_words: int = 0
    """Wake words the detector heard (each opens a turn, barges in, or is refused)."""


class Facts:
    """Why the box is where it is, and the last turn; fed every event the control task takes."""

    def __init__(self) -> None:
        self.retry_in_s = 0.0
        """The link's last announced wait before reconnecting."""
        self.devices: dict[str, str] = {}
        """Audio devices that failed and have not come back, with why."""
        self.refusal = ""
        """Why the service refuses us (a bad key, a retired model), until a connection works."""
        self.last_turn: LastTurn | None = None
        self._abandoned: set[int] = set()
        """Turns a failing device cut: whatever the link says of them later, they were not
        heard."""

    @property
    def problem(self) -> str:
        """The newest failure a person may need to know about: devices first, then the service."""
        broken = "; ".join(f"{device} device: {why}" for device, why in self.devices.items())
        return broken or self.refusal

    def note(self, event: Event, *, turn_id: int | None = None) -> None:
        """Keep what the status and STATUS= lines tell about the link, devices and turns.

        `turn_id`: the turn under way when the event came (the conversation's).
        """
        match event:
            case LinkDisconnected(retry_in_s=delay):
                self.retry_in_s = delay
            case LinkFailed(reason=reason):
                self.refusal = reason
            case LinkConnected():
                # Only the service's refusal is over: a device still missing still is.
                self.refusal = ""
            case AudioDeviceFailed(device=device, reason=reason):
                self.devices[device] = reason
                if turn_id is not None:
                    self._abandoned.add(turn_id)
                    self.last_turn = LastTurn(
                        turn_id=turn_id,
                        answered=False,
                        reason=f"abandoned: the {device} device failed ({reason})",
                    )
            case AudioDeviceRecovered(device=device):
                self.devices.pop(device, None)
            case TurnCompleted() | TurnFailed() if event.turn_id in self._abandoned:
                pass  # the person did not hear it, whatever the service did
            case TurnCompleted() as done if done.turn_id is not None:
                self.last_turn = LastTurn(
                    turn_id=done.turn_id,
                    answered=not done.interrupted,
                    interrupted=done.interrupted,
                    audio_s=done.audio_s,
                    first_audio_s=done.first_audio_s,
                    duration_s=done.duration_s,
                    transcript=done.transcript,
                )
            case TurnFailed(turn_id=turn_id, reason=reason):
                self.last_turn = LastTurn(turn_id=turn_id, answered=False, reason=reason)
            case _:
                pass

    def line(self, state: State) -> str:
        """The STATUS= line: the state, with why for offline and error."""
        match state:
            case State.OFFLINE:
                delay = self.retry_in_s
                return (
                    f"offline: retrying in {delay:.0f} s"
                    if delay >= 10
                    else (f"offline: retrying in {delay:.1f} s")
                )
            case State.ERROR:
                return f"error: {self.problem or self._failed_turn()}"
            case state:
                return str(state)

    def _failed_turn(self) -> str:
        """The error moment after a turn failed: which, and why."""
        last = self.last_turn
        if last is None or last.answered or not last.reason:
            return "a turn failed"
        return f"turn {last.turn_id} failed: {last.reason}"
