"""The playback thread over the real pyalsaaudio, on file-plugin speakers (paced or not)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from talkbox.audio.alsa import AlsaPlayback, DeviceStatus, PlaybackOptions, open_mixer
from talkbox.audio.frames import Earcon, EarconWindows, level_dbfs
from talkbox.errors import AudioDeviceError

from .conftest import AlsaConfig, Speaker, Statuses, file_pcm, frequency_of, tone, wait_until

MakeSpeaker = Callable[[Path, Path, int], Speaker]

CHUNK = 4800  # 100 ms at 24 kHz, about what the Live API sends per message
LEAD_IN = 960  # bytes: 20 ms at 24 kHz
FADE = 240  # bytes: 5 ms at 24 kHz


async def send_faster_than_real_time(
    speaker: AlsaPlayback, answer: bytes, speedup: float = 4.0
) -> float:
    """Queue `answer` in chunks at `speedup` × real time; the longest play() call, in s."""
    longest = 0.0
    chunk_s = CHUNK / 2 / 24_000
    for i in range(0, len(answer), CHUNK):
        started = time.monotonic()
        speaker.play(answer[i : i + CHUNK])
        longest = max(longest, time.monotonic() - started)
        await asyncio.sleep(chunk_s / speedup)
    return longest


def trimmed(pcm: bytes) -> np.ndarray:
    x = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(x) > 100)
    return x[loud[0] : loud[-1] + 1] if len(loud) else x[:0]


async def test_an_answer_arriving_4x_faster_than_real_time_plays_whole_at_the_right_speed(
    alsa: AlsaConfig, tmp_path: Path, speakers: MakeSpeaker
) -> None:
    fifo, out = tmp_path / "spk.fifo", tmp_path / "played.raw"
    device = speakers(fifo, out, 24_000)
    alsa.pcm("spk", file_pcm(output=fifo))
    answer = tone(440, 3.0, 24_000)
    async with AlsaPlayback(PlaybackOptions(device="spk", volume=100)) as speaker:
        started = time.monotonic()
        longest_call = await send_faster_than_real_time(speaker, answer)
        queued_s = time.monotonic() - started
        async with asyncio.timeout(15):
            played_whole = await speaker.finished()
        elapsed = time.monotonic() - started
        stats = speaker.stats
    wait_until(lambda: device.bytes() >= LEAD_IN + len(answer), 5, "the speaker got it all")
    assert played_whole
    assert longest_call < 0.05  # never blocks the receive loop
    assert queued_s < 1.5  # the 3 s answer was all queued well ahead of the speaker
    # The speaker drains in real time: "finished" cannot come before the audio has played.
    assert 2.8 < elapsed < 6.0
    played = device.audio()
    # 20 ms of lead-in silence, then every sample of the answer; the 5 ms (120 samples)
    # fades touch only its first and last samples.
    assert len(played) == LEAD_IN + len(answer)
    assert played[:LEAD_IN] == bytes(LEAD_IN)
    assert played[LEAD_IN + FADE : -FADE] == answer[FADE:-FADE]
    assert stats.underruns == 0
    assert stats.written_s == pytest.approx(3.0, abs=0.01)


async def test_a_device_at_48_khz_gets_the_answer_resampled_at_the_same_speed_and_pitch(
    alsa: AlsaConfig, tmp_path: Path
) -> None:
    alsa.pcm("hdmi", file_pcm(output=tmp_path / "out_%r.raw"))
    statuses: list[DeviceStatus] = []
    answer = tone(440, 2.0, 24_000)
    options = PlaybackOptions(device="hdmi", rate_hz=48_000, volume=100)
    async with AlsaPlayback(options, on_status=statuses.append) as speaker:
        await send_faster_than_real_time(speaker, answer, speedup=20)
        async with asyncio.timeout(10):
            assert await speaker.finished()
    played = (tmp_path / "out_48000.raw").read_bytes()
    assert statuses[0].rate_hz == 48_000
    # Twice the samples for the same 2 s (plus the 20 ms lead-in), and the same pitch.
    assert len(played) // 2 == pytest.approx(2 * len(answer) // 2 + 960, abs=48)
    assert frequency_of(played, 48_000) == pytest.approx(440, abs=2)


async def test_flush_drops_buffered_audio_at_once_and_later_audio_plays(
    alsa: AlsaConfig, tmp_path: Path, speakers: MakeSpeaker
) -> None:
    fifo, out = tmp_path / "spk.fifo", tmp_path / "played.raw"
    device = speakers(fifo, out, 24_000)
    alsa.pcm("spk", file_pcm(output=fifo))
    async with AlsaPlayback(PlaybackOptions(device="spk", volume=100)) as speaker:
        for _ in range(100):  # 10 s of answer, all at once
            speaker.play(tone(440, 0.1, 24_000))
        first_answer = speaker.finished()
        await asyncio.to_thread(wait_until, lambda: device.bytes() > 48_000, 10, "1 s played")
        speaker.flush()
        flushed_at = device.bytes()
        async with asyncio.timeout(5):
            assert not await first_answer
        await asyncio.sleep(0.5)
        after_flush = device.bytes() - flushed_at
        stats = speaker.stats
        speaker.play(tone(880, 0.5, 24_000))
        async with asyncio.timeout(10):
            assert await speaker.finished()
    # What was in the pipe and the plugin's buffer still comes out; nothing queued does.
    assert after_flush < 24_000 * 2 * 0.3
    assert stats.queued_s == 0
    assert stats.flushes == 1
    assert stats.last_flush_s is not None
    assert stats.last_flush_s < 0.25
    assert stats.last_flush_wait_s is not None
    assert 0 <= stats.last_flush_wait_s <= stats.last_flush_s
    wait_until(lambda: device.bytes() >= flushed_at + after_flush + 24_000, 5, "new answer")
    assert frequency_of(device.audio()[-24_000:], 24_000) == pytest.approx(880, abs=3)


async def test_the_queue_is_bounded_by_duration_and_refuses_without_blocking(
    alsa: AlsaConfig, tmp_path: Path, speakers: MakeSpeaker
) -> None:
    fifo, out = tmp_path / "spk.fifo", tmp_path / "played.raw"
    speakers(fifo, out, 24_000)
    alsa.pcm("spk", file_pcm(output=fifo))
    async with AlsaPlayback(PlaybackOptions(device="spk", max_queue_s=2.0)) as speaker:
        longest = 0.0
        for _ in range(40):  # 4 s offered at once
            started = time.monotonic()
            speaker.play(tone(440, 0.1, 24_000))
            longest = max(longest, time.monotonic() - started)
        stats = speaker.stats
        speaker.flush()
    assert longest < 0.05
    # Up to 2 s ahead of the speaker (less what it already took); the rest is refused.
    assert stats.queued_s <= 2.0
    assert 1.85 <= stats.refused_s <= 2.15


async def test_software_volume_scales_what_is_played(alsa: AlsaConfig, tmp_path: Path) -> None:
    alsa.pcm("spk", file_pcm(output=tmp_path / "out.raw"))
    answer = tone(440, 0.5, 24_000, amplitude=10_000)
    async with AlsaPlayback(PlaybackOptions(device="spk", volume=100)) as speaker:
        speaker.play(answer)
        async with asyncio.timeout(10):
            await speaker.finished()
        speaker.set_volume(50)
        speaker.play(answer)
        async with asyncio.timeout(10):
            await speaker.finished()
        assert speaker.volume == 50
    played = (tmp_path / "out.raw").read_bytes()
    half = len(played) // 2
    assert level_dbfs(played[:half]) - level_dbfs(played[half:]) == pytest.approx(12.04, abs=0.2)


async def test_an_earcon_plays_and_marks_when_the_mic_hears_it(
    alsa: AlsaConfig, tmp_path: Path
) -> None:
    alsa.pcm("spk", file_pcm(output=tmp_path / "out.raw"))
    windows = EarconWindows(guard_s=0.0)
    async with AlsaPlayback(PlaybackOptions(device="spk"), earcons=windows) as speaker:
        started = time.monotonic()
        assert speaker.play_earcon(Earcon.TURN_START)
        async with asyncio.timeout(10):
            await speaker.finished()
    played = (tmp_path / "out.raw").read_bytes()
    assert frequency_of(played[: 24_000 * 2 // 10], 24_000) == pytest.approx(660, abs=15)
    assert windows.covers(started + 0.05, started + 0.07)
    assert not windows.covers(started + 1.0, started + 1.1)


async def test_earcons_switched_off_make_no_sound(alsa: AlsaConfig, tmp_path: Path) -> None:
    alsa.pcm("spk", file_pcm(output=tmp_path / "out.raw"))
    async with AlsaPlayback(PlaybackOptions(device="spk", earcons=False)) as speaker:
        assert not speaker.play_earcon(Earcon.ERROR)
        async with asyncio.timeout(10):
            assert await speaker.finished()
    assert not (tmp_path / "out.raw").exists() or not (tmp_path / "out.raw").read_bytes()


async def test_a_missing_playback_device_is_one_clear_error_and_playback_resumes_when_it_exists(
    alsa: AlsaConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = Statuses()
    options = PlaybackOptions(device="usbspk", reopen_min_s=0.02, reopen_max_s=0.1)
    with caplog.at_level(logging.INFO, logger="talkbox.audio.alsa"):
        async with AlsaPlayback(options, on_status=statuses) as speaker:
            speaker.play(tone(440, 0.5, 24_000))  # kept until the device is there
            await statuses.wait_for(bool, 10)
            await asyncio.sleep(0.3)
            alsa.pcm("usbspk", file_pcm(output=tmp_path / "out.raw"))
            async with asyncio.timeout(10):
                assert await speaker.finished()
    assert [s.ok for s in statuses] == [False, True]
    assert str(statuses[0].error) == (
        "playback device 'usbspk' cannot be used: No such file or directory"
        " (`talkbox devices` lists the devices that exist)"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        str(statuses[0].error)
    ]
    assert len((tmp_path / "out.raw").read_bytes()) >= 24_000


async def test_a_playback_device_that_fails_while_playing_is_reported_and_recovers(
    alsa: AlsaConfig, tmp_path: Path, speakers: MakeSpeaker
) -> None:
    fifo, out = tmp_path / "spk.fifo", tmp_path / "played.raw"
    device = speakers(fifo, out, 24_000)
    alsa.pcm("spk", file_pcm(output=fifo))
    statuses = Statuses()
    options = PlaybackOptions(device="spk", reopen_min_s=0.05, reopen_max_s=0.2)
    async with AlsaPlayback(options, on_status=statuses) as speaker:
        for _ in range(50):
            speaker.play(tone(440, 0.1, 24_000))
        doomed = speaker.finished()
        await asyncio.to_thread(wait_until, lambda: device.bytes() > 24_000, 10, "0.5 s played")
        # Unplugged: the next write fails and, until it is back, so does reopening. (Never
        # reopen onto a FIFO without a reader: pyalsaaudio holds the GIL while open blocks.)
        alsa.remove("spk")
        device.kill()
        async with asyncio.timeout(5):
            assert not await doomed
        await statuses.wait_for(lambda s: not s[-1].ok, 5)
        assert "playback device 'spk'" in str(statuses[-1].error)
        back = speakers(fifo, tmp_path / "played2.raw", 24_000)
        alsa.pcm("spk", file_pcm(output=fifo))
        speaker.play(tone(880, 0.3, 24_000))
        async with asyncio.timeout(10):
            assert await speaker.finished()
        assert speaker.stats.reopens == 1
    assert [s.ok for s in statuses] == [True, False, True]
    wait_until(lambda: back.bytes() >= 24_000 * 2 * 0.3, 5, "the new answer was played")
    assert frequency_of(back.audio()[-14_400:], 24_000) == pytest.approx(880, abs=3)


async def test_a_mixer_that_does_not_exist_is_a_clear_error(alsa: AlsaConfig) -> None:
    with pytest.raises(AudioDeviceError, match=r"mixer 'Speaker' on 'hw:CARD=Nope' cannot be used"):
        open_mixer("Speaker", "plughw:CARD=Nope,DEV=0")


async def test_a_missing_mixer_is_a_device_failure_retried_like_the_card(
    alsa: AlsaConfig, tmp_path: Path
) -> None:
    # A card that is not there yet at boot has no mixer either: report it, keep trying, and
    # never crash the daemon (it did: the mixer was opened once, before the thread).
    alsa.pcm("spk", file_pcm(output=tmp_path / "out.raw"))
    statuses = Statuses()
    options = PlaybackOptions(device="spk", mixer="PCM", reopen_min_s=0.05, reopen_max_s=0.05)
    async with AlsaPlayback(options, on_status=statuses) as speaker:
        await statuses.wait_for(lambda seen: len(seen) >= 1, within=10)
        speaker.set_volume(40)  # kept for when the mixer opens
        assert speaker.volume == 40
        # Reopened (and failing again) without a new report: one ERROR per outage.
        await asyncio.sleep(0.3)
    assert len(statuses) == 1
    assert not statuses[0].ok
    assert "mixer 'PCM' on 'default' cannot be used" in str(statuses[0].error)
    assert "talkbox devices" in str(statuses[0].error)


async def test_finish_calls_back_once_played_and_not_after_a_flush(
    alsa: AlsaConfig, tmp_path: Path
) -> None:
    alsa.pcm("spk", file_pcm(output=tmp_path / "out.raw"))
    calls: list[str] = []
    async with AlsaPlayback(PlaybackOptions(device="spk")) as speaker:
        speaker.play(tone(440, 0.3, 24_000))
        speaker.finish(lambda: calls.append("played"))
        async with asyncio.timeout(10):
            await speaker.finished()
        speaker.play(tone(440, 5.0, 24_000))
        speaker.finish(lambda: calls.append("flushed answer"))
        speaker.flush()
        async with asyncio.timeout(10):
            assert await speaker.finished()
    assert calls == ["played"]
