"""The echo canceller: speex through ctypes, aligned on what the speaker played."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from talkbox.audio.frames import Resampler
from talkbox.audio.reference import PlayedAudio
from talkbox.errors import ConfigError
from talkbox.hearing import echo
from talkbox.hearing.echo import (
    EchoCancelMode,
    EchoOptions,
    RoomEchoCanceller,
    SpeexEcho,
    echo_canceller,
)

RATE = 16_000
FRAME = 320


def speech_like(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Noise shaped like speech: bursts of a few hundred ms, low-passed (seeded)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    noise = np.convolve(rng.normal(size=n), np.ones(4) / 4, mode="same")
    bursts = (np.sin(2 * np.pi * 2.5 * np.arange(n) / rate) > -0.3).astype(np.float64)
    return 6000 * noise * bursts


def room(signal: np.ndarray, delay: int) -> np.ndarray:
    """A direct sound `delay` samples late and a short decay, at about -6 dB."""
    rng = np.random.default_rng(7)
    t = np.arange(800) / RATE
    ir = 0.2 * rng.normal(size=800) * np.exp(-t / 0.02)
    ir[0] = 1.0
    ir = np.concatenate([np.zeros(delay), ir]) * 0.5
    return np.convolve(signal, ir)[: len(signal)]


def pcm(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def energy_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x**2) + 1e-9))


def test_speex_takes_most_of_an_echo_away_once_it_has_learnt_the_room() -> None:
    far = speech_like(8.0, RATE, seed=1)
    mic = room(far, delay=200)
    engine = SpeexEcho(EchoOptions())
    out = samples(engine.process(pcm(mic), pcm(far)))
    engine.close()
    late = slice(4 * RATE, 8 * RATE)  # after convergence
    assert energy_db(mic[late]) - energy_db(out[late]) >= 20


def test_speex_refuses_unequal_or_partial_chunks() -> None:
    engine = SpeexEcho(EchoOptions())
    with pytest.raises(ValueError, match="320-byte"):
        engine.process(bytes(640), bytes(320))
    with pytest.raises(ValueError, match="320-byte"):
        engine.process(bytes(100), bytes(100))
    engine.close()
    with pytest.raises(RuntimeError, match="closed"):
        engine.process(bytes(320), bytes(320))


def run(
    played: PlayedAudio,
    canceller: RoomEchoCanceller,
    far24: np.ndarray,
    mic: np.ndarray,
    *,
    jitter_s: float = 0.0,
    t0: float = 100.0,
) -> np.ndarray:
    """The playback thread's periods (24 kHz, 4 ahead) and the mic's frames, as the daemon."""
    rng = np.random.default_rng(3)
    far_pcm, mic_pcm = pcm(far24), pcm(mic)
    out = bytearray()
    written = 0
    for k in range(len(mic_pcm) // (2 * FRAME)):
        while written < min(k + 4, len(far_pcm) // 960):
            played.played(far_pcm[written * 960 : (written + 1) * 960], t0 + written * 0.02, 24_000)
            written += 1
        frame = mic_pcm[k * 2 * FRAME : (k + 1) * 2 * FRAME]
        out += canceller.cancel(frame, t0 + (k + 1) * 0.02 + rng.uniform(0, jitter_s))
    return samples(bytes(out))


def test_the_canceller_aligns_the_mic_with_what_the_speaker_played_through_clock_jitter() -> None:
    far24 = speech_like(8.0, 24_000, seed=2)
    far16 = samples(Resampler(24_000, RATE, quality="MQ").process(pcm(far24)))
    far16 = np.concatenate([far16, np.zeros(len(far24) * 2 // 3 - len(far16))])
    mic = room(far16, delay=round(0.03 * RATE))  # 30 ms the devices do not report
    played = PlayedAudio(clock=99.0)
    canceller = RoomEchoCanceller(played, EchoOptions())
    out = run(played, canceller, far24, mic, jitter_s=0.006)
    late = slice(4 * RATE, 8 * RATE)
    assert energy_db(mic[late]) - energy_db(out[late]) >= 20
    # Late clock readings never tear the reference: the count keeps the earliest.
    assert canceller.realigned <= 2
    assert canceller.frames == len(mic) // FRAME


def test_frames_pass_untouched_while_the_speaker_is_silent() -> None:
    played = PlayedAudio(clock=0.0)
    canceller = RoomEchoCanceller(played, EchoOptions())
    person = pcm(speech_like(1.0, RATE, seed=4))
    out = b"".join(
        canceller.cancel(person[i : i + 640], 1.0 + (i // 640 + 1) * 0.02)
        for i in range(0, len(person), 640)
    )
    assert out == person
    assert canceller.frames == 0


def test_options_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="filter_ms"):
        EchoOptions(filter_ms=20)
    with pytest.raises(ValueError, match="lead"):
        EchoOptions(filter_ms=60, lead_ms=80)


def test_the_setting_chooses_the_canceller() -> None:
    played = PlayedAudio()
    assert echo_canceller(EchoCancelMode.OFF, played) is None
    assert echo_canceller(EchoCancelMode.HARDWARE, played) is None
    made = echo_canceller(EchoCancelMode.AUTO, played)
    assert isinstance(made, RoomEchoCanceller)
    made.close()


def test_auto_without_libspeexdsp_runs_without_cancelling_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(echo, "LIBRARY", "libspeexdsp-not-installed.so.1")
    with pytest.raises(ConfigError, match="apt-get install libspeexdsp1"):
        SpeexEcho(EchoOptions())
    with caplog.at_level(logging.WARNING):
        assert echo_canceller(EchoCancelMode.AUTO, PlayedAudio()) is None
    assert "echo cancellation is off" in caplog.text


def test_it_is_settled_once_it_takes_the_echo_away_and_unsettled_when_the_speaker_stops() -> None:
    far24 = speech_like(6.0, 24_000, seed=5)
    far16 = samples(Resampler(24_000, RATE, quality="MQ").process(pcm(far24)))
    far16 = np.concatenate([far16, np.zeros(len(far24) * 2 // 3 - len(far16))])
    mic = room(far16, delay=round(0.02 * RATE))
    played = PlayedAudio(clock=99.0)
    canceller = RoomEchoCanceller(played, EchoOptions())
    settled: list[bool] = []
    original = canceller.cancel

    def watched(frame: bytes, at: float) -> bytes:
        out = original(frame, at)
        settled.append(canceller.settled)
        return out

    canceller.cancel = watched  # type: ignore[method-assign]
    run(played, canceller, far24, mic)
    assert not settled[0]
    assert all(settled[-50:])  # the last second
    # The speaker silent for longer than the filter: whatever the mic hears now went
    # through untouched; and the next answer is not trusted until its echo is seen going.
    silence = bytes(640)
    for k in range(50):  # the microphone goes on: a second of quiet, 106 to 107 s
        canceller.cancel(silence, 106.0 + (k + 1) * 0.02)
    assert not canceller.settled
    played.played(pcm(far24[:24_000]), 107.0, 24_000)
    canceller.cancel(pcm(mic[RATE : RATE + FRAME]), 107.02)
    assert canceller.frames > 0
    assert not canceller.settled


def test_an_echo_later_than_the_filter_reaches_is_found_and_cancelled() -> None:
    far24 = speech_like(14.0, 24_000, seed=6)
    far16 = samples(Resampler(24_000, RATE, quality="MQ").process(pcm(far24)))
    far16 = np.concatenate([far16, np.zeros(len(far24) * 2 // 3 - len(far16))])
    # 350 ms the devices do not report: beyond the 200 ms filter.
    mic = room(far16, delay=round(0.35 * RATE))
    played = PlayedAudio(clock=99.0)
    canceller = RoomEchoCanceller(played, EchoOptions())
    out = run(played, canceller, far24, mic)
    assert canceller.moved >= 1
    late = slice(10 * RATE, 14 * RATE)
    assert energy_db(mic[late]) - energy_db(out[late]) >= 20


def test_an_echo_within_the_filter_is_left_where_it_is() -> None:
    far24 = speech_like(8.0, 24_000, seed=7)
    far16 = samples(Resampler(24_000, RATE, quality="MQ").process(pcm(far24)))
    far16 = np.concatenate([far16, np.zeros(len(far24) * 2 // 3 - len(far16))])
    mic = room(far16, delay=round(0.08 * RATE))
    played = PlayedAudio(clock=99.0)
    canceller = RoomEchoCanceller(played, EchoOptions())
    run(played, canceller, far24, mic)
    assert canceller.moved == 0
