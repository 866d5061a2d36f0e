"""SIGTERM for the one-shot commands (`ask`, `demo`): stop as Ctrl-C does, then exit 143."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from talkbox.errors import ExitCode


async def stop_on_sigterm(
    work: Coroutine[Any, Any, int], *, stopped: Callable[[], None] | None = None
) -> int:
    """Await `work`; SIGTERM cancels it (its cleanup runs) and the result is TERMINATED.

    `stopped` is called after such a stop, e.g. to log it. Run in the main thread: elsewhere
    (an embedding caller) signals are the caller's business and `work` is simply awaited.
    """
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        if me is not None:
            me.cancel()

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        return await work
    except asyncio.CancelledError:
        if not terminated or me is None:
            raise
        me.uncancel()
        if stopped is not None:
            stopped()
        return ExitCode.TERMINATED
    finally:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)
