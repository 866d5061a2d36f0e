"""Speex noise suppression and automatic gain on 10 ms frames (talkbox.audio.denoise)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from talkbox.audio.denoise import CHUNK_BYTES, DenoiseOptions, Denoiser
from talkbox.hearing.vad import frame_dbfs

DATA = Path(__file__).parents[2] / "data"
FRAME_BYTES = 640


def white_noise(seconds: float, rms_dbfs: float, seed: int = 1) -> bytes:
    rms = 32768 * 10 ** (rms_dbfs / 20)
    samples = np.random.default_rng(seed).normal(0.0, rms, round(16_000 * seconds))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def through(denoiser: Denoiser, pcm: bytes) -> bytes:
    """`pcm` through the denoiser in 20 ms frames, as the control task feeds it."""
    whole = len(pcm) // FRAME_BYTES * FRAME_BYTES
    return b"".join(
        denoiser.process(pcm[i : i + FRAME_BYTES]) for i in range(0, whole, FRAME_BYTES)
    )


def test_off_passes_every_frame_through_untouched() -> None:
    denoiser = Denoiser(DenoiseOptions())
    frame = white_noise(0.02, -30)
    assert not denoiser.options.enabled
    assert denoiser.process(frame) is frame


def test_a_20_ms_frame_comes_out_as_20_ms_at_once() -> None:
    denoiser = Denoiser(DenoiseOptions(noise_suppression=1))
    assert len(denoiser.process(white_noise(0.02, -30))) == FRAME_BYTES
    assert len(denoiser.process(white_noise(0.01, -30))) == CHUNK_BYTES


@pytest.mark.parametrize("size", [1, 318, 322, 639])
def test_audio_that_is_not_whole_10_ms_frames_is_refused(size: int) -> None:
    # speex would read 320 bytes whatever it is given.
    with pytest.raises(ValueError, match="whole 10 ms frames"):
        Denoiser(DenoiseOptions(noise_suppression=1)).process(bytes(size))


def test_each_level_takes_more_of_a_steady_noise_away() -> None:
    noise = white_noise(3.0, -30)
    left = []
    for level in (1, 2, 4):
        out = through(Denoiser(DenoiseOptions(noise_suppression=level)), noise)
        left.append(frame_dbfs(out[-32_000:]))  # the last second, once speex has adapted
    assert left[0] < -30 - 10
    assert left[0] > left[1] > left[2]


def test_auto_gain_brings_quiet_speech_up_to_the_target() -> None:
    with wave.open(str(DATA / "question-weather.wav")) as wav:
        speech = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    quiet = (speech * 10 ** (-30 / 20)).astype("<i2").tobytes()  # about -50 dBFS RMS
    denoiser = Denoiser(DenoiseOptions(auto_gain_dbfs=-12.0))
    through(denoiser, quiet)  # the gain adapts on the first hearing
    out = through(denoiser, quiet)
    spoken = slice(round(0.6 * 32_000), round(2.7 * 32_000))  # tests/data/speech.json
    # Speech comes out about 14 dB under the target (the module's measured rule).
    assert frame_dbfs(out[spoken]) == pytest.approx(-12.0 - 14.0, abs=3.0)
    assert frame_dbfs(out[spoken]) > frame_dbfs(quiet[spoken]) + 20


def test_reset_forgets_what_speex_learnt() -> None:
    denoiser = Denoiser(DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0))
    noise = white_noise(1.0, -35)
    first = through(denoiser, noise)
    assert through(denoiser, noise) != first
    denoiser.reset()
    assert through(denoiser, noise) == first


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"noise_suppression": 5}, "off \\(0\\) or a level 1 to 4, not 5"),
        ({"noise_suppression": -1}, "off \\(0\\) or a level 1 to 4, not -1"),
        ({"auto_gain_dbfs": -31.0}, "must be -30.0 to -6.0 dBFS, not -31.0"),
        ({"auto_gain_dbfs": 0.0}, "must be -30.0 to -6.0 dBFS, not 0.0"),
    ],
)
def test_levels_and_targets_speex_cannot_use_are_refused(
    options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DenoiseOptions(**options)  # type: ignore[arg-type]
