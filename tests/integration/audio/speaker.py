"""A speaker stand-in: drain FIFO argv[1] into file argv[2] at argv[3] Hz mono S16_LE, in real time.

Run as a subprocess: pcm.drop() on the file plugin flushes into the FIFO while holding the
GIL, so a reader thread in the test process could deadlock against it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

F_SETPIPE_SZ = 1031


def main() -> None:
    fifo, out_path, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # A small pipe keeps the writer within ~85 ms of what has been "played". It must be set
    # before the writer fills it: open without waiting for one, resize, then wait for it.
    early = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(early, F_SETPIPE_SZ, 4096)
    period = rate // 50 * 2  # 20 ms
    # Creating the output file tells the test the speaker is ready.
    with open(out_path, "ab", buffering=0) as out:
        fd = os.open(fifo, os.O_RDONLY)
        os.close(early)
        start = time.monotonic()
        played = 0
        while True:
            data = os.read(fd, period)
            if not data:
                return
            out.write(data)
            played += len(data)
            if time.monotonic() - (start + played / (2 * rate)) > 0.1:
                # Idle for a while (nothing written): like a device, restart the clock.
                start = time.monotonic() - played / (2 * rate)
            time.sleep(max(0.0, start + played / (2 * rate) - time.monotonic()))


if __name__ == "__main__":
    main()
