"""The capture thread over the real pyalsaaudio, on a file-plugin microphone fed in real time."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from talkbox.audio.alsa import AlsaCapture, CaptureOptions, DeviceStatus
from talkbox.audio.frames import EarconWindows, Frame, level_dbfs

from .conftest import (
    AlsaConfig,
    Mic,
    Statuses,
    drain_with_cat,
    file_pcm,
    frequency_of,
    stop,
    tone,
    wait_until,
)

MakeMic = Callable[..., Mic]


async def read_frames(mic: AlsaCapture, count: int, within: float = 10.0) -> list[Frame]:
    async with asyncio.timeout(within):
        return [await mic.read() for _ in range(count)]


async def test_capture_at_16_khz_hands_over_exact_20_ms_frames_as_the_mic_speaks(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    speech = tone(300, 3.0, 16_000)
    mics(fifo, speech, 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    statuses: list[DeviceStatus] = []
    async with AlsaCapture(CaptureOptions(device="mic"), on_status=statuses.append) as mic:
        started = time.monotonic()
        frames = await read_frames(mic, 100)
        elapsed = time.monotonic() - started
    assert {len(f.pcm) for f in frames} == {640}
    assert b"".join(f.pcm for f in frames) == speech[: 100 * 640]
    # Paced by the mic: 2 s of audio cannot arrive much sooner than 2 s.
    assert elapsed > 1.5
    assert all(b.captured_at > a.captured_at for a, b in pairwise(frames))
    assert [(s.ok, s.rate_hz) for s in statuses] == [(True, 16_000)]


async def test_a_waiting_reader_is_woken_once_per_batch_and_takes_the_rest_without_waiting(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    speech = tone(300, 3.0, 16_000)
    mics(fifo, speech, 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    async with AlsaCapture(CaptureOptions(device="mic", batch=3)) as mic:
        frames = await read_frames(mic, 1)
        frames += mic.ready()
        for _ in range(5):
            # Woken only once three frames were there: one read, at least two more ready.
            first = await read_frames(mic, 1)
            rest = mic.ready()
            assert len(rest) >= 2
            frames += first + rest
    # In order, none lost or repeated.
    assert b"".join(f.pcm for f in frames) == speech[: len(frames) * 640]


async def test_a_listener_is_called_on_the_loop_once_per_batch_until_it_takes_the_frames(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    mics(fifo, tone(300, 3.0, 16_000), 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    taken: list[int] = []
    threads: set[str] = set()
    loop_thread = threading.current_thread().name
    async with AlsaCapture(CaptureOptions(device="mic", batch=3)) as mic:

        def ready() -> None:
            threads.add(threading.current_thread().name)
            taken.append(len(mic.ready()))

        mic.ready()
        mic.on_ready(ready)
        async with asyncio.timeout(10):
            while len(taken) < 5:  # noqa: ASYNC110 -- the callback runs on this loop
                await asyncio.sleep(0.01)
        mic.on_ready(None)
    assert threads == {loop_thread}
    assert all(n >= 3 for n in taken)


async def test_capture_at_48_khz_is_resampled_to_exact_20_ms_frames_at_16_khz(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic48.fifo"
    mics(fifo, tone(440, 4.0, 48_000), 48_000)
    alsa.pcm("usbmic", file_pcm(output="/dev/null", infile=fifo))
    statuses: list[DeviceStatus] = []
    options = CaptureOptions(device="usbmic", rate_hz=48_000)
    async with AlsaCapture(options, on_status=statuses.append) as mic:
        started = time.monotonic()
        frames = await read_frames(mic, 125)
        elapsed = time.monotonic() - started
        stats = mic.stats
    assert {len(f.pcm) for f in frames} == {640}
    audio = b"".join(f.pcm for f in frames[5:])  # past the resampler's start-up
    assert frequency_of(audio, 16_000) == pytest.approx(440, abs=3)
    # 125 frames are 2.5 s: frames come at the mic's pace, not faster.
    assert elapsed > 2.0
    assert statuses[0].rate_hz == 48_000
    assert stats.frames >= 125
    assert stats.overruns == 0


async def test_mic_gain_raises_the_level_of_every_frame(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    mics(fifo, tone(300, 3.0, 16_000, amplitude=1000), 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    async with AlsaCapture(CaptureOptions(device="mic", gain_db=12.0)) as mic:
        frames = await read_frames(mic, 20)
        mic.set_gain_db(0.0)
        frames_after = await read_frames(mic, 30)
    loud = level_dbfs(b"".join(f.pcm for f in frames[:10]))
    plain = level_dbfs(b"".join(f.pcm for f in frames_after[-10:]))
    assert loud - plain == pytest.approx(12.0, abs=0.5)


async def test_frames_heard_while_an_earcon_sounds_are_marked(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    mics(fifo, tone(300, 4.0, 16_000), 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    windows = EarconWindows(guard_s=0.0)
    async with AlsaCapture(CaptureOptions(device="mic"), earcons=windows) as mic:
        before = await read_frames(mic, 5)
        now = time.monotonic()
        windows.add(now, now + 0.3)
        frames = await read_frames(mic, 40)
    assert not any(f.earcon for f in before)
    marked = [f for f in frames if f.earcon]
    # 0.3 s of earcon covers 15 frames, give or take the frames straddling its edges.
    assert 13 <= len(marked) <= 17
    assert all(now - 0.02 < f.captured_at < now + 0.32 for f in marked)


async def test_a_slow_reader_loses_the_oldest_frames_and_they_are_counted(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic
) -> None:
    fifo = tmp_path / "mic.fifo"
    # Noise, so that no two frames are alike and each can be found in the source.
    speech = np.random.default_rng(7).integers(-8000, 8000, 16_000 * 3, dtype="<i2").tobytes()
    mics(fifo, speech, 16_000)
    alsa.pcm("mic", file_pcm(output="/dev/null", infile=fifo))
    async with AlsaCapture(CaptureOptions(device="mic", queue_s=0.2)) as mic:
        await read_frames(mic, 1)
        await asyncio.to_thread(wait_until, lambda: mic.stats.dropped >= 10, 10, "drops")
        frames = await read_frames(mic, 10)
    # What is left is the newest audio, still in order.
    joined = b"".join(f.pcm for f in frames)
    assert speech.find(joined) > 640 * 10


async def test_a_missing_capture_device_is_one_clear_error_and_is_retried(
    alsa: AlsaConfig, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: list[DeviceStatus] = []
    options = CaptureOptions(device="nomic", reopen_min_s=0.02, reopen_max_s=0.05)
    with caplog.at_level(logging.DEBUG, logger="talkbox.audio.alsa"):
        async with AlsaCapture(options, on_status=statuses.append) as mic:
            retried = lambda: sum("still failing" in r.message for r in caplog.records) >= 3  # noqa: E731
            await asyncio.to_thread(wait_until, retried, 10, "three retries")
            assert mic.status is not None
            assert not mic.status.ok
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "capture device 'nomic' cannot be used: No such file or directory"
        " (`talkbox devices` lists the devices that exist)"
    ]
    assert len(statuses) == 1
    assert statuses[0].error is not None


async def test_a_capture_device_that_vanishes_and_returns_recovers_by_itself(
    alsa: AlsaConfig, tmp_path: Path, mics: MakeMic, caplog: pytest.LogCaptureFixture
) -> None:
    fifo = tmp_path / "mic.fifo"
    sink = tmp_path / "capout.fifo"
    mics(fifo, tone(300, 30.0, 16_000), 16_000)
    os.mkfifo(sink)
    # The plugin copies what it captures into `file`; when its reader dies, the next read
    # fails with EIO, as a device that is unplugged fails with ENODEV.
    reader = drain_with_cat(sink)
    alsa.pcm("usbmic", file_pcm(output=sink, infile=fifo))
    statuses = Statuses()
    options = CaptureOptions(device="usbmic", reopen_min_s=0.05, reopen_max_s=0.2)
    try:
        with caplog.at_level(logging.INFO, logger="talkbox.audio.alsa"):
            async with AlsaCapture(options, on_status=statuses) as mic:
                await read_frames(mic, 10)
                alsa.remove("usbmic")  # gone: reopening fails until it is back
                stop(reader)
                await statuses.wait_for(lambda s: not s[-1].ok, 10)
                await asyncio.sleep(0.5)  # a few failed reopens
                reader = drain_with_cat(sink)
                mics(tmp_path / "mic2.fifo", tone(500, 30.0, 16_000), 16_000)
                alsa.pcm("usbmic", file_pcm(output=sink, infile=tmp_path / "mic2.fifo"))
                await statuses.wait_for(lambda s: s[-1].ok, 10)
                frames = await read_frames(mic, 25)
                stats = mic.stats
    finally:
        stop(reader)
    assert [s.ok for s in statuses] == [True, False, True]
    failure = statuses[1].error
    assert failure is not None
    assert "capture device 'usbmic'" in str(failure)
    assert "talkbox devices" in str(failure)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert stats.reopens == 1
    after = b"".join(f.pcm for f in frames[-10:])
    assert frequency_of(after, 16_000) == pytest.approx(500, abs=3)
    assert np.frombuffer(after, "<i2").any()
