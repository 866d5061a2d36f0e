"""`talkbox run`'s core: the appliance until SIGTERM, SIGINT or SIGHUP, then a clean stop.

    exit_code = asyncio.run(serve(settings, open_parts))

A signal asks the appliance to stop (`Appliance.stop`); leaving its context says STOPPING=1,
cancels its tasks, turns the LED off, releases the pins and devices and removes the control
socket, so the daemon exits 0 well within systemd's stop timeout. SIGHUP (a closed terminal,
a `kill -HUP`) stops it as SIGTERM does: its default would end the process on the spot and
leave the socket behind; talkbox has nothing to reload. A task failing ends the appliance
with that error.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from talkbox.app import Appliance, OpenParts
from talkbox.config import Settings
from talkbox.control import socket_path
from talkbox.errors import ExitCode
from talkbox.live.backoff import RetryPolicy
from talkbox.systemd import Notifier

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def serve(
    settings: Settings,
    open_parts: OpenParts,
    *,
    notifier: Notifier | None = None,
    control_socket: Path | None = None,
    policy: RetryPolicy | None = None,
) -> int:
    """Run the appliance until SIGTERM/SIGINT/SIGHUP; returns the exit code."""
    loop = asyncio.get_running_loop()
    appliance = Appliance(
        settings,
        open_parts,
        control_socket=control_socket or socket_path(),
        notifier=notifier or Notifier.from_environ(),
        policy=policy,
    )
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, _stopper(appliance, number))
    try:
        async with appliance:
            await appliance.stopped()
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
    return ExitCode.OK


def _stopper(appliance: Appliance, number: signal.Signals) -> Callable[[], None]:
    def stop() -> None:
        log.info("%s: stopping", number.name)
        appliance.stop()

    return stop
