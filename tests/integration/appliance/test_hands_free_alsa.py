"""Nothing leaves the box before the wake word: a minute of other talk through the real adapters.

The microphone is an ALSA `file` PCM reading a FIFO fed in real time (docs/platform.md §2),
the LED an RGB LED on gpiozero's MockFactory pins, the wake word detector the real one
listening for three models, the emulator on gemini-3.8-live. A minute of speech that holds
no wake word (questions, near misses, faster and slower talkers, two talkers at once as a TV
would be, speech under noise; all from tests/data) must send nothing and never light the
listening colour; the wake word said after it must then open a turn on the same setup.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr
from gpiozero.pins.mock import MockFactory, MockPWMPin

from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.audio.standins import LiveMic, asound_conf, file_pcm
from talkbox.conversation import State

from .conftest import DATA, FAST_POLICY, MakeEmulator, audio_records, box_settings, until
from .test_gpio_privacy import BLUE_PIN, DELIVERY_S, GREEN, RED, blue_spans

LISTENING = "okay_nabu,alexa,hey_mycroft"
TALK = (
    "question-weather.wav",
    "question-story-pause.wav",
    "question-moon-pause-room.wav",
    "question-moon-pause-fan.wav",
    "wake/near-miss-en-us.wav",
)
WAKE_QUESTION = "wake/okay_nabu-question-en-gb.wav"


def samples(name: str) -> np.ndarray:
    with wave.open(str(DATA / name)) as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def other_talk(seconds: float) -> bytes:
    """`seconds` of speech without a wake word, varied the way a room varies it (seeded)."""
    rng = np.random.default_rng(20261201)
    talk = [samples(name).astype(np.float32) for name in TALK]
    pieces: list[np.ndarray] = []
    total, index = 0, 0
    while total < seconds * 16_000:
        piece = talk[index % len(talk)]
        match index % 4:
            case 1:  # a faster or slower talker: the same words resampled
                piece = soxr.resample(piece, 16_000, 16_000 * (0.85 if index % 8 == 1 else 1.15))
            case 2:  # two talkers at once, as a TV in the room
                other = talk[(index + 2) % len(talk)]
                n = max(len(piece), len(other))
                piece = np.pad(piece, (0, n - len(piece))) + 0.5 * np.pad(
                    other, (0, n - len(other))
                )
            case 3:  # under steady noise
                piece = piece + rng.normal(0, 300, len(piece)).astype(np.float32)
            case _:
                pass
        pieces.append(piece)
        total += len(piece)
        index += 1
    pcm = np.concatenate(pieces)[: int(seconds * 16_000)]
    return np.clip(pcm, -32768, 32767).astype(np.int16).tobytes()


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


async def test_a_minute_of_other_talk_sends_nothing_and_the_wake_word_then_opens_a_turn(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    factory: MockFactory,
) -> None:
    conf = tmp_path / "asound.conf"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    emulator = await make_emulator(realtime=True)
    mic = LiveMic(tmp_path / "mic.fifo")
    asound_conf(
        conf,
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=mic.fifo),
            "speaker": file_pcm(output=tmp_path / "played.raw"),
        },
    )
    settings = box_settings(
        emulator,
        tmp_path / "state",
        capture_device="mic",
        playback_device="speaker",
        wake_word=LISTENING,
        led_kind="rgb",
        led_pins=(RED, GREEN, BLUE_PIN),
        follow_up_s=0,
    )
    minute = other_talk(60.0)
    try:
        parts = hardware_parts(settings, pin_factory=factory)
        async with Appliance(settings, parts, policy=FAST_POLICY) as app:
            await until(lambda: app.state is State.IDLE, within=15, what="idle")
            mic.say(minute)
            await until(lambda: not mic.speaking, within=90, what="the minute spoken")
            await asyncio.sleep(0.5)  # the last frames reach the detector
            assert app.counters.wake_words == 0
            assert app.counters.frames_sent == 0
            assert app.counters.frames >= 60 * 50 * 0.95
            assert emulator.log.client_messages("realtime_input") == []
            assert blue_spans(factory) == []
            # The same setup does hear the wake word: the silence above is not deafness.
            mic.say(samples(WAKE_QUESTION).tobytes())
            ended = "realtime_input.activityEnd"
            await until(lambda: emulator.log.client_messages(ended) != [], within=15, what="asked")
            await until(lambda: app.state is State.IDLE, within=20, what="answered")
            records = audio_records(emulator)
            spans = blue_spans(factory)
    finally:
        mic.close()
    assert app.counters.wake_words == 1
    assert len(emulator.log.client_messages("realtime_input.activityStart")) == 1
    assert records
    assert len(spans) == 1
    assert all(spans[0][0] <= t <= spans[0][1] + DELIVERY_S for t, _ in records)
