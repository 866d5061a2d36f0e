"""The demo's bench: the appliance's real adapters on stand-ins any Linux machine has.

- microphone: an ALSA `file` PCM whose infile is a FIFO fed in real time (`LiveMic`);
- speaker: an ALSA `file` PCM writing into a FIFO a subprocess drains in real time
  (`PacedSpeaker`), so `speaking` lasts as the answer;
- button and LED: gpiozero's MockFactory with PWM pins (`MockPins`), an RGB LED;
- ALSA_CONFIG_PATH names a configuration holding only these two PCMs (docs/platform.md §2).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import wave
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from talkbox.audio.format import ANSWER_RATE_HZ, INPUT_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.standins import LiveMic, PacedSpeaker, asound_conf, file_pcm
from talkbox.gpio import MockPins

QUESTION: Final = "question-weather.wav"
"""The bundled spoken question (a copy of tests/data/question-weather.wav)."""
WAKE_QUESTION: Final = "okay_nabu-question-en-gb.wav"
"""The bundled "okay nabu ... what time is it in Tokyo?" (of tests/data/wake/)."""
MIC: Final = "talkbox-demo-mic"
SPEAKER: Final = "talkbox-demo-speaker"
BUTTON_PIN: Final = 5
LED_PINS: Final = (17, 27, 22)
"""The RGB LED's red, green and blue pins."""
SETTINGS: Final[Mapping[str, Any]] = {
    "capture_device": MIC,
    "playback_device": SPEAKER,
    "hat": "custom",
    "button_pin": BUTTON_PIN,
    "button_pull": "up",
    "led_kind": "rgb",
    "led_pins": LED_PINS,
    # The bench presses and releases, and the local VAD ends the turn: DESIGN.md's tap.
    "button_mode": "tap",
    "turn_detection": "local",
    # No sound travels from the bench's speaker FIFO to its microphone FIFO: there is no echo
    # to cancel, and a canceller with nothing to learn would turn the question down under the
    # start earcon (the --wake answer fell to correlation 0.81 with the question).
    "echo_cancel": "off",
}
"""The settings that put the appliance on the bench, whatever else the user configured."""
SPEAKER_READY_S: Final = 10.0
"""How long the speaker's subprocess may take to start (a loaded machine, qemu)."""


class DemoFailed(Exception):
    """The demo could not show a whole turn; the message says what did not happen."""


def question(name: str = QUESTION) -> bytes:
    """A bundled recording (QUESTION, WAKE_QUESTION): 16 kHz mono S16_LE."""
    data = resources.files("talkbox").joinpath("data", name)
    with data.open("rb") as raw, wave.open(raw, "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (INPUT_RATE_HZ, 1, 2):
            raise DemoFailed(f"{name} is not 16 kHz mono 16-bit")
        return wav.readframes(wav.getnframes())


def speech_end_s(pcm: bytes, *, floor: int = 64) -> float:
    """Where the speech in `pcm` (16 kHz) ends: after its last sample louder than `floor`."""
    samples = memoryview(pcm).cast("h")
    for index in range(len(samples) - 1, -1, -1):
        if abs(samples[index]) > floor:
            return (index + 1) / INPUT_RATE_HZ
    return 0.0


def first_words_end_s(pcm: bytes, *, pause_s: float = 0.2, floor: int = 64) -> float:
    """Where the first words in `pcm` (16 kHz) end: before the first pause of `pause_s`."""
    samples = memoryview(pcm).cast("h")
    pause = round(pause_s * INPUT_RATE_HZ)
    last_loud: int | None = None
    for index, sample in enumerate(samples):
        if abs(sample) > floor:
            last_loud = index
        elif last_loud is not None and index - last_loud >= pause:
            return (last_loud + 1) / INPUT_RATE_HZ
    return speech_end_s(pcm, floor=floor)


async def until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Wait (at most `within` s) until `condition()` holds; DemoFailed naming `what` if not."""
    try:
        async with asyncio.timeout(within):
            # Polled: the conditions span threads (ALSA, gpiozero) and a subprocess.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise DemoFailed(f"{what} did not happen within {within:.0f} s") from None


@dataclass(slots=True)
class Bench:
    """The running stand-ins."""

    mic: LiveMic
    speaker: PacedSpeaker
    pins: MockPins

    def played(self) -> bytes:
        """What the speaker played, whole 24 kHz samples (call after the appliance closed)."""
        pcm = self.speaker.played()
        return pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES]


@contextlib.asynccontextmanager
async def open_bench(work: Path) -> AsyncIterator[Bench]:
    """Start the stand-ins in directory `work`; the appliance must be closed before leaving."""
    conf = asound_conf(
        work / "asound.conf",
        {
            MIC: file_pcm(output=Path("/dev/null"), infile=work / "mic.fifo"),
            SPEAKER: file_pcm(output=work / "speaker.fifo"),
        },
    )
    before = os.environ.get("ALSA_CONFIG_PATH")
    os.environ["ALSA_CONFIG_PATH"] = str(conf)
    # The FIFO is open read-write before any PCM opens it (pyalsaaudio holds the GIL in a
    # blocking open: docs/platform.md §2.2).
    mic = LiveMic(work / "mic.fifo")
    speaker = PacedSpeaker(work / "speaker.fifo", work / "played.raw", ANSWER_RATE_HZ)
    pins = MockPins()
    closed = False
    try:
        await until(
            lambda: speaker.ready or not speaker.running,
            within=SPEAKER_READY_S,
            what="the speaker stand-in starting",
        )
        if not speaker.running:
            raise DemoFailed(f"the speaker stand-in exited ({speaker.process.returncode})")
        yield Bench(mic=mic, speaker=speaker, pins=pins)
        # The playback PCM is closed: the subprocess reads the end of the FIFO and exits.
        speaker.close(within=10.0)
        closed = True
    finally:
        if not closed:
            speaker.close(within=0.0)
        mic.close()
        pins.close()
        if before is None:
            os.environ.pop("ALSA_CONFIG_PATH", None)
        else:
            os.environ["ALSA_CONFIG_PATH"] = before
