"""The audio format talkbox speaks: 16 kHz up, 24 kHz down, mono S16_LE both ways."""

from __future__ import annotations

INPUT_RATE_HZ = 16_000
"""Sample rate of the microphone audio sent to the Live API."""
ANSWER_RATE_HZ = 24_000
"""Sample rate of the answer audio the Live API sends."""
SAMPLE_BYTES = 2
"""Bytes per sample: signed 16-bit little-endian, one channel."""
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE_HZ}"
"""The MIME type the Live API expects on each uploaded audio blob."""


def seconds(pcm: bytes | bytearray | int, rate_hz: int) -> float:
    """How long mono S16_LE audio lasts: `pcm` is the audio or its length in bytes."""
    size = pcm if isinstance(pcm, int) else len(pcm)
    return size / (SAMPLE_BYTES * rate_hz)


def pcm_bytes(duration_s: float, rate_hz: int) -> int:
    """How many bytes `duration_s` seconds of mono S16_LE audio at `rate_hz` take."""
    return round(duration_s * rate_hz) * SAMPLE_BYTES
