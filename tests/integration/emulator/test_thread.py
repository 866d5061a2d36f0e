"""EmulatorThread: the same API from synchronous code, the emulator on its own loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from google.genai import errors

from talkbox.emulator import EmulatorOptions, EmulatorThread

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


async def talk(client: Any, turns: int = 1) -> int:
    async with client.aio.live.connect(model=MODEL) as session:
        count = 0
        for n in range(turns):
            await session.send_realtime_input(text=f"hi {n}")
            async with asyncio.timeout(10):
                count += len([m async for m in session.receive()])
        return count


def test_a_synchronous_caller_can_run_a_turn_against_the_thread(client_for: Any) -> None:
    with EmulatorThread(EmulatorOptions(realtime=False)) as emulator:
        assert emulator.ca_file.is_file()
        assert asyncio.run(talk(client_for(emulator))) > 3
        emulator.log.wait_for_sync(lambda log: bool(log.closes()), timeout=10)
        assert emulator.log.closes()[0].message["by"] == "client"
    assert not any(t.name == "talkbox-emulator" for t in threading.enumerate())


def test_faults_armed_from_another_thread_fire_and_can_be_disarmed(
    make_emulator_thread: Any, client_for: Any
) -> None:
    emulator = make_emulator_thread()
    fault = emulator.arm("close:preset=internal@turn=2")
    with pytest.raises(errors.APIError) as caught:
        asyncio.run(talk(client_for(emulator), turns=2))
    assert caught.value.code == 1011
    assert fault.fired == 1
    emulator.arm("abort")
    emulator.disarm_all()
    assert asyncio.run(talk(client_for(emulator))) > 3


def test_a_bad_spec_armed_on_the_thread_raises_its_parse_error_at_once(
    make_emulator_thread: Any,
) -> None:
    emulator = make_emulator_thread()
    began = time.monotonic()
    with pytest.raises(ValueError, match="unknown fault kind"):
        emulator.arm("no_such_kind")
    # The error comes back from the emulator's loop, not after the 10 s wait.
    assert time.monotonic() - began < 5.0
    assert emulator.emulator.faults == []


def test_a_thread_that_cannot_listen_raises_from_start() -> None:
    with EmulatorThread(EmulatorOptions(port=0)) as first:
        taken = EmulatorThread(EmulatorOptions(port=first.port))
        with pytest.raises(OSError, match="address already in use"):
            taken.start()
