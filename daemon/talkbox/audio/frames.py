"""Pure audio helpers: framing, resampling (soxr), gain, fades, levels and earcon synthesis.

Everything here works on mono S16_LE bytes and has no I/O, so the ALSA threads
(`talkbox.audio.alsa`), the fakes and the tests share one implementation:

    reframe = Reframer(frame_bytes(16_000, 20))
    resample = Resampler(48_000, 16_000)
    for chunk in device_chunks:
        for frame in reframe.feed(resample.process(chunk)):
            ...  # exactly 640 bytes each

`EarconWindows` is the one shared, thread-safe piece: the playback side records when an
earcon is audible, the capture side asks whether a frame overlaps it, so the mic can tell
its own earcon from speech.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import soxr

from talkbox.audio.format import SAMPLE_BYTES

Samples = npt.NDArray[np.int16]
"""Mono 16-bit samples as numpy holds them."""

MAX_SAMPLE = 32767
"""The largest value of a signed 16-bit sample."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of microphone audio, ready for the VAD, the wake word and the uplink."""

    pcm: bytes
    """Mono S16_LE at the input rate (16 kHz); exactly one period (20 ms = 640 bytes)."""
    captured_at: float
    """`time.monotonic()` when the frame's last sample had been read from the device."""
    earcon: bool = False
    """The frame overlaps an earcon the speaker played: it is not the person speaking."""


def frame_bytes(rate_hz: int, period_ms: int) -> int:
    """How many bytes one `period_ms` frame of mono S16_LE at `rate_hz` takes."""
    samples = rate_hz * period_ms / 1000
    if samples != int(samples) or samples <= 0:
        raise ValueError(f"{period_ms} ms at {rate_hz} Hz is not a whole number of samples")
    return int(samples) * SAMPLE_BYTES


def as_samples(pcm: bytes | bytearray) -> Samples:
    """View mono S16_LE bytes as samples (no copy)."""
    if len(pcm) % SAMPLE_BYTES:
        raise ValueError(f"16-bit PCM must have an even byte count, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2")


def to_bytes(samples: npt.NDArray[np.generic]) -> bytes:
    """Round and saturate samples of any numeric dtype into mono S16_LE bytes."""
    if samples.dtype == np.int16:
        return bytes(samples.astype("<i2", copy=False).tobytes())
    clipped = np.clip(np.rint(samples), -MAX_SAMPLE - 1, MAX_SAMPLE)
    return bytes(clipped.astype("<i2").tobytes())


def first_channel(pcm: bytes, channels: int) -> bytes:
    """The first channel of interleaved S16_LE audio (a stereo-only device gives two)."""
    if channels == 1:
        return pcm
    return as_samples(pcm).reshape(-1, channels)[:, 0].tobytes()


def to_channels(pcm: bytes, channels: int) -> bytes:
    """Mono S16_LE copied into every channel of interleaved audio."""
    if channels == 1:
        return pcm
    return np.repeat(as_samples(pcm), channels).tobytes()


class Reframer:
    """Cuts a stream of S16_LE bytes into frames of exactly `size` bytes."""

    def __init__(self, size: int) -> None:
        if size <= 0 or size % SAMPLE_BYTES:
            raise ValueError(f"frame size must be a positive even byte count, got {size}")
        self.size = size
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next frame is complete."""
        return len(self._pending)

    def feed(self, pcm: bytes) -> list[bytes]:
        """Add `pcm` and return every frame now complete, oldest first."""
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % self.size
        frames = [bytes(self._pending[i : i + self.size]) for i in range(0, whole, self.size)]
        del self._pending[:whole]
        return frames

    def reset(self) -> None:
        """Forget the partial frame (after a gap in the stream)."""
        self._pending.clear()


class Resampler:
    """A streaming mono S16_LE resampler over `soxr.ResampleStream` (a no-op at equal rates).

    Its output is bursty (HQ turns 20 ms chunks at 48 kHz into 0, 489 or 490 samples at
    16 kHz), so capture re-frames it with a `Reframer`.
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int, *, quality: str = "HQ") -> None:
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self._stream = (
            None
            if in_rate_hz == out_rate_hz
            else soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="int16", quality=quality)
        )

    @property
    def passthrough(self) -> bool:
        """True when both rates are equal and audio passes unchanged."""
        return self._stream is None

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk; the output may lag and come in bursts."""
        if self._stream is None or not pcm:
            return pcm
        return to_bytes(self._stream.resample_chunk(as_samples(pcm)))

    def flush(self) -> bytes:
        """Return what the filter still holds and make ready for a new stream."""
        if self._stream is None:
            return b""
        tail = to_bytes(self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True))
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Drop what the filter holds (after a flush or a gap in the stream)."""
        if self._stream is not None:
            self._stream.clear()


def db_to_gain(db: float) -> float:
    """The amplitude factor of a gain in decibels."""
    return float(10 ** (db / 20))


