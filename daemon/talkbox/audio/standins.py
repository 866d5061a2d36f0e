"""ALSA stand-ins for the demo and the tests: a FIFO microphone fed in real time, file speakers.

`LiveMic` keeps a FIFO (the `infile` of an ALSA `file` PCM) fed with one period of the
reader's size every period (20 ms unless told): silence, or what the test says. The plugin
hands a read one whole period per FIFO write whatever the write's size (docs/platform.md
§2.2), so a mic written in 20 ms pieces runs a 1024-frame reader at 3.2× real time: the
writes must be the reader's period. It opens the FIFO read-write and non-blocking before
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
    """Feeds a FIFO in real time, one reader's period per period: silence unless told."""

    def __init__(self, fifo: Path, *, period_frames: int = FRAME // 2) -> None:
        """Feed `fifo` (made if missing) with `period_frames` 16 kHz samples per write."""
        if period_frames <= 0:
            raise ValueError(f"a mic period must be positive, got {period_frames} frames")
        if not fifo.exists():
            os.mkfifo(fifo)
        self.fifo = fifo
        self.period_bytes = period_frames * 2
        self.period_s = period_frames / 16_000
        self._fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self._lock = threading.Lock()
        self._speech = bytearray()
        self._said = 0
        """Bytes of the utterance written so far."""
        self._stop = threading.Event()
        self.paused = False
        """True: nothing is written (the device delivers nothing)."""
        self.delivered = 0
        """Bytes the FIFO took so far (a full pipe drops a period: not counted)."""
        self.written: list[float] = []
        """When each 20 ms frame of the last utterance was complete at the device (monotonic):
        "end of speech" as a moment at the device, for benchmarks. Inside a longer period a
        frame's moment is its period's write less the audio after it in that period."""
        self._thread = threading.Thread(target=self._run, name="test-live-mic", daemon=True)
        self._thread.start()

    def say(self, pcm: bytes) -> None:
        """Speak `pcm` (16 kHz mono S16_LE) from the next period on; stamps start afresh."""
        with self._lock:
            self.written = []
            self._said = 0
            self._speech += pcm[: len(pcm) - len(pcm) % FRAME]

    @property
    def speaking(self) -> bool:
        """Whether speech is still being written."""
        with self._lock:
            return bool(self._speech)

    def _run(self) -> None:
        start = time.monotonic()
        size = self.period_bytes
        silence = bytes(size)
        written = 0
        while not self._stop.is_set():
            with self._lock:
                spoken = bytes(self._speech[:size])
                del self._speech[:size]
            period = spoken + silence[len(spoken) :] if spoken else silence
            if not self.paused:
                # A full pipe (nobody reading) drops the period instead of blocking.
                with contextlib.suppress(BlockingIOError):
                    os.write(self._fd, period)
                    self.delivered += size
            if spoken:
                now = time.monotonic()
                with self._lock:
                    before, self._said = self._said, self._said + len(spoken)
                    # Each 20 ms frame ending in this period: when its last sample was spoken.
                    first = before // FRAME + 1
                    self.written.extend(
                        now - (size - (k * FRAME - before)) / 32_000
                        for k in range(first, self._said // FRAME + 1)
                    )
            written += 1
            self._stop.wait(max(0.0, start + written * self.period_s - time.monotonic()))

    def close(self) -> None:
        """Stop writing and close the FIFO (a reader then sees the end of the stream)."""
        self._stop.set()
        self._thread.join(5)
        os.close(self._fd)


def correlation(answer: bytes, question: bytes) -> float:
    """The best normalised correlation of `question` (24 kHz) within `answer` (24 kHz)."""
    a = np.frombuffer(answer, dtype="<i2").astype(np.float64)
    q = np.frombuffer(question, dtype="<i2").astype(np.float64)
    # Every offset counts, even one whose window runs past the end of what was heard (a
    # recording still being written): the missing part lowers the figure, as it should.
    a = np.concatenate([a, np.zeros(len(q))])
    # The offset by FFT cross-correlation, then the normalised correlation at that offset.
    size = 1 << (len(a) + len(q)).bit_length()
    xcorr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(q, size)), size)
    offset = int(np.argmax(xcorr[: len(a) - len(q) + 1]))
    window = a[offset : offset + len(q)]
    denominator = float(np.linalg.norm(window) * np.linalg.norm(q))
    return float(np.dot(window, q) / denominator) if denominator else 0.0


