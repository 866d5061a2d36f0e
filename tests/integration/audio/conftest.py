"""ALSA stand-ins for the real pyalsaaudio: the `file` plugin over a `null` slave.

- A microphone is a FIFO given as the plugin's `infile`; `Mic` writes it in real time, one
  20 ms period at a time, so capture is paced by the test.
- A speaker is the plugin's output `file`: a plain file (no pacing), or a FIFO drained by
  `Speaker`, a subprocess reading in real time, so playback is paced as on a device. Killing
  that reader breaks the pipe, and the next read/write raises ALSAAudioError (EIO): a device
  that vanishes. A config without the PCM makes reopening fail: a device that is gone.

The config is written into tmp_path and named by ALSA_CONFIG_PATH; alsa-lib reloads it on
the next open when it changes (each version is renamed into place).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from talkbox.audio.alsa import DeviceStatus

SPEAKER_SCRIPT = Path(__file__).with_name("speaker.py")


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 8000.0) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def frequency_of(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


class Statuses(list[DeviceStatus]):
    """An `on_status` callback that records what it is told and can be awaited."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def __call__(self, status: DeviceStatus) -> None:
        self.append(status)
        self._changed.set()

    async def wait_for(
        self, condition: Callable[[list[DeviceStatus]], bool], within: float
    ) -> None:
        async with asyncio.timeout(within):
            while not condition(self):
                self._changed.clear()
                await self._changed.wait()


def drain_with_cat(fifo: Path) -> subprocess.Popen[bytes]:
    """A reader that keeps `fifo` open and throws away what comes (kill it to break the pipe)."""
    return subprocess.Popen(["sh", "-c", f"exec cat '{fifo}' > /dev/null"])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(5)


def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.01)


class AlsaConfig:
    """A standalone ALSA configuration the test can rewrite while devices are open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pcms: dict[str, str] = {}

    def pcm(self, name: str, body: str) -> None:
        self.pcms[name] = body
        self._write()

    def remove(self, name: str) -> None:
        del self.pcms[name]
        self._write()

    def _write(self) -> None:
        text = "".join(f"pcm.{name} {{\n{body}\n}}\n" for name, body in self.pcms.items())
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text or "# no devices\n", encoding="utf-8")
        os.replace(tmp, self.path)


@pytest.fixture
def alsa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AlsaConfig:
    config = AlsaConfig(tmp_path / "asound.conf")
    config.pcm("placeholder", "type null")
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(config.path))
    return config


def file_pcm(*, output: Path | str, infile: Path | None = None) -> str:
    """The body of a `file` PCM over a null slave."""
    lines = ["type file", "slave.pcm { type null }", f'file "{output}"', 'format "raw"']
    if infile is not None:
        lines.append(f'infile "{infile}"')
    return "\n".join(lines)


class Mic:
    """Writes PCM into a FIFO in real time, one period per write (the capture device)."""

    def __init__(self, fifo: Path, pcm: bytes, rate: int, period_ms: int = 20) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.fifo = fifo
        self.pcm = pcm
        self.chunk = rate * period_ms // 1000 * 2
        self.period_s = period_ms / 1000
        self.written = 0
        self._stop = threading.Event()
        # Read-write and non-blocking, opened before any PCM: the open never waits, and the
        # PCM's open of the FIFO finds a writer at once (pyalsaaudio holds the GIL while that
        # open blocks, so a writer thread still on its way would never get there). A full
        # pipe (nobody reading any more) drops periods instead of blocking.
        self._fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name="test-mic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd = self._fd
        start = time.monotonic()
        try:
            for k, i in enumerate(range(0, len(self.pcm), self.chunk)):
                if self._stop.is_set():
                    return
                with contextlib.suppress(BlockingIOError):
                    os.write(fd, self.pcm[i : i + self.chunk])
                    self.written += 1
                self._stop.wait(max(0.0, start + (k + 1) * self.period_s - time.monotonic()))
        finally:
            os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


class Speaker:
    """A subprocess that drains a FIFO in real time into a file (the playback device)."""

    def __init__(self, fifo: Path, out: Path, rate: int) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.out = out
        self.process = subprocess.Popen(
            [sys.executable, str(SPEAKER_SCRIPT), str(fifo), str(out), str(rate)]
        )
        # A PCM must not open the FIFO before the reader is there: pyalsaaudio holds the GIL
        # while that open blocks, which would stop this whole process.
        wait_until(out.exists, 10, "the speaker subprocess is ready")

    def bytes(self) -> int:
        return self.out.stat().st_size if self.out.exists() else 0

    def audio(self) -> bytes:
        return self.out.read_bytes()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)


@pytest.fixture
def speakers() -> Iterator[Callable[[Path, Path, int], Speaker]]:
    made: list[Speaker] = []

    def make(fifo: Path, out: Path, rate: int) -> Speaker:
        speaker = Speaker(fifo, out, rate)
        made.append(speaker)
        return speaker

    yield make
    for speaker in made:
        if speaker.process.poll() is None:
            speaker.kill()


@pytest.fixture
def mics() -> Iterator[Callable[..., Mic]]:
    made: list[Mic] = []

    def make(fifo: Path, pcm: bytes, rate: int) -> Mic:
        mic = Mic(fifo, pcm, rate)
        made.append(mic)
        return mic

    yield make
    for mic in made:
        mic.stop()
