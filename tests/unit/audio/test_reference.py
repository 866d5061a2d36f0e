"""What the speaker played, on the microphone's timeline."""

from __future__ import annotations

import numpy as np

from talkbox.audio.frames import Resampler
from talkbox.audio.reference import PlayedAudio

PERIOD = 960  # 20 ms at 24 kHz, in bytes


def ramp(seconds: float, rate: int = 24_000) -> bytes:
    """A slow sine, so resampled samples can be compared one by one."""
    t = np.arange(round(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * 200 * t)).astype("<i2").tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def play(played: PlayedAudio, pcm: bytes, start: float, *, jitter: float = 0.0) -> None:
    """Period by period, each stamped with when it plays (`jitter` added to all but the first)."""
    rng = np.random.default_rng(1)
    for k in range(len(pcm) // PERIOD):
        at = start + k * 0.02 + (rng.uniform(-jitter, jitter) if k else 0.0)
        played.played(pcm[k * PERIOD : (k + 1) * PERIOD], at, 24_000)


def test_what_played_is_found_at_its_moment_at_16_khz() -> None:
    played = PlayedAudio(clock=0.0)
    sound = ramp(1.0)
    play(played, sound, start=2.0, jitter=0.004)
    expected = samples(Resampler(24_000, 16_000, quality="MQ").process(sound))
    got = samples(played.span(played.index(2.5), 4000))
    # A run is placed by its first moment and its own sample count: clock jitter does not move it.
    assert played.runs == 1
    assert np.max(np.abs(got - expected[8000 - 4000 : 8000])) <= 2
    # Before the sound started: silence.
    assert not np.any(samples(played.span(played.index(2.0), 1600)))


def test_a_pause_starts_a_new_run_and_is_silent() -> None:
    played = PlayedAudio(clock=0.0)
    play(played, ramp(0.5), start=1.0)
    play(played, ramp(0.5), start=2.0)
    assert played.runs == 2
    gap = samples(played.span(played.index(1.95), 4000))  # 1.70 to 1.95 s
    assert not np.any(gap)
    assert np.any(samples(played.span(played.index(2.2), 1600)))


def test_nothing_plays_after_a_drop() -> None:
    played = PlayedAudio(clock=0.0)
    play(played, ramp(1.0), start=1.0)
    played.dropped(1.5)
    assert np.any(samples(played.span(played.index(1.5), 1600)))
    assert not np.any(samples(played.span(played.index(2.0), 8000)))


def test_the_ring_forgets_what_is_older_than_it_keeps() -> None:
    played = PlayedAudio(keep_s=1.0, clock=0.0)
    play(played, ramp(3.0), start=1.0)
    assert not np.any(samples(played.span(played.index(2.5), 1600)))  # 1.5 s ago: forgotten
    assert np.any(samples(played.span(played.index(3.9), 1600)))
