"""ALSA stand-ins for the demo and the tests: a FIFO microphone fed in real time, file speakers.

`LiveMic` keeps a FIFO (the `infile` of an ALSA `file` PCM) fed with a 20 ms period every
20 ms: silence, or what the test says. It opens the FIFO read-write and non-blocking before
any PCM opens it, so the PCM's open finds a writer at once (pyalsaaudio holds the GIL while
that open blocks). `asound_conf` writes the devices into an ALSA configuration named by
ALSA_CONFIG_PATH (docs/platform.md §2).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import numpy as np

FRAME = 640
"""20 ms of 16 kHz mono S16_LE."""


def file_pcm(*, output: Path, infile: Path | None = None) -> str:
    """The body of a `file` PCM over a null slave."""
    lines = ["type file", "slave.pcm { type null }", f'file "{output}"', 'format "raw"']
    if infile is not None:
        lines.append(f'infile "{infile}"')
    return "\n".join(lines)


def asound_conf(path: Path, pcms: dict[str, str]) -> Path:
    """Write (atomically) an ALSA configuration with these PCMs; alsa-lib rereads it on open."""
    text = "".join(f"pcm.{name} {{\n{body}\n}}\n" for name, body in pcms.items())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text or "# no devices\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


class LiveMic:
    """Feeds a FIFO in real time: silence unless the test says something."""

    def __init__(self, fifo: Path) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.fifo = fifo
        self._fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self._lock = threading.Lock()
        self._speech = bytearray()
        self._stop = threading.Event()
        self.paused = False
        """True: nothing is written (the device delivers nothing)."""
        self._thread = threading.Thread(target=self._run, name="test-live-mic", daemon=True)
        self._thread.start()

    def say(self, pcm: bytes) -> None:
        """Speak `pcm` (16 kHz mono S16_LE) from the next period on."""
        with self._lock:
            self._speech += pcm[: len(pcm) - len(pcm) % FRAME]

    @property
    def speaking(self) -> bool:
        """Whether speech is still being written."""
        with self._lock:
            return bool(self._speech)

    def _run(self) -> None:
        start = time.monotonic()
        silence = bytes(FRAME)
        written = 0
        while not self._stop.is_set():
            with self._lock:
                pcm = bytes(self._speech[:FRAME]) or silence
                del self._speech[:FRAME]
            if not self.paused:
                # A full pipe (nobody reading) drops the period instead of blocking.
                with contextlib.suppress(BlockingIOError):
                    os.write(self._fd, pcm)
            written += 1
            self._stop.wait(max(0.0, start + written * 0.02 - time.monotonic()))

    def close(self) -> None:
        """Stop writing and close the FIFO (a reader then sees the end of the stream)."""
        self._stop.set()
        self._thread.join(5)
        os.close(self._fd)


def correlation(answer: bytes, question: bytes) -> float:
    """The best normalised correlation of `question` (24 kHz) within `answer` (24 kHz)."""
    a = np.frombuffer(answer, dtype="<i2").astype(np.float64)
    q = np.frombuffer(question, dtype="<i2").astype(np.float64)
    if len(a) < len(q):
        a = np.concatenate([a, np.zeros(len(q) - len(a))])
    # The offset by FFT cross-correlation, then the normalised correlation at that offset.
    size = 1 << (len(a) + len(q)).bit_length()
    xcorr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(q, size)), size)
    offset = int(np.argmax(xcorr[: len(a) - len(q) + 1]))
    window = a[offset : offset + len(q)]
    denominator = float(np.linalg.norm(window) * np.linalg.norm(q))
    return float(np.dot(window, q) / denominator) if denominator else 0.0


class AsoundConf:
    """An ALSA configuration rewritten while devices are open, every version seen by alsa-lib.

    alsa-lib rereads its configuration on open only when the file's inode or mtime (whole
    seconds) changed. `asound_conf` renames a new file into place, freeing the old inode; on
    ext4 the next rewrite within the same second may get that inode back, and an open that
    missed the version in between would use the stale devices: perhaps a FIFO nobody serves,
    an open that blocks with the GIL held (docs/platform.md §2.4). Each version here keeps a
    name of its own, so no inode is freed while the test runs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.versions = 0

    def write(self, pcms: dict[str, str]) -> Path:
        """Put these PCMs in place (atomically), as a version with an inode of its own."""
        self.versions += 1
        kept = self.path.with_name(f"{self.path.name}.v{self.versions}")
        asound_conf(kept, pcms)
        tmp = self.path.with_name(f"{self.path.name}.link")
        os.link(kept, tmp)
        os.replace(tmp, self.path)
        return self.path
