"""Fakes that ship with talkbox, for its tests and for anyone driving its parts by hand.

Product code, like gpiozero's MockFactory: typed, they record what was done and let a test
assert in its own words. `EventRecorder` stands in for the owner of a link's events;
`run_in_background` runs a link (or anything with `run()`) for the duration of a block.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from talkbox.events import LinkEvent

E = TypeVar("E")


def _any(_: object) -> bool:
    return True


class EventRecorder:
    """Collects the events given to it (pass it as `emit`); tests wait on them with a bound."""

    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        """Every event received, in order."""
        self._changed = asyncio.Event()

    def __call__(self, event: LinkEvent) -> None:
        """Record one event (never blocks, never raises: what `emit` must be)."""
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, kind: type[E], predicate: Callable[[E], bool] = _any, within: float = 10.0
    ) -> E:
        """The first event of `kind` matching `predicate`, waiting at most `within` s.

        Raises TimeoutError when none came in time.
        """
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    if isinstance(event, kind) and predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    def reset(self) -> None:
        """Forget the events recorded so far."""
        self.events.clear()


class Runnable(Protocol):
    """Something that runs until cancelled, as LiveLink does."""

    def run(self) -> Coroutine[Any, Any, None]:
        """Run until cancelled."""
        ...


R = TypeVar("R", bound=Runnable)


@contextlib.asynccontextmanager
async def run_in_background(part: R) -> AsyncIterator[R]:
    """Run `part.run()` as a task for the duration of the block; cancel and await it after."""
    task = asyncio.create_task(part.run(), name=f"{type(part).__name__.lower()}-background")
    try:
        yield part
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
