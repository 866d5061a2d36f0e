"""Helpers for the link's integration tests: settings pointing at an emulator, event capture."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from talkbox.config import Settings, load_settings
from talkbox.emulator import Emulator
from talkbox.events import LinkEvent
from talkbox.live.backoff import RetryPolicy
from talkbox.live.link import LiveLink

E = TypeVar("E")

# Backoff in fractions of a second so failure tests finish quickly; the shape is the real one.
FAST_POLICY = RetryPolicy(
    base_s=0.05,
    cap_s=0.4,
    quota_base_s=0.2,
    quota_cap_s=0.8,
    fatal_retry_s=30.0,
    stable_after_s=5.0,
)


def emulator_settings(emu: Emulator, state_dir: Path, **overrides: Any) -> Settings:
    """Settings that connect to `emu` with its test CA and keep state in `state_dir`."""
    values: dict[str, Any] = {
        "api_key": "emu-test-key",
        "base_url": emu.base_url,
        "ca_file": emu.ca_file,
        "state_dir": state_dir,
    }
    values.update(overrides)
    return load_settings(None, **values)


class Recorder:
    """Collects the link's events; tests wait on them with a bound."""

    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: LinkEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, kind: type[E], predicate: Callable[[E], bool] = lambda _: True, within: float = 10.0
    ) -> E:
        """The first event of `kind` matching `predicate`, waiting at most `within` s."""
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    if isinstance(event, kind) and predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def running(link: LiveLink) -> AsyncIterator[LiveLink]:
    """Run the link for the duration of the block."""
    task = asyncio.create_task(link.run(), name="live-link")
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
