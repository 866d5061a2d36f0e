"""The audio format constants and the arithmetic on them."""

from __future__ import annotations

import pytest

from talkbox.audio.format import (
    ANSWER_RATE_HZ,
    INPUT_MIME,
    INPUT_RATE_HZ,
    SAMPLE_BYTES,
    pcm_bytes,
    seconds,
)


def test_the_live_api_takes_16_khz_and_answers_at_24_khz_in_16_bit_samples() -> None:
    assert (INPUT_RATE_HZ, ANSWER_RATE_HZ, SAMPLE_BYTES) == (16_000, 24_000, 2)
    assert INPUT_MIME == "audio/pcm;rate=16000"


@pytest.mark.parametrize(
    ("size", "rate", "duration"), [(48_000, 24_000, 1.0), (640, 16_000, 0.02), (0, 24_000, 0.0)]
)
def test_seconds_counts_two_bytes_a_sample(size: int, rate: int, duration: float) -> None:
    assert seconds(size, rate) == pytest.approx(duration)
    assert seconds(b"\0" * size, rate) == pytest.approx(duration)


def test_bytes_and_seconds_are_inverse() -> None:
    assert pcm_bytes(60, INPUT_RATE_HZ) == 1_920_000
    assert seconds(pcm_bytes(0.02, INPUT_RATE_HZ), INPUT_RATE_HZ) == pytest.approx(0.02)