# --- the speaker drained in real time (added for `talkbox demo`) -------------------------

F_SETPIPE_SZ = 1031
"""fcntl's pipe-resize command (Linux)."""
SPEAKER_PIPE_BYTES = 4096
"""The speaker FIFO's size: the writer stays within ~85 ms (24 kHz) of what was "played"."""


def drain_in_real_time(fifo: Path, out: Path, rate: int) -> None:
    """Copy what is written into `fifo` to `out` at `rate` Hz mono S16_LE, until its writer closes.

    The speaker's clock: a `file` PCM over a null slave writes as it is fed
    (docs/platform.md §2.2), so this reader, pacing itself, is what makes playback take as
    long as the audio. The pipe is made small before any writer can fill it.
    """
    import fcntl

    early = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(early, F_SETPIPE_SZ, SPEAKER_PIPE_BYTES)
    period = rate // 50 * 2  # 20 ms
    # Creating the output file says the speaker is ready: a writer's open will not block.
    with open(out, "ab", buffering=0) as sink:
        fd = os.open(fifo, os.O_RDONLY)
        os.close(early)
        start = time.monotonic()
        played = 0
        while data := os.read(fd, period):
            sink.write(data)
            played += len(data)
            if time.monotonic() - (start + played / (2 * rate)) > 0.1:
                # Nothing was written for a while (between answers): restart the clock, as a
                # device does after an underrun.
                start = time.monotonic() - played / (2 * rate)
            time.sleep(max(0.0, start + played / (2 * rate) - time.monotonic()))
        os.close(fd)


class PacedSpeaker:
    """A subprocess draining a speaker FIFO in real time into a raw file.

    A subprocess, not a thread: `drop()` on the file plugin flushes into the FIFO while
    holding the GIL, so a reader thread in the same process could deadlock against it.
    The subprocess ends by itself once the PCM writing into the FIFO is closed.
    """

    def __init__(self, fifo: Path, out: Path, rate: int = 24_000) -> None:
        """Start draining `fifo` (made if missing) into `out` (raw PCM at `rate` Hz)."""
        import subprocess
        import sys

        if not fifo.exists():
            os.mkfifo(fifo)
        self.fifo = fifo
        self.out = out
        self.rate = rate
        command = [sys.executable, "-m", "talkbox.audio.standins", "speaker"]
        # A process group of its own: Ctrl-C or a SIGTERM to the caller's group must not end
        # it before the caller has closed the PCM writing into it (it would break the pipe).
        # The caller ends it (close()); a caller that dies first is noticed by the process.
        self.process = subprocess.Popen([*command, str(fifo), str(out), str(rate)], process_group=0)

    @property
    def ready(self) -> bool:
        """Whether the subprocess has the FIFO open, so a PCM's open of it will not block."""
        fds = Path(f"/proc/{self.process.pid}/fd")
        with contextlib.suppress(OSError):
            return any(os.readlink(fd) == str(self.fifo) for fd in fds.iterdir())
        return False

    @property
    def running(self) -> bool:
        """Whether the subprocess is still draining."""
        return self.process.poll() is None

    def played(self) -> bytes:
        """Everything played so far (raw PCM at `rate` Hz)."""
        return self.out.read_bytes() if self.out.exists() else b""

    def close(self, within: float = 10.0) -> None:
        """Wait `within` s for the subprocess to end (its writer closed), then kill it."""
        import subprocess

        try:
            self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def main(argv: list[str]) -> int:
    """`python -m talkbox.audio.standins speaker FIFO OUT RATE`: the speaker's subprocess."""
    if len(argv) != 4 or argv[0] != "speaker":
        raise SystemExit("usage: python -m talkbox.audio.standins speaker FIFO OUT RATE")
    parent = os.getppid()

    def orphaned() -> None:
        # A parent killed before it opened the FIFO leaves this one waiting in open() forever.
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=orphaned, name="speaker-orphan-check", daemon=True).start()
    drain_in_real_time(Path(argv[1]), Path(argv[2]), int(argv[3]))
    return 0


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


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
