"""What the benchmarks share: percentiles, the ALSA stand-ins with time stamps, child processes.

The appliance benchmark runs each box (talkbox, the reference loop) in a child process so the
child's CPU time and RSS are its own; the emulator, the microphone feeder and the speaker
drainer live elsewhere (the parent's threads, a subprocess). Every time is `time.monotonic()`,
CLOCK_MONOTONIC, which is one clock for every process on the machine.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkbox.audio.standins import LiveMic

FRAME = 640
"""20 ms of 16 kHz mono S16_LE."""
FRAME_S = 0.02
DRAINER = Path(__file__).parent / "_drainer.py"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(samples: list[float]) -> dict[str, float]:
    """n, p50, p95 and max of a list of milliseconds."""
    return {
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "max": max(samples, default=float("nan")),
    }


def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Poll `condition` until it holds; TimeoutError after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s: {what}")
        time.sleep(0.005)


StampedMic = LiveMic
"""The microphone FIFO fed in real time; `written` stamps each period of the last utterance."""


@dataclass(frozen=True, slots=True)
class Read:
    """One read of the speaker drainer: when it returned, how much, what was waiting, peak."""

    t: float
    n: int
    waiting: int
    peak: int


class Drainer:
    """The speaker: a subprocess reading its FIFO in real time, logging every read."""

    def __init__(self, fifo: Path, log: Path, rate: int = 24_000) -> None:
        if not fifo.exists():
            os.mkfifo(fifo)
        self.fifo = fifo
        self.log = log
        # A subprocess, not a thread: pcm.drop() on the file plugin flushes into the FIFO
        # while holding the GIL, which would stall a reader in the same process.
        self.process = subprocess.Popen(
            [sys.executable, str(DRAINER), str(fifo), str(log), str(rate)]
        )
        self._offset = 0
        self.reads: list[Read] = []

    def listening(self) -> bool:
        """Whether the drainer has the FIFO open (a writer's open will not block)."""
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{self.process.pid}/fd")
            return any(os.readlink(fd) == str(self.fifo) for fd in fds.iterdir())
        return False

    def update(self) -> list[Read]:
        """Every read so far (parsing what the drainer logged since the last call)."""
        if not self.log.exists():
            return self.reads
        with self.log.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        for line in whole.splitlines():
            t, n, waiting, peak = line.split()
            self.reads.append(Read(float(t), int(n), int(waiting), int(peak)))
        return self.reads

    def quiet_for(self, seconds: float) -> bool:
        """Whether nothing has arrived for `seconds`."""
        reads = self.update()
        return not reads or time.monotonic() - reads[-1].t >= seconds

    def stop(self) -> None:
        """End the drainer."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def first_bytes_after(reads: list[Read], t: float) -> float | None:
    """When the first bytes written after `t` arrived at the drainer."""
    return next((r.t for r in reads if r.t > t), None)


def last_write_between(reads: list[Read], start: float, end: float) -> float | None:
    """When the writer last put bytes into the FIFO in (start, end], to one drainer tick.

    A write shows as more waiting in the pipe than the previous read left there, or as a
    read that returned after waiting on an empty pipe.
    """
    last = None
    for before, read in itertools.pairwise(reads):
        if read.t <= start or read.t > end:
            continue
        if read.waiting > before.waiting - before.n or read.waiting == 0:
            last = read.t
    return last


def last_sound_between(reads: list[Read], start: float, end: float) -> float | None:
    """When the drainer last read non-silent audio in (start, end]."""
    return max((r.t for r in reads if start < r.t <= end and r.peak > 64), default=None)


class Child:
    """A box in a child process: commands on its stdin, stamped answers on its stdout."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="bench-child-out", daemon=True)
        self._reader.start()
        self.log_path = log

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._cond:
                self._lines.append(raw.decode().strip())
                self._cond.notify_all()

    def expect(self, word: str, within: float) -> str:
        """The next line starting with `word` (consumed), within `within` seconds."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                for index, line in enumerate(self._lines):
                    if line.split(" ", 1)[0] == word:
                        del self._lines[index]
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    raise TimeoutError(f"the child did not say {word!r} within {within} s:\n{tail}")
                self._cond.wait(min(left, 0.5))

    def command(self, word: str, answer: str, within: float = 5.0) -> float:
        """Send `word`; the monotonic time the child stamped in its `answer`."""
        assert self.process.stdin is not None
        self.process.stdin.write(word.encode() + b"\n")
        self.process.stdin.flush()
        return float(self.expect(answer, within).split()[1])

    def expect_answer(self, word: str, within: float = 5.0) -> str:
        """Send `word` (a query); the value the child answered with."""
        assert self.process.stdin is not None
        self.process.stdin.write(word.encode() + b"\n")
        self.process.stdin.flush()
        return self.expect(word, within).split(" ", 1)[1]

    def cpu_s(self) -> float:
        """User + system CPU of the child so far, in seconds."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """The child's resident set, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        """Ask the child to quit; kill it if it does not within 10 s."""
        with contextlib.suppress(BrokenPipeError, OSError):
            assert self.process.stdin is not None
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


def drive_from_stdin(
    pin: Any,
    on_quit: Callable[[], object],
    queries: Mapping[str, Callable[[], float | None]] | None = None,
) -> threading.Thread:
    """In the child: a thread turning `press`/`release` lines into mock pin edges.

    The pin is driven from this thread, as gpiozero's own threads would report a real edge;
    the stamp is taken just before the edge. A pulled-up button reads low while pressed.
    A line naming one of `queries` is answered with the name and the query's value.
    """
    asked = dict(queries or {})
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def run() -> None:
        for raw in sys.stdin:
            word = raw.strip()
            if word == "press":
                t = time.monotonic()
                pin.drive_low()
                say(f"pressed {t:.6f}")
            elif word == "release":
                t = time.monotonic()
                pin.drive_high()
                say(f"released {t:.6f}")
            elif word in asked:
                say(f"{word} {asked[word]()}")
            elif word == "quit":
                break
        on_quit()

    thread = threading.Thread(target=run, name="bench-finger", daemon=True)
    thread.start()
    return thread


def announce(line: str) -> None:
    """In the child: one line to the parent."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
