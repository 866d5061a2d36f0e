"""The appliance on the real ALSA adapters: a FIFO microphone fed in real time, a speaker FIFO
drained in real time by a subprocess (docs/platform.md §2), the emulator on gemini-3.8-live.

A device vanishes when the process draining its FIFO is killed (the next read or write fails
with EIO) while the configuration no longer names it; it returns on new FIFOs whose peers are
in place before the configuration names them again. No PCM open can then wait for a peer: it
would wait holding the GIL, and the whole process with it (docs/platform.md §2.4).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from talkbox.appliance.app import Appliance
from talkbox.appliance.control import Request
from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.requests import answer as answer_request
from talkbox.audio.devices import PlaybackOptions
from talkbox.audio.standins import AsoundConf, LiveMic, correlation, file_pcm
from talkbox.conversation import ButtonPressed, ButtonReleased, State
from talkbox.emulator import Emulator

from .conftest import (
    FAST_POLICY,
    MakeEmulator,
    answer_sent,
    audio_received,
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
    """A subprocess draining a FIFO in real time into a file (a speaker, or a mic's sink)."""

    def __init__(self, fifo: Path, out: Path, rate: int = 24_000) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.out = out
        self.fifo = fifo
        self.process = subprocess.Popen(
            [sys.executable, str(SPEAKER_SCRIPT), str(fifo), str(out), str(rate)]
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
    conf: AsoundConf
    pcms: dict[str, str]

    def rewrite(self) -> None:
        self.conf.write(self.pcms)


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
    config = AsoundConf(conf)
    config.write(pcms)
    await until(speaker.listening, within=10, what="the speaker reads")
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
            box = AlsaBox(app=app, mic=mic, speaker=speaker, conf=config, pcms=pcms)
            yield box
    finally:
        speaker.kill()
        if box is not None:
            box.speaker.kill()  # a test may have plugged in another speaker, or microphone
            if box.mic is not mic:
                box.mic.close()
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
        # The speaker plays a lead-in of silence before the answer.
        whole = len(answer) + int(PlaybackOptions().lead_in_ms * 48)
        await until(lambda: len(box.speaker.audio()) >= whole, within=5, what="all written")
        devices = answer_request(box.app, Request(command="status"))["devices"]
    answer_s = len(answer) / 48_000
    # 4x faster on the wire, real time on the speaker: speaking lasts the answer's length.
    assert answer_s - 0.2 <= spoke_for <= answer_s + 1.5
    assert correlation(box.speaker.audio(), answer) >= 0.95
    # `ctl status` carries the devices' own counters: what the card lost or played dry.
    assert devices["capture"]["frames"] >= 3 * 50
    assert devices["capture"]["overruns"] == 0
    assert devices["playback"]["written_s"] >= answer_s
    assert "underruns" in devices["playback"]


def answers_by_turn(emulator: Emulator) -> list[bytes]:
    """The answer audio the emulator sent for each turn (ended by turnComplete), in order."""
    turns: list[bytes] = []
    answer = bytearray()
    for record in emulator.log.server_messages():
        content = record.message.get("serverContent", {})
        for part in content.get("modelTurn", {}).get("parts", []):
            data = part.get("inlineData", {}).get("data")
            if data:
                answer += base64.b64decode(data)
        if content.get("turnComplete"):
            turns.append(bytes(answer))
            answer.clear()
    return turns


async def heard_whole(speaker: PacedSpeaker, answer: bytes, *, within: float) -> None:
    """Wait until the speaker has played all of `answer` (it lags the box by its buffers)."""
    # Correlated, not counted: the earcons around the answer are in the file too. Polled:
    # the file grows in another process.
    best = 0.0
    try:
        async with asyncio.timeout(within):
            while (best := correlation(speaker.audio(), answer)) < 0.9:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(
            f"not within {within} s: the answer played (correlation {best:.2f})"
        ) from None


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ERROR lines logged so far."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_microphone_that_vanishes_and_returns_is_an_error_then_idle_and_a_turn_works(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    alsa_env: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = await make_emulator(realtime=True)
    # The file plugin copies what it captures into `file`: a FIFO drained by a subprocess,
    # which is there (reading) before anything opens it. Killed, it makes the next read fail.
    sink = PacedSpeaker(tmp_path / "capout.fifo", tmp_path / "capout.raw", rate=16_000)
    try:
        await until(sink.listening, within=10, what="the mic's sink reads")
        with caplog.at_level(logging.INFO):
            async with alsa_box(emulator, tmp_path, alsa_env, mic_output=sink.fifo) as box:
                box.pcms.pop("mic")  # unplugged: reopening fails until it is back
                box.rewrite()
                sink.kill()
                await until(lambda: box.app.state is State.ERROR, within=10, what="error")
                assert box.app.status_line().startswith(
                    "error: capture device: capture device 'mic' cannot be used"
                )
                # Plugged in again: a new FIFO, its writer there before the config names it.
                box.mic = LiveMic(tmp_path / "mic2.fifo")
                box.pcms["mic"] = file_pcm(output=Path("/dev/null"), infile=box.mic.fifo)
                box.rewrite()
                await until(lambda: box.app.state is State.IDLE, within=15, what="recovered")
                question = recording(QUESTION)[: 3 * 32_000]
                await ask(box, question)
                await until(lambda: box.app.state is State.SPEAKING, within=10, what="answer")
                await until(lambda: box.app.state is State.IDLE, within=20, what="played")
                await until(
                    lambda: len(answers_by_turn(emulator)) == 1, within=5, what="turn complete"
                )
                [answer] = answers_by_turn(emulator)
                await heard_whole(box.speaker, answer, within=5)
                heard = audio_received(emulator)
    finally:
        sink.kill()
    errors = errors_logged(caplog)
    assert len(errors) == 1, errors
    assert errors[0].startswith("capture device 'mic' cannot be used: ")
    assert "talkbox devices" in errors[0]
    assert any("capture device 'mic' is back" in r.getMessage() for r in caplog.records)
    # The returned microphone carried the question up (and its answer played whole).
    assert correlation(heard, question) >= 0.9


async def test_a_speaker_failing_during_an_answer_is_an_error_then_recovers_and_plays_the_next(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    alsa_env: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = await make_emulator(realtime=True)
    with caplog.at_level(logging.INFO):
        async with alsa_box(emulator, tmp_path, alsa_env) as box:
            await ask(box, recording(QUESTION))
            await until(lambda: box.app.state is State.SPEAKING, within=10, what="speaking")
            box.pcms.pop("speaker")  # unplugged: the next write fails, and so does reopening
            box.rewrite()
            box.speaker.kill()
            await until(lambda: box.app.state is State.ERROR, within=10, what="error")
            assert "playback device 'speaker' cannot be used" in box.app.status_line()
            # Plugged in again: a new FIFO, its reader there before the config names it.
            box.speaker = PacedSpeaker(tmp_path / "speaker2.fifo", tmp_path / "played2.raw")
            await until(box.speaker.listening, within=10, what="the new speaker reads")
            box.pcms["speaker"] = file_pcm(output=box.speaker.fifo)
            box.rewrite()
            await until(lambda: box.app.state is State.IDLE, within=15, what="recovered")
            # The cut answer is still arriving: the next question waits until it is all in.
            await until(
                lambda: len(answers_by_turn(emulator)) == 1, within=15, what="first turn complete"
            )
            await ask(box, recording("question-story-pause.wav")[: 3 * 32_000])
            await until(lambda: box.app.state is State.SPEAKING, within=10, what="next answer")
            await until(lambda: box.app.state is State.IDLE, within=20, what="played")
            await until(
                lambda: len(answers_by_turn(emulator)) == 2, within=5, what="next turn complete"
            )
            await heard_whole(box.speaker, answers_by_turn(emulator)[1], within=5)
    errors = errors_logged(caplog)
    assert len(errors) == 1, errors
    assert errors[0].startswith("playback device 'speaker' cannot be used: ")
    assert any("playback device 'speaker' is back" in r.getMessage() for r in caplog.records)
