"""The real appliance in a child process for benchmarks/appliance.py, driven over stdin.

Run: python benchmarks/_talkbox_box.py BASE_URL CA_FILE STATE_DIR hold|tap|wake
`talkbox.appliance.app.Appliance` on `talkbox.appliance.hardware.hardware_parts` (ALSA PCMs
`mic` and `speaker` from ALSA_CONFIG_PATH, gpiozero's MockFactory with MockPWMPin for the
button). It says `ready` once idle and connected; `press`/`release` on stdin drive the
button's mock pin; `flushed`, `mic_frames` and `state` are answered (see `main`), and with
BENCH_TRACEMALLOC=PREFIX set, `snapshot` dumps a tracemalloc snapshot to PREFIX-N.pickle.
`wake` is tap mode listening for okay_nabu: the spoken wake word opens the turns.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPWMPin

from _common import announce, drive_from_stdin
from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.audio.alsa.capture import AlsaCapture
from talkbox.audio.format import INPUT_RATE_HZ
from talkbox.config import load_settings
from talkbox.conversation import State

BUTTON_PIN = 5
MODEL = "gemini-3.8-live"


async def main(base_url: str, ca_file: str, state_dir: str, mode: str) -> None:
    settings = load_settings(
        None,
        api_key="emu-test-key",
        base_url=base_url,
        ca_file=Path(ca_file),
        state_dir=Path(state_dir),
        model=MODEL,
        capture_device="mic",
        playback_device="speaker",
        button_mode="tap" if mode == "wake" else mode,
        wake_word="okay_nabu" if mode == "wake" else "off",
        button_pin=BUTTON_PIN,
        # The answer is the first sound after the release, and no follow-up window keeps the
        # microphone open between turns: each turn starts from the same idle state.
        earcons=False,
        follow_up_s=0,
        log_level="WARNING",
    )
    factory = MockFactory(pin_class=MockPWMPin)
    pin = factory.pin(BUTTON_PIN)
    async with Appliance(settings, hardware_parts(settings, pin_factory=factory)) as app:
        deadline = time.monotonic() + 60
        while not (app.state is State.IDLE and app.link.status().connected):
            if time.monotonic() > deadline:
                raise TimeoutError("the appliance was not idle and connected within 60 s")
            await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        playback = app.parts.speaker.playback  # type: ignore[attr-defined]

        def dropped_at() -> float | None:
            # When the playback thread called drop() for the last flush (monotonic): talkbox's
            # own delay. On the file plugin drop() then drains its buffer into the FIFO at the
            # drainer's pace; a sound card's drop() returns at once.
            requested, waited = playback._queue.flush_requested_at, playback.stats.last_flush_wait_s
            return None if requested is None or waited is None else requested + waited

        mic = app.parts.mic
        assert isinstance(mic, AlsaCapture)
        samples_per_frame = INPUT_RATE_HZ * mic.options.period_ms // 1000

        def mic_frames() -> float:
            # Frames (samples) the microphone gave so far: the bench checks the real-time rate.
            return float(mic.stats.frames * samples_per_frame)

        snapshots = os.environ.get("BENCH_TRACEMALLOC")

        def snapshot() -> float:
            # The soak's memory hunt: a tracemalloc snapshot to BENCH_TRACEMALLOC-N.pickle.
            assert snapshots is not None
            taken = len(list(Path(snapshots).parent.glob(Path(snapshots).name + "-*.pickle")))
            # Only what is still reachable: cycles awaiting the collector are not a leak.
            gc.collect()
            tracemalloc.take_snapshot().dump(f"{snapshots}-{taken}.pickle")
            return float(taken)

        queries: dict[str, Callable[[], float | None]] = {
            "flushed": dropped_at,
            "mic_frames": mic_frames,
            # The conversation's state as its index in State (the soak waits for idle).
            "state": lambda: float(list(State).index(app.state)),
        }
        if snapshots:
            queries["snapshot"] = snapshot
        drive_from_stdin(pin, lambda: loop.call_soon_threadsafe(app.stop), queries)
        announce("ready")
        await app.stopped()
    factory.reset()


if __name__ == "__main__":
    if os.environ.get("BENCH_TRACEMALLOC"):
        tracemalloc.start(12)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(*sys.argv[1:5]))
