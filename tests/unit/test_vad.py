"""The webrtcvad adapter and frame energy."""

from __future__ import annotations

import numpy as np
import pytest

from talkbox.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.vad import FRAME_BYTES, SILENCE_DBFS, SpeechDetector, WebRtcVad, frame_dbfs

RATE = 16_000


def tone(hz: float, amplitude: float, seconds: float = 0.02) -> bytes:
    t = np.arange(round(RATE * seconds)) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def test_a_full_scale_sine_is_about_minus_3_dbfs_and_each_halving_6_db_less() -> None:
    assert frame_dbfs(tone(440, 1.0)) == pytest.approx(-3.01, abs=0.05)
    assert frame_dbfs(tone(440, 0.5)) == pytest.approx(-9.03, abs=0.05)


def test_digital_silence_and_an_empty_frame_have_the_silence_floor_energy() -> None:
    assert frame_dbfs(bytes(FRAME_BYTES)) == SILENCE_DBFS
    assert frame_dbfs(b"") == SILENCE_DBFS


def test_the_vad_takes_only_20_ms_frames_at_16_khz() -> None:
    vad = WebRtcVad(3)
    assert vad.is_speech(bytes(FRAME_BYTES)) is False
    with pytest.raises(ValueError, match="640 bytes"):
        vad.is_speech(bytes(960))


@pytest.mark.parametrize("aggressiveness", [-1, 4])
def test_the_vad_refuses_an_aggressiveness_outside_0_to_3(aggressiveness: int) -> None:
    with pytest.raises(ValueError, match="0, 1, 2 or 3"):
        WebRtcVad(aggressiveness)


def frames_of(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def test_webrtcvad_calls_a_steady_tone_speech_so_the_energy_floor_must_decide() -> None:
    frames = frames_of(tone(440, 0.1, seconds=3.0))  # -26 dBFS
    assert all(WebRtcVad(3).is_speech(f) for f in frames)
    for floor, heard in ((-45.0, {Decision.NONE, Decision.STARTED}), (-20.0, {Decision.NONE})):
        detector = SpeechDetector(WebRtcVad(3), Endpointer(EndpointOptions(min_energy_dbfs=floor)))
        detector.endpointer.reset(no_speech_timeout_s=None)
        assert {detector.feed(f) for f in frames} == heard


def test_reset_gives_the_vad_a_fresh_noise_model() -> None:
    vad = WebRtcVad(2)
    vad.reset()
    assert vad.is_speech(bytes(FRAME_BYTES)) is False
