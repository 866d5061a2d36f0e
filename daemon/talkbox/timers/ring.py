"""The ring: its own tone on the speaker, repeated until stopped.

Unlike the earcons (two notes at 660/880 Hz or 330 Hz, a fifth of a second) the ring is a
burst of four short high beeps alternating 1568 and 2093 Hz (G6, C7), then a pause, every
`CYCLE_S`: nothing else the box plays sounds like it, and it is far above the band speech
lives in. It goes out as audio on the answer's path (`AudioSink.play`), not as an earcon, so
TALKBOX_EARCONS=false does not silence it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import numpy as np

from talkbox.audio.format import ANSWER_RATE_HZ
from talkbox.audio.frames import MAX_SAMPLE, fade_in, fade_out, fade_samples, silence, to_bytes
from talkbox.ports import AudioSink

log = logging.getLogger(__name__)

RING_NOTES: Final = ((1568.0, 0.1), (0.0, 0.06), (2093.0, 0.1), (0.0, 0.06)) * 2 + ((0.0, 0.7),)
"""(frequency Hz, seconds) of one cycle; 0 Hz is a pause."""
RING_FREQUENCIES: Final = (1568.0, 2093.0)
RING_LEVEL: Final = 0.5
"""Peak amplitude as a fraction of full scale, before the volume: louder than the earcons."""
CYCLE_S: Final = sum(seconds for _, seconds in RING_NOTES)


def ring_cycle(rate_hz: int = ANSWER_RATE_HZ) -> bytes:
    """One cycle of the ring, mono S16_LE at `rate_hz`, each beep faded (no click)."""
    fade = fade_samples(rate_hz, 3.0)
    parts: list[bytes] = []
    for frequency, seconds in RING_NOTES:
        n = round(rate_hz * seconds)
        if frequency == 0:
            parts.append(silence(n))
            continue
        t = np.arange(n, dtype=np.float64) / rate_hz
        beep = to_bytes(RING_LEVEL * MAX_SAMPLE * np.sin(2 * np.pi * frequency * t))
        parts.append(fade_out(fade_in(beep, fade), fade))
    return b"".join(parts)


class Ringer:
    """Plays the ring on a speaker, cycle after cycle, from `start` until `stop`."""

    def __init__(self, speaker: AudioSink) -> None:
        """Ring on `speaker`."""
        self._speaker = speaker
        self._cycle = ring_cycle()
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0
        """Cycles queued since the box started (a test's and the status' count)."""

    @property
    def ringing(self) -> bool:
        """Whether the ring is playing."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start ringing (on the event loop); already ringing: nothing changes."""
        if self.ringing:
            return
        self._task = asyncio.get_running_loop().create_task(self._ring(), name="ring")

    def stop(self) -> None:
        """Stop at once: the cycle playing is dropped from the speaker."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        self._speaker.flush()

    async def _ring(self) -> None:
        speaker = self._speaker
        while True:
            # The cycle ends in a pause: the moment between two cycles is not heard.
            speaker.play(self._cycle, ANSWER_RATE_HZ)
            self.cycles += 1
            if not await speaker.finished():
                return  # flushed: something else (a press) took the speaker


def ring_heard_s(pcm: bytes, rate_hz: int = ANSWER_RATE_HZ, *, window_s: float = 0.02) -> float:
    """Seconds of `pcm` in which the ring's tones are what sounds (each 20 ms window judged).

    A window counts when it is not near silence and at least half its energy lies within
    40 Hz of a ring frequency: speech, the earcons and silence never do.
    """
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    size = max(1, round(rate_hz * window_s))
    count = samples.size // size
    if count == 0:
        return 0.0
    windows = samples[: count * size].reshape(count, size) * np.hanning(size)
    power = np.abs(np.fft.rfft(windows, axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / rate_hz)
    near = np.zeros_like(freqs, dtype=bool)
    for frequency in RING_FREQUENCIES:
        near |= np.abs(freqs - frequency) <= 40.0 + rate_hz / size
    total = power.sum(axis=1)
    loud = np.sqrt(np.mean(windows**2, axis=1)) > 0.02 * MAX_SAMPLE
    ringing = loud & (power[:, near].sum(axis=1) >= 0.5 * np.maximum(total, 1e-9))
    return float(np.count_nonzero(ringing) * size / rate_hz)
