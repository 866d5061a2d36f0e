"""Overruns and underruns, which the clockless file/null stand-ins never produce, and the
order in which a failed device is released and reported.

A scripted PCM stands in for the library here (not for our code): it returns -32 from
read/write as pyalsaaudio 0.11 does, and the real threads must count it and go on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import alsaaudio
import pytest

from talkbox.audio.alsa import (
    AlsaCapture,
    AlsaPlayback,
    CaptureOptions,
    DeviceStatus,
    Direction,
    Pcm,
    PlaybackOptions,
)

from .conftest import tone


class ScriptedPcm:
    """Reads or writes succeed except where the script says -32 (EPIPE)."""

    def __init__(self, rate: int, xruns_at: set[int]) -> None:
        self.rate = rate
        self.xruns_at = xruns_at
        self.calls = 0
        self.written = bytearray()
        self.closed = False

    def info(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "channels": 1,
            "format_name": "S16_LE",
            "period_size": self.rate // 50,
            "buffer_size": self.rate // 50 * 4,
        }

    def read(self) -> tuple[int, bytes]:
        self.calls += 1
        if self.calls in self.xruns_at:
            return -32, b""
        return self.rate // 50, tone(300, 0.02, self.rate)

    def write(self, data: bytes) -> int:
        self.calls += 1
        if self.calls in self.xruns_at:
            return -32  # nothing was written
        self.written += data
        return len(data) // 2

    def avail(self) -> int:
        return self.rate // 50 * 4

    def drop(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


async def test_capture_overruns_are_counted_and_capture_goes_on() -> None:
    pcm = ScriptedPcm(16_000, {3, 4, 10})

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        assert direction == "capture"
        return pcm

    async with AlsaCapture(CaptureOptions(device="scripted"), open_pcm=open_pcm) as mic:
        async with asyncio.timeout(10):
            frames = [await mic.read() for _ in range(20)]
        stats = mic.stats
    assert {len(f.pcm) for f in frames} == {640}
    assert stats.overruns == 3
    assert pcm.closed


async def test_a_playback_underrun_is_counted_and_the_chunk_is_written_again() -> None:
    pcm = ScriptedPcm(24_000, {4, 5})

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        assert direction == "playback"
        return pcm

    answer = tone(440, 0.5, 24_000)
    options = PlaybackOptions(device="scripted", volume=100, lead_in_ms=0)
    async with AlsaPlayback(options, open_pcm=open_pcm) as speaker:
        speaker.play(answer)
        async with asyncio.timeout(10):
            assert await speaker.finished()
        stats = speaker.stats
    assert stats.underruns == 2
    # Nothing lost: every sample is there (the fades touch only the first and last 5 ms).
    assert len(pcm.written) == len(answer)
    assert bytes(pcm.written[240:-240]) == answer[240:-240]
    assert stats.written_s == pytest.approx(0.5)


class VanishingPcm(ScriptedPcm):
    """Reads a few periods, then fails as an unplugged device does."""

    def read(self) -> tuple[int, bytes]:
        if self.calls >= 3:
            raise alsaaudio.ALSAAudioError("No such device [scripted]")
        return super().read()


async def test_a_failed_device_is_released_before_its_failure_is_reported() -> None:
    pcm = VanishingPcm(16_000, set())
    opens = 0

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        nonlocal opens
        opens += 1
        if opens > 1:
            raise alsaaudio.ALSAAudioError("No such device [scripted]")
        return pcm

    released_when_reported: list[bool] = []
    reported = asyncio.Event()

    def on_status(status: DeviceStatus) -> None:
        if not status.ok:
            released_when_reported.append(pcm.closed)
            reported.set()

    # A long backoff: a handle kept through it would still be open when the report lands.
    options = CaptureOptions(device="scripted", reopen_min_s=30.0, reopen_max_s=30.0)
    async with AlsaCapture(options, on_status=on_status, open_pcm=open_pcm):
        async with asyncio.timeout(10):
            await reported.wait()
    assert released_when_reported == [True]
    assert opens == 1  # the reopen waits out the backoff
