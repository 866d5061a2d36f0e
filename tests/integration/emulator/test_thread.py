"""EmulatorThread: the same API from synchronous code, the emulator on its own loop."""

from __future__ import annotations

import asyncio
import threading

from google import genai
from google.genai import types

from talkbox.emulator import EmulatorOptions, EmulatorThread

MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


def test_a_synchronous_caller_can_run_a_turn_against_the_thread() -> None:
    with EmulatorThread(EmulatorOptions(realtime=False)) as emulator:
        assert emulator.ca_file.is_file()
        fault = emulator.arm("close:preset=internal@turn=2")
        client = genai.Client(
            api_key="emu-test-key",
            http_options=types.HttpOptions(
                base_url=emulator.base_url,
                api_version="v1beta",
                async_client_args={"ssl": emulator.client_ssl_context()},
            ),
        )

        async def talk() -> int:
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_realtime_input(text="hi")
                async with asyncio.timeout(10):
                    return len([m async for m in session.receive()])

        assert asyncio.run(talk()) > 3
        emulator.log.wait_for_sync(lambda log: bool(log.closes()), timeout=10)
        assert emulator.log.closes()[0].message["by"] == "client"
        assert fault.fired == 0
    assert not any(t.name == "talkbox-emulator" for t in threading.enumerate())
