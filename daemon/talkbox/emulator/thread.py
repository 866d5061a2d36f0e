"""EmulatorThread: the emulator on its own event loop in a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from talkbox.emulator.faults import Fault
from talkbox.emulator.log import EventLog
from talkbox.emulator.options import EmulatorOptions
from talkbox.emulator.server import Emulator

_START_TIMEOUT_S = 10.0

T = TypeVar("T")


class EmulatorThread:
    """The same object API as `Emulator`, for synchronous tests, subprocesses and benchmarks."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        """Prepare; `start()` (or `with`) runs it."""
        self.emulator = Emulator(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="talkbox-emulator", daemon=True)

    def start(self) -> None:
        """Start the thread and wait until the emulator listens (errors are re-raised here)."""
        self._thread.start()
        self._ready.result(timeout=_START_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the emulator and join the thread."""
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=_START_TIMEOUT_S)

    def __enter__(self) -> EmulatorThread:
        """Start; stopped when the block ends."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.emulator.start()
        except OSError as exc:
            # Handed to the thread that called start(), which raises it.
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            await self._stopping.wait()
        finally:
            await self.emulator.stop()

    @property
    def options(self) -> EmulatorOptions:
        """The emulator's options."""
        return self.emulator.options

    @property
    def log(self) -> EventLog:
        """The event log (records are appended from the emulator thread)."""
        return self.emulator.log

    @property
    def port(self) -> int:
        """The TCP port."""
        return self.emulator.port

    @property
    def base_url(self) -> str:
        """`https://HOST:PORT`."""
        return self.emulator.base_url

    @property
    def ca_file(self) -> Path:
        """The CA PEM path."""
        return self.emulator.ca_file

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the emulator's CA."""
        return self.emulator.client_ssl_context()

    def arm(self, fault: Fault | str) -> Fault:
        """Arm a fault on the emulator's own loop; returns it (a bad spec raises here)."""
        return self._on_loop(lambda: self.emulator.arm(fault))

    def disarm_all(self) -> None:
        """Forget every armed fault (on the emulator's loop)."""
        self._on_loop(self.emulator.disarm_all)

    def _on_loop(self, call: Callable[[], T]) -> T:
        """Run `call` on the emulator's loop and return its result or raise its error here."""
        if self._loop is None:
            raise RuntimeError("the emulator thread is not started")

        async def there() -> T:
            return call()

        future = asyncio.run_coroutine_threadsafe(there(), self._loop)
        return future.result(timeout=_START_TIMEOUT_S)
