"""`talkbox run`'s core: the appliance until SIGTERM or SIGINT, then a clean stop.

    exit_code = asyncio.run(serve(settings, open_parts))

A signal asks the appliance to stop (`Appliance.stop`); leaving its context says STOPPING=1,
cancels its tasks, turns the LED off and releases the pins and devices, so the daemon exits
0 well within systemd's stop timeout. A task failing ends the appliance with that error.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from talkbox.app import Appliance, OpenParts
from talkbox.config import Settings
from talkbox.control import socket_path
from talkbox.errors import ExitCode
from talkbox.live.backoff import RetryPolicy
from talkbox.systemd import Notifier

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(
    settings: Settings,
    open_parts: OpenParts,
    *,
    notifier: Notifier | None = None,
    control_socket: Path | None = None,
    policy: RetryPolicy | None = None,
) -> int:
    """Run the appliance until SIGTERM/SIGINT; returns the exit code."""
    loop = asyncio.get_running_loop()
    appliance = Appliance(
        settings,
        open_parts,
        control_socket=control_socket or socket_path(),
        notifier=notifier or Notifier.from_environ(),
        policy=policy,
    )
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, appliance.stop)
    try:
        async with appliance:
            await appliance.stopped()
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
    return ExitCode.OK
