"""Overruns and underruns, which the clockless file/null stand-ins never produce, and the
order in which a failed device is released and reported.

A scripted PCM stands in for the library here (not for our code): it returns -32 from
read/write as pyalsaaudio 0.11 does, and the real threads must count it and go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
from talkbox.audio.frames import Tone

from .conftest import Statuses, tone


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


async def test_a_playback_underrun_is_counted_and_the_chunk_is_written_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
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
    # The listener heard the gaps: the journal says so once for the sound, with the reason.
    told = [r.getMessage() for r in caplog.records if "ran dry" in r.getMessage()]
    assert len(told) == 1
    assert told[0].startswith("the speaker ran dry 2 time(s) during this sound on 'scripted'")


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


class CardPcm:
    """A playback PCM that keeps time and state as a sound card does under pyalsaaudio 0.11.

    What a real card (snd-aloop) was measured to do (docs/platform.md §1.3): the buffer
    drains in real time once written; running dry is an underrun (state XRUN); `drop()`
    empties it (state SETUP); `avail()` returns -EPIPE in XRUN and -EBADFD in SETUP instead
    of raising; `write()` prepares the stream again in SETUP, and in XRUN returns -EPIPE
    having prepared it. A write into a full buffer blocks until there is room.
    """

    def __init__(self, rate: int, *, avail_error: int | None = None) -> None:
        self.rate = rate
        self.period = rate // 50
        self.buffer = self.period * 4
        self.state = "PREPARED"
        self.fill = 0.0
        self.at = time.monotonic()
        self.written = bytearray()
        self.negative_avails: list[int] = []
        self.avail_error = avail_error
        self.closed = False

    def info(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "channels": 1,
            "format_name": "S16_LE",
            "period_size": self.period,
            "buffer_size": self.buffer,
        }

    def _advance(self) -> None:
        now = time.monotonic()
        if self.state == "RUNNING":
            self.fill -= (now - self.at) * self.rate
            if self.fill <= 0:
                self.fill, self.state = 0.0, "XRUN"
        self.at = now

    def avail(self) -> int:
        self._advance()
        if self.avail_error is not None and self.written:
            result = self.avail_error
        elif self.state == "SETUP":
            result = -77
        elif self.state == "XRUN":
            result = -32
        else:
            return self.buffer - int(self.fill)
        self.negative_avails.append(result)
        return result

    def write(self, data: bytes) -> int:
        self._advance()
        if self.state == "SETUP":
            self.state = "PREPARED"
        elif self.state == "XRUN":
            self.state = "PREPARED"
            return -32
        frames = len(data) // 2
        while self.fill + frames > self.buffer:
            time.sleep((self.fill + frames - self.buffer) / self.rate)
            self._advance()
        self.fill += frames
        self.state = "RUNNING"
        self.written += data
        return frames

    def read(self) -> tuple[int, bytes]:
        raise AssertionError("a playback PCM is never read")

    def drop(self) -> int:
        self._advance()
        self.fill, self.state = 0.0, "SETUP"
        return 0

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("earcons", [True, False])
async def test_answers_play_after_the_idle_drop_and_an_underrun_as_on_a_sound_card(
    earcons: bool,
) -> None:
    # The box stood silent for ever here: after the idle drop() avail() is -77, which was
    # read as a frame count, and the writer waited for room that never came.
    pcm = CardPcm(24_000)

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        return pcm

    answer = tone(440, 0.3, 24_000)
    options = PlaybackOptions(device="card", volume=100, earcons=earcons)
    async with AlsaPlayback(options, open_pcm=open_pcm) as speaker:
        for turn in range(3):
            speaker.play_earcon(Tone.TURN_START)
            async with asyncio.timeout(10):
                assert await speaker.finished()
            # Idle long enough for the writer to drop the stream (state SETUP).
            await asyncio.sleep(0.15)
            before = len(pcm.written)
            speaker.play(answer)
            async with asyncio.timeout(10):
                assert await speaker.finished(), f"turn {turn}: the answer was not played"
            assert len(pcm.written) - before >= len(answer)
            await asyncio.sleep(0.15)
        stats = speaker.stats
    assert -77 in pcm.negative_avails  # the case the fix is about was met
    assert stats.written_s >= 0.9  # three whole answers (and the earcons, when on)
    assert stats.flushes == 0
    assert speaker.status is not None
    assert speaker.status.ok


async def test_a_negative_avail_that_is_not_a_stopped_stream_is_a_device_failure() -> None:
    opened: list[CardPcm] = []

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        # The first PCM is unplugged (-ENODEV) once written to; the reopened one works.
        opened.append(CardPcm(24_000, avail_error=-19 if not opened else None))
        return opened[-1]

    statuses = Statuses()
    options = PlaybackOptions(device="card", volume=100, reopen_min_s=0.01, reopen_max_s=0.01)
    async with AlsaPlayback(options, on_status=statuses, open_pcm=open_pcm) as speaker:
        speaker.play(tone(440, 0.3, 24_000))
        async with asyncio.timeout(10):
            assert not await speaker.finished()  # the audio for the dead device is dropped
        await statuses.wait_for(lambda seen: len(seen) >= 3, within=10)
        speaker.play(tone(440, 0.3, 24_000))
        async with asyncio.timeout(10):
            assert await speaker.finished()
    assert [s.ok for s in statuses] == [True, False, True]
    assert "No such device" in str(statuses[1].error)
    assert opened[0].closed
    assert len(opened) == 2


class UnpluggedWhileIdlePcm(CardPcm):
    """A card that plays an answer, then is unplugged while the speaker stands silent."""

    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self.unplugged = False

    def avail(self) -> int:
        if self.unplugged:
            self.negative_avails.append(-19)
            return -19  # ENODEV: snd_pcm_avail() on a disconnected card
        return super().avail()


async def test_a_card_unplugged_while_the_speaker_is_silent_is_released_at_once() -> None:
    # Kept open until the next answer, a dead handle keeps the kernel from freeing the card.
    opened: list[UnpluggedWhileIdlePcm] = []

    def open_pcm(direction: Direction, device: str, rate: int, period: int, periods: int) -> Pcm:
        if opened:
            raise alsaaudio.ALSAAudioError("No such device [card]")
        opened.append(UnpluggedWhileIdlePcm(24_000))
        return opened[-1]

    statuses = Statuses()
    options = PlaybackOptions(device="card", volume=100, reopen_min_s=30.0, reopen_max_s=30.0)
    async with AlsaPlayback(options, on_status=statuses, open_pcm=open_pcm) as speaker:
        speaker.play(tone(440, 0.2, 24_000))
        async with asyncio.timeout(10):
            assert await speaker.finished()
        opened[0].unplugged = True
        # Nothing more is played: the idle thread itself must notice, within about 0.5 s.
        await statuses.wait_for(lambda seen: len(seen) >= 2, within=5)
        assert opened[0].closed
    assert [s.ok for s in statuses] == [True, False]
    assert "No such device" in str(statuses[1].error)
