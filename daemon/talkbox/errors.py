"""The few exception classes talkbox raises on purpose."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class TalkboxError(Exception):
    """Base class of the errors talkbox raises on purpose."""


class ConfigError(TalkboxError):
    """One or more settings are invalid; each problem names the variable and what is allowed."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UsageError(TalkboxError):
    """The command line asks for something talkbox cannot do (exit 2, one line)."""


class LiveFatalError(TalkboxError):
    """The Live service refused us in a way retrying cannot fix (bad key, unknown model, TLS)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class StateBusyError(TalkboxError):
    """Another talkbox process owns the state dir or the control socket (exit 75, one line)."""


class DaemonUnreachableError(TalkboxError):
    """`talkbox ctl` found no daemon to answer it (exit 69, one line saying where it looked)."""


class AudioDeviceError(TalkboxError):
    """An audio device is missing, busy or vanished."""


class ExitCode(IntEnum):
    """The exit codes of the talkbox commands."""

    OK = 0
    """The command did what it was asked."""
    CRASH = 1
    """An unexpected error: a bug, logged with its traceback."""
    USAGE = 2
    """The command line was wrong (argparse's own code)."""
    UNAVAILABLE = 69
    """`talkbox ctl`: no daemon answers (not running, or out of reach): EX_UNAVAILABLE."""
    BUSY = 75
    """Another process holds the state dir or the control socket: EX_TEMPFAIL, try again later."""
    CONFIG = 78
    """The configuration needs fixing: EX_CONFIG from sysexits.h, so systemd can name it."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C (128 + SIGINT), as shells report it."""
    TERMINATED = 143
    """Stopped by SIGTERM (128 + SIGTERM), after closing the connection in order."""
