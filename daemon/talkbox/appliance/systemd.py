"""sd_notify: tell systemd we are ready, what we are doing, that we are alive, that we stop.

A few lines over the datagram socket named by `NOTIFY_SOCKET` (docs/platform.md §5.1), rather
than a library: `sdnotify` swallows every error and `systemd-python` needs a C build.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


def _address(raw: str) -> str | None:
    """The socket address of a NOTIFY_SOCKET value: a path, or `@name` for an abstract socket."""
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # systemd also allows vsock addresses for VMs; a Pi service never gets one.
    return None


@dataclass(frozen=True, slots=True)
class Notifier:
    """Sends sd_notify messages when running under systemd; does nothing otherwise."""

    address: str | None
    watchdog_s: float | None
    """Half of WATCHDOG_USEC when the watchdog is on for this process: how often to ping."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier the environment describes (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)."""
        env = os.environ if environ is None else environ
        address = _address(env.get("NOTIFY_SOCKET", ""))
        watchdog_s: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child must not ping.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog_s = int(usec) / 2e6
        return cls(address=address, watchdog_s=watchdog_s)

    @property
    def active(self) -> bool:
        """Whether a notify socket was given."""
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        """Send one message of `lines`; False when there is no socket or the send failed."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode("utf-8"))
        except OSError as exc:
            # systemd gone or restarting: the daemon goes on; the watchdog will say if it matters.
            log.debug("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """READY=1 with a first STATUS line."""
        return self.notify("READY=1", f"STATUS={_one_line(status)}")

    def status(self, status: str) -> bool:
        """STATUS=, shown by `systemctl status talkbox`."""
        return self.notify(f"STATUS={_one_line(status)}")

    def watchdog(self) -> bool:
        """WATCHDOG=1: the daemon made progress since the last ping."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """STOPPING=1: shutting down on purpose."""
        return self.notify("STOPPING=1", "STATUS=stopping")


def _one_line(text: str) -> str:
    """A status fit for one STATUS= line: newlines would end the field."""
    return " ".join(text.split())


async def feed_watchdog(
    notifier: Notifier, knock: Callable[[], None], stuck: Callable[[], str | None]
) -> None:
    """Ping systemd's watchdog each interval while `stuck()` names no part; warn once a stall."""
    interval = notifier.watchdog_s
    if interval is None:
        return
    stalled = False
    while True:
        # The control task proves itself by taking the knock from its queue, not by applying
        # frames: without a microphone there are none, and that is no hang.
        knock()
        await asyncio.sleep(interval)
        part = stuck()
        if part is None:
            notifier.watchdog()
            stalled = False
        elif not stalled:
            stalled = True
            log.warning("no watchdog ping: %s made no progress", part)


def stuck_part(
    *, frames: Callable[[], int], beats: Callable[[], int], mic_away: Callable[[], bool]
) -> Callable[[], str | None]:
    """The watchdog's question: which part made no progress since it was last asked."""
    seen = [frames(), beats()]

    def stuck() -> str | None:
        now = [frames(), beats()]
        capture_ok = now[0] > seen[0] or mic_away()
        control_ok = now[1] > seen[1]
        seen[:] = now
        # The control task takes the frames too: a stuck one stops both.
        if not control_ok:
            return "the control task"
        return None if capture_ok else "the capture thread"

    return stuck
