"""A speaker stand-in: drain FIFO argv[1] in real time at argv[3] Hz mono S16_LE, logging reads.

Each read is logged to argv[2] as `monotonic_time bytes waiting_before peak`: when it returned
(for a read that waited on an empty pipe, when the bytes arrived), how much it took, how much
the pipe held just before, and the loudest sample. Reads are 5 ms of audio, so a write into
the FIFO is seen within 5 ms. Modelled on tests/integration/audio/speaker.py.
"""

from __future__ import annotations

import array
import fcntl
import os
import sys
import termios
import time

F_SETPIPE_SZ = 1031
TICK_S = 0.005


def main() -> None:
    fifo, log_path, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # A small pipe keeps the writer within ~85 ms of what has been "played"; it must be
    # resized before a writer fills it.
    early = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(early, F_SETPIPE_SZ, 4096)
    chunk = int(rate * TICK_S) * 2
    waiting = array.array("i", [0])
    with open(log_path, "w", buffering=1, encoding="ascii") as log:
        fd = os.open(fifo, os.O_RDONLY)
        os.close(early)
        start = time.monotonic()
        played = 0
        while True:
            fcntl.ioctl(fd, termios.FIONREAD, waiting)
            data = os.read(fd, chunk)
            now = time.monotonic()
            if not data:
                return
            samples = array.array("h", data[: len(data) - len(data) % 2])
            peak = max((abs(s) for s in samples), default=0)
            log.write(f"{now:.6f} {len(data)} {waiting[0]} {peak}\n")
            played += len(data)
            if now - (start + played / (2 * rate)) > 0.1:
                # Idle for a while (nothing written): like a device, restart the clock.
                start = now - played / (2 * rate)
            time.sleep(max(0.0, start + played / (2 * rate) - time.monotonic()))


if __name__ == "__main__":
    main()
