"""`talkbox selftest` as a person runs it, on ALSA stand-ins (issue 16, item 21).

The microphone is a FIFO fed in real time (digital silence, or speech), the speaker a file;
this machine has no GPIO, so a configured button and LED are skipped for that reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.audio.standins import LiveMic, asound_conf, file_pcm

pytestmark = pytest.mark.slow

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def mic(tmp_path: Path) -> Iterator[LiveMic]:
    live = LiveMic(tmp_path / "mic.fifo")
    yield live
    live.close()


def selftest(tmp_path: Path, mic: LiveMic, **settings: str) -> subprocess.CompletedProcess[str]:
    conf = asound_conf(
        tmp_path / "asound.conf",
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=mic.fifo),
            "speaker": file_pcm(output=tmp_path / "played.raw"),
        },
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TALKBOX_", "GPIOZERO_", "GEMINI_", "GOOGLE_"))
    }
    env |= {
        "ALSA_CONFIG_PATH": str(conf),
        "STATE_DIRECTORY": str(tmp_path / "state"),
        "TALKBOX_CAPTURE_DEVICE": "mic",
        "TALKBOX_PLAYBACK_DEVICE": "speaker",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "selftest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def step(done: subprocess.CompletedProcess[str], name: str) -> str:
    lines = [line for line in done.stdout.splitlines() if f" {name}: " in line]
    assert len(lines) == 1, done.stdout
    return lines[0]


def test_digital_silence_fails_and_the_person_is_told_to_speak_first(
    tmp_path: Path, mic: LiveMic
) -> None:
    done = selftest(tmp_path, mic)  # the FIFO carries zeros: no signal at all
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    record = step(done, "record 3 s")
    assert lines.index("speak now: recording 3 s from the microphone ...") < lines.index(record)
    assert record.startswith("FAIL record 3 s: only digital silence (every sample 0)")
    assert "inf" not in record
    # Nothing configured: each skip says so, with the setting to set.
    assert step(done, "LED patterns") == (
        "SKIP LED patterns: no LED configured (set TALKBOX_LED_PINS, or TALKBOX_HAT)"
    )
    assert step(done, "button") == (
        "SKIP button: no button configured (set TALKBOX_BUTTON_PIN, or TALKBOX_HAT)"
    )


@pytest.mark.parametrize(
    ("settings", "led", "button"),
    [
        ({"TALKBOX_BUTTON_PIN": "17", "TALKBOX_LED_PINS": "25"}, "GPIO 25", "GPIO 17"),
        ({"TALKBOX_HAT": "aiy-voice-v1"}, "GPIO 25", "GPIO 23"),
        (
            {"TALKBOX_LED_KIND": "rgb", "TALKBOX_LED_PINS": "5,6,13", "TALKBOX_BUTTON_PIN": "4"},
            "GPIO 5,6,13",
            "GPIO 4",
        ),
    ],
)
def test_speech_passes_and_configured_pins_without_gpio_are_skipped_as_such(
    tmp_path: Path, mic: LiveMic, settings: dict[str, str], led: str, button: str
) -> None:
    with wave.open(str(DATA / "question-weather.wav"), "rb") as wav:
        speech = wav.readframes(wav.getnframes())
    mic.say(speech * 6)  # spoken all through the run's recording, whenever it starts
    done = selftest(tmp_path, mic, **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert step(done, "record 3 s").startswith("PASS record 3 s: 3 s at -")
    assert step(done, "play it back") == "PASS play it back: the recording played to its end"
    no_gpio = "but no GPIO on this machine (not a Pi, or this user may not open /dev/gpiochip*)"
    assert step(done, "LED patterns") == (
        f"SKIP LED patterns: an LED is configured ({led}), {no_gpio}"
    )
    assert step(done, "button") == f"SKIP button: a button is configured ({button}), {no_gpio}"
