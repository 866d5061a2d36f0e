"""What the ALSA adapter is told and tells: device options, status and counters.

Pure data with no ALSA import, so settings, fakes and tests can use them without
pyalsaaudio; `talkbox.audio.alsa` takes the options and reports the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from talkbox.errors import AudioDeviceError

Direction = Literal["capture", "playback"]
"""Which way audio flows through a PCM."""

DEVICES_HINT = "`talkbox devices` lists the devices that exist"
"""Appended to every device error, so the person knows where to look next."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureOptions:
    """How to open the microphone."""

    device: str = "default"
    """ALSA PCM name, e.g. `plughw:CARD=Device,DEV=0`."""
    rate_hz: int | None = None
    """Rate to open the device at; None asks for 16 kHz and takes what the device gives."""
    period_ms: int = 20
    """ALSA period and frame length: 10, 20 or 30 ms (what webrtcvad accepts)."""
    periods: int = 16
    """ALSA buffer length in periods: how long the capture thread may be kept from reading
    before the card overruns and audio is lost (320 ms; a read still returns each period as
    it fills, so a longer buffer adds no delay; 80 ms lost audio: docs/platform.md §1.2)."""
    gain_db: float = 0.0
    """Mic gain in dB, -20..+30."""
    queue_s: float = 2.0
    """Frames kept for a slow reader before the oldest are dropped."""
    batch: int = 3
    """Frames the thread gathers before it wakes a waiting reader: the event loop wakes once
    per batch (60 ms), not per frame, and `ready()` hands over whatever is gathered."""
    reopen_min_s: float = 0.25
    """First wait before reopening a failed device; doubles up to `reopen_max_s`."""
    reopen_max_s: float = 5.0
    """Longest wait between reopen attempts."""

    def __post_init__(self) -> None:
        _check_common(self.device, self.rate_hz, self.periods, self.reopen_min_s, self.reopen_max_s)
        if not 1 <= self.batch <= 10:
            raise ValueError(f"capture batch must be 1..10 frames, got {self.batch}")
        if self.period_ms not in (10, 20, 30):
            raise ValueError(f"capture period must be 10, 20 or 30 ms, got {self.period_ms}")
        if not -20 <= self.gain_db <= 30:
            raise ValueError(f"mic gain must be -20..30 dB, got {self.gain_db}")
        if not self.queue_s >= self.period_ms / 1000:
            raise ValueError(f"capture queue must hold at least one frame, got {self.queue_s} s")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackOptions:
    """How to open the speaker."""

    device: str = "default"
    """ALSA PCM name, e.g. `plughw:CARD=Device,DEV=0`."""
    rate_hz: int | None = None
    """Rate to open the device at; None asks for 24 kHz and takes what the device gives."""
    period_ms: int = 20
    """ALSA period: the longest a write blocks, so also how late a flush can be."""
    periods: int = 8
    """ALSA buffer length in periods: how long the playback thread may be kept from running
    before the speaker runs dry (160 ms; 80 ms ran dry on a loaded machine: docs/platform.md
    §1.3). A flush drops the buffer whatever its length."""
    volume: int = 80
    """Volume in percent, 0..100 (software gain, or the mixer when `mixer` is set)."""
    mixer: str | None = None
    """ALSA mixer control to set the volume on (e.g. `PCM`); None: software gain."""
    earcons: bool = True
    """Whether `play_earcon` makes a sound."""
    max_queue_s: float = 300.0
    """Audio accepted ahead of the speaker; answers arrive faster than real time."""
    fade_ms: float = 5.0
    """Fade at the start and end of each stretch of sound, so nothing clicks."""
    lead_in_ms: float = 20.0
    """Silence written before a stretch of sound starts, so the device start clips nothing."""
    reopen_min_s: float = 0.25
    """First wait before reopening a failed device; doubles up to `reopen_max_s`."""
    reopen_max_s: float = 5.0
    """Longest wait between reopen attempts."""

    def __post_init__(self) -> None:
        _check_common(self.device, self.rate_hz, self.periods, self.reopen_min_s, self.reopen_max_s)
        if not 5 <= self.period_ms <= 100:
            raise ValueError(f"playback period must be 5..100 ms, got {self.period_ms}")
        if not 0 <= self.volume <= 100:
            raise ValueError(f"volume must be 0..100 percent, got {self.volume}")
        if self.mixer is not None and not self.mixer.strip():
            raise ValueError("mixer name must not be empty (leave it unset for software volume)")
        if not 1 <= self.max_queue_s <= 3600:
            raise ValueError(f"playback queue must be 1..3600 s, got {self.max_queue_s}")
        if not 0 <= self.fade_ms <= 50 or not 0 <= self.lead_in_ms <= 200:
            raise ValueError("fade must be 0..50 ms and lead-in 0..200 ms")


def _check_common(
    device: str, rate_hz: int | None, periods: int, reopen_min_s: float, reopen_max_s: float
) -> None:
    if not device.strip():
        raise ValueError("ALSA device name must not be empty")
    if rate_hz is not None and not 8_000 <= rate_hz <= 192_000:
        raise ValueError(f"device rate must be 8000..192000 Hz, got {rate_hz}")
    if not 2 <= periods <= 16:
        raise ValueError(f"ALSA periods must be 2..16, got {periods}")
    if not 0 < reopen_min_s <= reopen_max_s:
        raise ValueError("reopen backoff must satisfy 0 < min <= max")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    """A device was opened (`error` None) or failed (`error` says how)."""

    direction: Direction
    device: str
    error: AudioDeviceError | None = None
    rate_hz: int | None = None
    """The rate the device really runs at, once open."""

    @property
    def ok(self) -> bool:
        """True when the device is open and working."""
        return self.error is None


StatusCallback = Callable[[DeviceStatus], None]
"""Called on the event loop each time a device fails or comes back."""


def device_error(direction: Direction, device: str, problem: str) -> AudioDeviceError:
    """The one error for a device that cannot be used, naming it and where to look."""
    return AudioDeviceError(
        f"{direction} device {device!r} cannot be used: {problem} ({DEVICES_HINT})"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureStats:
    """Counters of the capture thread."""

    frames: int
    dropped: int
    """Frames dropped because the reader fell behind (the oldest go first)."""
    overruns: int
    reopens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStats:
    """Counters of the playback thread."""

    written_s: float
    """Audio written to the device (answer and earcons, without lead-in), in seconds."""
    queued_s: float
    """Audio waiting in the queue, in seconds."""
    refused_s: float
    """Audio refused because the queue was full."""
    underruns: int
    flushes: int
    last_flush_s: float | None
    """From `flush()` to `pcm.drop()` returning, the last time."""
    last_flush_wait_s: float | None
    """From `flush()` to `pcm.drop()` being called, the last time: the thread's own delay
    (the rest of last_flush_s is the device's drop; a file plugin drains into its file there)."""
    reopens: int
