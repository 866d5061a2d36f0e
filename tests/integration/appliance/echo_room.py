"""A room for the ALSA stand-ins: what the speaker plays comes back into the microphone.

Run as a subprocess (`python echo_room.py SPEAKER_FIFO MIC_FIFO`): `drop()` on the file
plugin flushes into the speaker FIFO holding the GIL, so its reader must be another process.
Every 20 ms it takes the next 20 ms of what the speaker FIFO holds (24 kHz; silence if it
holds less), passes it through the echo path (soft clipping, down to 16 kHz, a short decaying
impulse response after a direct sound, `DELAY_S`, `ECHO_GAIN`), adds what the test says and
writes the sum into the microphone FIFO. Lines on stdin name raw 16 kHz files to say (mixed
in from the next period on); "ready" on stdout once both FIFOs are open, so the PCMs' opens
do not block (docs/platform.md §2.4). Ends when stdin closes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soxr

PERIOD_S = 0.02
SPEAKER_RATE, MIC_RATE = 24_000, 16_000
SPEAKER_BYTES, MIC_BYTES = 960, 640
DELAY_S = 0.02
"""Between the speaker's FIFO and the microphone: converters and air, beyond the pipe's."""
ECHO_GAIN = 0.5
"""The echo's level at the microphone against the speaker's (about -6 dB)."""
F_SETPIPE_SZ = 1031


def impulse_response() -> np.ndarray:
    """A direct sound and a 40 ms decay of reflections (seeded): a small box in a room."""
    rng = np.random.default_rng(18)
    n = round(0.12 * MIC_RATE)
    t = np.arange(n) / MIC_RATE
    ir = 0.3 * rng.normal(size=n) * np.exp(-t / 0.04)
    ir[0] = 1.0
    ir = np.concatenate([np.zeros(round(DELAY_S * MIC_RATE)), ir])
    return ir / np.sqrt(np.sum(ir**2))


def main(speaker_fifo: Path, mic_fifo: Path) -> None:
    for fifo in (speaker_fifo, mic_fifo):
        if not fifo.exists():
            os.mkfifo(fifo)
    speaker = os.open(speaker_fifo, os.O_RDONLY | os.O_NONBLOCK)
    # Larger than what the daemon writes ahead (8 periods, 160 ms = 7.5 KB at 24 kHz): a full
    # pipe blocks its writes, and its count of what is still to play parts from what this
    # room plays; a sound card's buffer fill, which ALSA reports, does not.
    fcntl.fcntl(speaker, F_SETPIPE_SZ, 65536)
    mic = os.open(mic_fifo, os.O_RDWR | os.O_NONBLOCK)
    lock = threading.Lock()
    speech = bytearray()
    done = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            path = line.strip()
            if path:
                pcm = Path(path).read_bytes()
                with lock:
                    speech.extend(pcm[: len(pcm) - len(pcm) % MIC_BYTES])
        done.set()

    threading.Thread(target=listen, daemon=True).start()
    print("ready", flush=True)
    ir = impulse_response()
    down = soxr.ResampleStream(SPEAKER_RATE, MIC_RATE, 1, dtype="float32")
    tail = np.zeros(len(ir) - 1)
    pending = b""
    heard = np.zeros(0, dtype=np.float32)
    start = time.monotonic()
    ticks = 0
    while not done.is_set():
        with contextlib.suppress(BlockingIOError):
            pending += os.read(speaker, SPEAKER_BYTES - len(pending))
        played = pending[: len(pending) - len(pending) % 2]
        pending = pending[len(played) :]
        out = np.frombuffer(played, dtype="<i2").astype(np.float32) / 32768
        out = np.concatenate([out, np.zeros(SPEAKER_BYTES // 2 - len(out), dtype=np.float32)])
        clipped = (np.tanh(1.2 * out) / np.tanh(1.2)).astype(np.float32)
        heard = np.concatenate([heard, down.resample_chunk(clipped)])
        block, heard = heard[: MIC_BYTES // 2], heard[MIC_BYTES // 2 :]
        block = np.concatenate([block, np.zeros(MIC_BYTES // 2 - len(block))])
        echoed = np.convolve(block, ir)
        echoed[: len(tail)] += tail
        tail = echoed[MIC_BYTES // 2 :]
        echo = echoed[: MIC_BYTES // 2] * ECHO_GAIN * 32768
        with lock:
            said = bytes(speech[:MIC_BYTES])
            del speech[:MIC_BYTES]
        if said:
            echo = echo + np.frombuffer(said, dtype="<i2")
        frame = np.clip(np.rint(echo), -32768, 32767).astype("<i2").tobytes()
        # A full pipe (nobody reading) drops the period instead of blocking.
        with contextlib.suppress(BlockingIOError):
            os.write(mic, frame)
        ticks += 1
        time.sleep(max(0.0, start + ticks * PERIOD_S - time.monotonic()))
    os.close(mic)
    os.close(speaker)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
