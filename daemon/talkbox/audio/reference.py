"""What the speaker played, and when: the echo canceller's reference (docs/echo-cancellation.md §3).

The playback thread hands over exactly what it writes to the device, with the moment its
first sample will leave the speaker (now + what ALSA still holds ahead of it); the capture
side asks for the audio that played in a span of time. Shared by the two threads, like
`EarconWindows`:

    reference = PlayedAudio(device_rate_hz=24_000)
    reference.played(pcm, starts_at)        # playback thread, each period written
    reference.dropped(at)                   # playback thread, drop() (barge-in)
    reference.span(end_at, samples)         # the canceller: 16 kHz, zeros where silent

The audio is kept at 16 kHz (the microphone's rate) on one timeline of sample indices
counted from the object's creation, in a ring of `keep_s` seconds. A run of writes that
follow one another without a gap is placed sample after sample from its first write's
moment, so the jitter of the thread's clock readings never tears the signal; a write that
starts more than `gap_s` away from where the run would go on (an underrun, a pause between
answers, a drop) starts a new run at its own moment.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from talkbox.audio.format import INPUT_RATE_HZ
from talkbox.audio.frames import Resampler, as_samples, to_bytes

QUALITY = "MQ"
"""soxr's medium quality: it holds back 6 ms of what it was given, HQ 33 ms (measured,
24 and 48 kHz to 16 kHz). What it holds is not on the timeline yet, and the canceller asks
for audio only a few milliseconds ahead of the microphone: held back, it would find silence."""
GAP_S = 0.015
"""A write this far from where its run would go on starts a new run."""


class PlayedAudio:
    """The speaker's output as the microphone's rate sees it, on the monotonic clock."""

    def __init__(self, *, keep_s: float = 5.0, clock: float | None = None) -> None:
        """Remember the last `keep_s` seconds; `clock` is the timeline's zero (monotonic)."""
        self._lock = threading.Lock()
        self._ring = np.zeros(round(keep_s * INPUT_RATE_HZ), dtype=np.int16)
        self._zero = time.monotonic() if clock is None else clock
        self._end = 0
        """One past the newest sample written (timeline index)."""
        self._resample: Resampler | None = None
        self._run_start = 0.0
        """The moment the current run's first sample plays."""
        self._run_in = 0
        """Device samples fed into the current run."""
        self._run_out = 0
        """16 kHz samples the current run has put on the timeline."""
        self.runs = 0
        """How many runs were started (a count for tests and `status`)."""

    def index(self, at: float) -> int:
        """The timeline index of the moment `at` (monotonic seconds)."""
        return round((at - self._zero) * INPUT_RATE_HZ)

    def played(self, pcm: bytes, starts_at: float, rate_hz: int) -> None:
        """`pcm` (mono S16_LE at `rate_hz`, after the volume) starts playing at `starts_at`."""
        if not pcm:
            return
        with self._lock:
            resample = self._resample
            expected = self._run_start + self._run_in / rate_hz if resample is not None else 0.0
            if (
                resample is None
                or resample.in_rate_hz != rate_hz
                or abs(starts_at - expected) > GAP_S
            ):
                self._close_run()
                resample = self._resample = Resampler(rate_hz, INPUT_RATE_HZ, quality=QUALITY)
                self._run_start, self._run_in, self._run_out = starts_at, 0, 0
                self.runs += 1
            self._run_in += len(pcm) // 2
            self._put(as_samples(resample.process(pcm)))

    def dropped(self, at: float) -> None:
        """Nothing written plays after `at` (the device's buffer was dropped)."""
        with self._lock:
            self._close_run(flush=False)
            self._end = min(self._end, max(0, self.index(at)))

    def span(self, end: int, samples: int) -> bytes:
        """The `samples` that played up to the timeline index `end`, at 16 kHz; zeros if none."""
        start = end - samples
        out = np.zeros(samples, dtype=np.int16)
        with self._lock:
            size = len(self._ring)
            low, high = max(start, self._end - size, 0), min(end, self._end)
            if high > low:
                where = np.arange(low, high) % size
                out[low - start : high - start] = self._ring[where]
        return to_bytes(out)

    def _put(self, samples: np.ndarray) -> None:
        # Placed by the run's own sample count: the timeline follows the device's clock.
        if not len(samples):
            return
        size = len(self._ring)
        at = self.index(self._run_start) + self._run_out
        self._run_out += len(samples)
        if at + len(samples) <= 0:
            return
        if at < 0:
            samples, at = samples[-at:], 0
        if at > self._end:
            # Silence between the last run and this one.
            gap = np.arange(self._end, at)[-size:] % size
            self._ring[gap] = 0
        samples = samples[-size:]
        self._ring[np.arange(at, at + len(samples)) % size] = samples
        self._end = at + len(samples)

    def _close_run(self, *, flush: bool = True) -> None:
        resample, self._resample = self._resample, None
        if resample is not None and flush:
            self._put(as_samples(resample.flush()))