def volume_to_gain(percent: float) -> float:
    """The amplitude factor of a volume in percent: 0 is silent, 100 is unchanged.

    Squared, so equal steps sound roughly equal (50 % is about -12 dB).
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"volume must be 0..100 percent, got {percent}")
    return (percent / 100) ** 2


def apply_gain(pcm: bytes, gain: float) -> bytes:
    """Scale S16_LE audio by `gain`, saturating instead of wrapping around."""
    if gain == 1.0 or not pcm:
        return pcm
    return to_bytes(as_samples(pcm).astype(np.float32) * np.float32(gain))


def fade_samples(rate_hz: int, fade_ms: float) -> int:
    """How many samples a fade of `fade_ms` lasts at `rate_hz`."""
    return max(0, round(rate_hz * fade_ms / 1000))


def _ramp(n: int, rising: bool) -> npt.NDArray[np.float32]:
    # Raised cosine: no corner at either end of the ramp, so the fade itself does not click.
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 1) / (n + 1))).astype(
        np.float32
    )
    return ramp if rising else ramp[::-1]


def fade_in(pcm: bytes, samples: int) -> bytes:
    """Ramp the first `samples` of `pcm` up from silence."""
    x = as_samples(pcm)
    n = min(samples, len(x))
    if n == 0:
        return pcm
    head = x[:n].astype(np.float32) * _ramp(n, rising=True)
    return to_bytes(head) + x[n:].tobytes()


def fade_out(pcm: bytes, samples: int) -> bytes:
    """Ramp the last `samples` of `pcm` down to silence."""
    x = as_samples(pcm)
    n = min(samples, len(x))
    if n == 0:
        return pcm
    tail = x[len(x) - n :].astype(np.float32) * _ramp(n, rising=False)
    return x[: len(x) - n].tobytes() + to_bytes(tail)


def silence(samples: int) -> bytes:
    """`samples` of digital silence."""
    return bytes(samples * SAMPLE_BYTES)


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of `pcm` in dB below full scale (-inf for digital silence)."""
    x = as_samples(pcm)
    if len(x) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    return -math.inf if rms == 0 else 20 * math.log10(rms / (MAX_SAMPLE + 1))


class Tone(StrEnum):
    """The short tones the appliance plays to mark what happens."""

    TURN_START = "turn_start"
    """Rising two notes: the box is listening."""
    TURN_END = "turn_end"
    """Falling two notes: the turn is closed."""
    ERROR = "error"
    """Two low beeps: something failed."""


#: Each earcon as (frequency Hz, duration ms) notes; 0 Hz is a pause.
EARCON_NOTES: dict[Tone, tuple[tuple[float, float], ...]] = {
    Tone.TURN_START: ((660.0, 70.0), (880.0, 90.0)),
    Tone.TURN_END: ((880.0, 70.0), (660.0, 90.0)),
    Tone.ERROR: ((330.0, 120.0), (0.0, 60.0), (330.0, 120.0)),
}

EARCON_LEVEL = 0.3
"""Peak amplitude of earcon tones as a fraction of full scale (before the volume)."""


def synthesize_earcon(kind: Tone, rate_hz: int, *, fade_ms: float = 5.0) -> bytes:
    """The mono S16_LE tones of `kind` at `rate_hz`, each note faded in and out (no click)."""
    fade = fade_samples(rate_hz, fade_ms)
    parts: list[bytes] = []
    for frequency, duration_ms in EARCON_NOTES[kind]:
        n = round(rate_hz * duration_ms / 1000)
        if frequency == 0:
            parts.append(silence(n))
            continue
        t = np.arange(n, dtype=np.float64) / rate_hz
        tone = to_bytes(EARCON_LEVEL * MAX_SAMPLE * np.sin(2 * np.pi * frequency * t))
        parts.append(fade_out(fade_in(tone, fade), fade))
    return b"".join(parts)


class EarconWindows:
    """When earcons are audible, as monotonic-time intervals; shared by playback and capture.

    Playback adds an interval when it writes an earcon (widened by `guard_s` for the device's
    latency and the room's echo); capture marks each frame that overlaps one.
    """

    def __init__(self, *, guard_s: float = 0.15, keep: int = 16) -> None:
        self.guard_s = guard_s
        self._keep = keep
        self._lock = threading.Lock()
        self._windows: list[tuple[float, float]] = []

    def add(self, start: float, end: float) -> None:
        """Record that an earcon sounds from `start` to `end` (monotonic seconds)."""
        with self._lock:
            self._windows.append((start - self.guard_s, end + self.guard_s))
            del self._windows[: -self._keep]

    def covers(self, start: float, end: float) -> bool:
        """Whether audio heard between `start` and `end` overlaps an earcon."""
        with self._lock:
            return any(s < end and start < e for s, e in self._windows)
