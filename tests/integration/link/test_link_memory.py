"""An ended connection is freed at once, not left for the cycle collector."""

from __future__ import annotations

import gc
from pathlib import Path

from websockets.asyncio.client import ClientConnection

from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.events import TurnCompleted
from talkbox.live.link import LiveLink

from .conftest import FAST_POLICY, emulator_settings


def client_connections() -> int:
    """How many websocket client connections exist, reachable or not."""
    return sum(1 for o in gc.get_objects() if type(o) is ClientConnection)


async def test_connections_ended_by_goaway_or_a_drop_do_not_pile_up(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False, log_audio=False)) as emu:
        for turn in (1, 2, 3):
            emu.arm(f"goaway:time_left=0.5,then=close@turn={turn}")
        emu.arm("abort@turn=4")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        gc.collect()
        # Without the collector, only refcounting frees an ended connection (a daemon's full
        # collections are rare): a cycle through one would keep it, TLS buffer and all.
        gc.disable()
        try:
            async with run_in_background(link):
                for n in range(6):
                    turn_id = link.send_text(f"turn {n}")
                    await recorder.wait_for(TurnCompleted, lambda e, t=turn_id: e.turn_id == t)
                alive = client_connections()
        finally:
            gc.enable()
        handshakes = len(emu.log.events("handshake"))
    assert handshakes >= 5
    assert alive <= 1
