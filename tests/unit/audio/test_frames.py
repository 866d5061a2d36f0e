from __future__ import annotations

import math

import numpy as np
import pytest

from talkbox.audio.frames import (
    EARCON_NOTES,
    EarconWindows,
    Reframer,
    Resampler,
    Tone,
    apply_gain,
    as_samples,
    db_to_gain,
    fade_in,
    fade_out,
    first_channel,
    frame_bytes,
    level_dbfs,
    synthesize_earcon,
    to_channels,
    volume_to_gain,
)


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 8000.0) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def frequency_of(pcm: bytes, rate: int) -> float:
    x = as_samples(pcm).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def test_a_20_ms_frame_at_16_khz_is_640_bytes() -> None:
    assert frame_bytes(16_000, 20) == 640
    assert frame_bytes(48_000, 10) == 960


def test_a_frame_length_that_is_not_whole_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        frame_bytes(44_100, 15)


def test_the_reframer_cuts_any_chunks_into_exact_frames_and_keeps_the_rest() -> None:
    reframe = Reframer(640)
    stream = bytes(range(256)) * 10  # 2560 bytes, fed in uneven pieces
    frames: list[bytes] = []
    for start, end in [(0, 100), (100, 1000), (1000, 1001), (1001, 2500)]:
        frames += reframe.feed(stream[start:end])
    assert [len(f) for f in frames] == [640, 640, 640]
    assert b"".join(frames) == stream[:1920]
    assert reframe.pending == 2500 - 1920
    reframe.reset()
    assert reframe.pending == 0


def test_resampling_48_to_16_khz_keeps_duration_and_pitch() -> None:
    resample = Resampler(48_000, 16_000)
    source = tone(440, 2.0, 48_000)
    out = b"".join(resample.process(source[i : i + 1920]) for i in range(0, len(source), 1920))
    out += resample.flush()
    assert len(out) // 2 == pytest.approx(32_000, abs=16)
    assert frequency_of(out, 16_000) == pytest.approx(440, abs=2)


def test_resampling_24_to_48_khz_keeps_pitch() -> None:
    resample = Resampler(24_000, 48_000)
    out = resample.process(tone(1000, 1.0, 24_000)) + resample.flush()
    assert len(out) // 2 == pytest.approx(48_000, abs=16)
    assert frequency_of(out, 48_000) == pytest.approx(1000, abs=2)


def test_equal_rates_pass_audio_through_unchanged() -> None:
    resample = Resampler(16_000, 16_000)
    pcm = tone(440, 0.1, 16_000)
    assert resample.passthrough
    assert resample.process(pcm) is pcm
    assert resample.flush() == b""


def test_gain_saturates_instead_of_wrapping_around() -> None:
    pcm = np.array([20_000, -20_000, 100], dtype="<i2").tobytes()
    louder = as_samples(apply_gain(pcm, 2.0))
    assert louder.tolist() == [32767, -32768, 200]


def test_six_db_of_gain_doubles_the_amplitude() -> None:
    assert db_to_gain(6.0206) == pytest.approx(2.0, rel=1e-3)
    pcm = tone(440, 0.1, 16_000, amplitude=1000)
    assert level_dbfs(apply_gain(pcm, db_to_gain(6.0))) == pytest.approx(
        level_dbfs(pcm) + 6.0, abs=0.05
    )


def test_volume_runs_from_silence_to_unchanged() -> None:
    assert volume_to_gain(0) == 0
    assert volume_to_gain(100) == 1
    assert 20 * math.log10(volume_to_gain(50)) == pytest.approx(-12.04, abs=0.01)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        volume_to_gain(101)


def test_a_fade_in_starts_from_silence_and_leaves_the_rest_alone() -> None:
    pcm = np.full(1000, 10_000, dtype="<i2").tobytes()
    faded = as_samples(fade_in(pcm, 120))
    assert abs(int(faded[0])) < 10
    assert np.all(np.diff(faded[:120].astype(np.int32)) >= 0)
    assert faded[120:].tolist() == [10_000] * 880


def test_a_fade_out_ends_in_silence_and_leaves_the_start_alone() -> None:
    pcm = np.full(1000, -10_000, dtype="<i2").tobytes()
    faded = as_samples(fade_out(pcm, 120))
    assert abs(int(faded[-1])) < 10
    assert faded[:880].tolist() == [-10_000] * 880


def test_a_fade_longer_than_the_audio_covers_all_of_it() -> None:
    pcm = np.full(10, 10_000, dtype="<i2").tobytes()
    assert len(fade_in(pcm, 100)) == len(pcm)
    assert abs(int(as_samples(fade_out(pcm, 100))[-1])) < 1000


def test_the_first_channel_is_taken_from_interleaved_audio_and_mono_is_duplicated() -> None:
    mono = np.array([1, 2, 3], dtype="<i2").tobytes()
    stereo = to_channels(mono, 2)
    assert as_samples(stereo).tolist() == [1, 1, 2, 2, 3, 3]
    assert first_channel(stereo, 2) == mono
    assert first_channel(mono, 1) is mono


def test_the_level_of_a_full_scale_sine_is_minus_3_dbfs_and_silence_is_minus_infinity() -> None:
    assert level_dbfs(tone(440, 0.5, 16_000, amplitude=32767)) == pytest.approx(-3.01, abs=0.05)
    assert level_dbfs(bytes(640)) == -math.inf


@pytest.mark.parametrize("kind", list(Tone))
def test_each_earcon_is_short_starts_and_ends_quietly_and_sounds_its_notes(kind: Tone) -> None:
    pcm = synthesize_earcon(kind, 24_000)
    x = as_samples(pcm)
    assert 0.1 < len(x) / 24_000 < 0.4
    assert abs(int(x[0])) < 100
    assert abs(int(x[-1])) < 100
    first_frequency, first_ms = EARCON_NOTES[kind][0]
    first_note = pcm[: round(24_000 * first_ms / 1000) * 2]
    assert frequency_of(first_note, 24_000) == pytest.approx(first_frequency, abs=15)


def test_the_turn_start_and_turn_end_earcons_differ() -> None:
    start = synthesize_earcon(Tone.TURN_START, 16_000)
    end = synthesize_earcon(Tone.TURN_END, 16_000)
    assert start != end


def test_earcon_windows_cover_overlapping_audio_with_a_guard_and_nothing_else() -> None:
    windows = EarconWindows(guard_s=0.1)
    windows.add(10.0, 10.2)
    assert windows.covers(10.1, 10.12)
    assert windows.covers(10.25, 10.27)  # within the guard after the end
    assert windows.covers(9.89, 9.91)  # within the guard before the start
    assert not windows.covers(10.35, 10.37)
    assert not windows.covers(9.0, 9.5)


def test_earcon_windows_keep_only_the_newest() -> None:
    windows = EarconWindows(guard_s=0.0, keep=2)
    for start in (1.0, 2.0, 3.0):
        windows.add(start, start + 0.1)
    assert not windows.covers(1.0, 1.05)
    assert windows.covers(2.0, 2.05)
    assert windows.covers(3.0, 3.05)
