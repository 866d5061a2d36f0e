"""Fixtures for integration tests: a started Live API emulator and SDK clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types

from talkbox.emulator import Emulator, EmulatorOptions, EmulatorThread

MakeEmulator = Callable[..., Awaitable[Emulator]]
ClientFor = Callable[..., genai.Client]


@pytest.fixture
async def make_emulator() -> AsyncIterator[MakeEmulator]:
    """A factory: `await make_emulator(**EmulatorOptions fields)` -> a started Emulator.

    Answers are sent as possible unless `realtime=True` is passed; every emulator
    made is stopped at teardown.
    """
    started: list[Emulator] = []

    async def make(**options: Any) -> Emulator:
        options.setdefault("realtime", False)
        emulator = Emulator(EmulatorOptions(**options))
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    failures = []
    for emulator in reversed(started):
        await emulator.stop()
        failures += [r.message for r in emulator.log.events("emulator_error")]
    # An exception inside the emulator is a bug there, whatever the test itself checked.
    assert not failures, failures


@pytest.fixture
async def emulator(make_emulator: MakeEmulator) -> Emulator:
    """A started emulator with default options (fast answers, key `emu-test-key`)."""
    return await make_emulator()


@pytest.fixture
def make_emulator_thread() -> Iterator[Callable[..., EmulatorThread]]:
    """A factory for synchronous tests: `make_emulator_thread(**options)` -> started thread."""
    started: list[EmulatorThread] = []

    def make(**options: Any) -> EmulatorThread:
        options.setdefault("realtime", False)
        emulator = EmulatorThread(EmulatorOptions(**options))
        emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in reversed(started):
        emulator.stop()
    failures = [r.message for e in started for r in e.log.events("emulator_error")]
    assert not failures, failures


@pytest.fixture
def client_for() -> ClientFor:
    """A factory: `client_for(emulator, api_key=..., api_version=...)` -> genai.Client."""

    def make(
        emulator: Any,
        *,
        api_key: str = "emu-test-key",
        api_version: str = "v1beta",
        trailing_slash: bool = False,
        **client_args: Any,
    ) -> genai.Client:
        base_url = emulator.base_url + ("/" if trailing_slash else "")
        return genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=api_version,
                async_client_args={"ssl": emulator.client_ssl_context(), **client_args},
            ),
        )

    return make
