"""The appliance on the real ALSA adapters: a FIFO microphone fed in real time, a speaker FIFO
drained in real time by a subprocess (docs/platform.md §2), the emulator on gemini-3.8-live.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from talkbox.app import Appliance
from talkbox.appliance_events import ButtonPressed, ButtonReleased
from talkbox.audio.standins import LiveMic, asound_conf, correlation, file_pcm
from talkbox.conversation import State
from talkbox.emulator import Emulator
from talkbox.hardware import hardware_parts

from .conftest import (
    FAST_POLICY,
    MakeEmulator,
    answer_sent,
    box_settings,
    recording,
    until,
)

SPEAKER_SCRIPT = Path(__file__).parents[1] / "audio" / "speaker.py"
QUESTION = "question-weather.wav"


def reading(process: subprocess.Popen[bytes], fifo: Path) -> bool:
    """Whether `process` has `fifo` open (so opening it for writing does not block)."""
    fds = Path(f"/proc/{process.pid}/fd")
    with contextlib.suppress(OSError):
        return any(os.readlink(fd) == str(fifo) for fd in fds.iterdir())
    return False


class PacedSpeaker:
    """A subprocess draining the speaker's FIFO in real time into a file."""

    def __init__(self, fifo: Path, out: Path) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.out = out
        self.fifo = fifo
        self.process = subprocess.Popen(
            [sys.executable, str(SPEAKER_SCRIPT), str(fifo), str(out), "24000"]
        )

    def audio(self) -> bytes:
        return self.out.read_bytes() if self.out.exists() else b""

    def listening(self) -> bool:
        """Whether the subprocess has the FIFO open: a writer's open will not block."""
        return reading(self.process, self.fifo)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@dataclass
class AlsaBox:
    app: Appliance
    mic: LiveMic
    speaker: PacedSpeaker
    conf: Path
    pcms: dict[str, str]

    def rewrite(self) -> None:
        asound_conf(self.conf, self.pcms)


@pytest.fixture
def alsa_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    conf = tmp_path / "asound.conf"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    return conf


@contextlib.asynccontextmanager
async def alsa_box(
    emulator: Emulator,
    tmp_path: Path,
    conf: Path,
    *,
    mic_output: Path = Path("/dev/null"),
    **overrides: Any,
) -> AsyncIterator[AlsaBox]:
    mic = LiveMic(tmp_path / "mic.fifo")
    speaker = PacedSpeaker(tmp_path / "speaker.fifo", tmp_path / "played.raw")
    pcms = {
        "mic": file_pcm(output=mic_output, infile=tmp_path / "mic.fifo"),
        "speaker": file_pcm(output=tmp_path / "speaker.fifo"),
    }
    asound_conf(conf, pcms)
    await until(speaker.listening, within=5, what="the speaker reads")
    settings = box_settings(
        emulator,
        tmp_path / "state",
        capture_device="mic",
        playback_device="speaker",
        button_mode="hold",
        **overrides,
    )
    box: AlsaBox | None = None
    try:
        async with Appliance(settings, hardware_parts(settings), policy=FAST_POLICY) as app:
            await until(lambda: app.state is State.IDLE, within=15, what="idle")
            box = AlsaBox(app=app, mic=mic, speaker=speaker, conf=conf, pcms=pcms)
            yield box
    finally:
        speaker.kill()
        if box is not None:
            box.speaker.kill()  # a test may have plugged in another
        mic.close()


async def ask(box: AlsaBox, pcm: bytes) -> None:
    box.app.post(ButtonPressed())
    await until(lambda: box.app.state is State.LISTENING, within=2, what="listening")
    box.mic.say(pcm)
    await until(lambda: not box.mic.speaking, within=10, what="spoken")
    box.app.post(ButtonReleased())


async def test_a_4x_fast_answer_plays_whole_at_real_speed_on_alsa(
    make_emulator: MakeEmulator, tmp_path: Path, alsa_env: Path
) -> None:
    emulator = await make_emulator(realtime=True, fast_audio_factor=4.0)
    question = recording(QUESTION)[: 3 * 32_000]
    async with alsa_box(emulator, tmp_path, alsa_env, earcons=False) as box:
        await ask(box, question)
        await until(lambda: box.app.state is State.SPEAKING, within=10, what="speaking")
        started = asyncio.get_running_loop().time()
        await until(lambda: box.app.state is State.IDLE, within=20, what="played")
        spoke_for = asyncio.get_running_loop().time() - started
        answer = answer_sent(emulator)
        await until(lambda: len(box.speaker.audio()) >= len(answer), within=5, what="all written")
    answer_s = len(answer) / 48_000
    # 4x faster on the wire, real time on the speaker: speaking lasts the answer's length.
    assert answer_s - 0.2 <= spoke_for <= answer_s + 1.5
    assert correlation(box.speaker.audio(), answer) >= 0.95
