"""correlation(): how the ALSA tests tell whether a recording holds an answer whole."""

from __future__ import annotations

import numpy as np

from talkbox.audio.standins import correlation

RATE = 24_000


def speech_like(seconds: float, seed: int = 7) -> np.ndarray:
    """Noise shaped like speech's loudness (words and pauses), 24 kHz int16."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = np.abs(np.sin(np.linspace(0, 9 * np.pi, n))) + 0.05
    return (rng.standard_normal(n) * 6000 * envelope).clip(-32768, 32767).astype("<i2")


def pcm(*parts: np.ndarray) -> bytes:
    """The parts one after another, as S16_LE bytes."""
    return np.concatenate(parts).astype("<i2").tobytes()


def silence(seconds: float) -> np.ndarray:
    """Digital silence, 24 kHz int16."""
    return np.zeros(int(seconds * RATE), dtype="<i2")


def test_an_answer_after_a_lead_in_reads_whole() -> None:
    answer = speech_like(2.0)
    assert correlation(pcm(silence(0.02), answer, silence(0.1)), answer.tobytes()) > 0.999


def test_a_recording_still_missing_the_answers_last_15_ms_reads_nearly_whole() -> None:
    # What a file plugin a buffer behind gives while it still holds the end: every sample
    # that is there is in place. Offsets where the whole answer fits were all that used to
    # be tried, and none of them was the right one (0.15 for a whole answer).
    answer = speech_like(2.0)
    recorded = pcm(silence(0.02), answer[: -int(0.015 * RATE)])
    assert len(recorded) >= len(answer.tobytes())
    assert correlation(recorded, answer.tobytes()) > 0.99


def test_an_answer_with_a_gap_in_the_middle_does_not_read_whole() -> None:
    answer = speech_like(2.0)
    half = len(answer) // 2
    # The speaker ran dry for 100 ms: the second half comes late.
    recorded = pcm(silence(0.02), answer[:half], silence(0.1), answer[half:])
    assert correlation(recorded, answer.tobytes()) < 0.8


def test_half_an_answer_reads_as_half() -> None:
    answer = speech_like(2.0)
    recorded = pcm(silence(0.02), answer[: len(answer) // 2])
    assert correlation(recorded, answer.tobytes()) < 0.8


def test_nothing_heard_reads_zero() -> None:
    answer = speech_like(1.0)
    assert correlation(pcm(silence(1.5)), answer.tobytes()) == 0.0
