"""One process owns a state directory at a time: an flock on a small file inside it.

Two processes on one state dir would both resume the stored conversation (the service
refuses the second resume, which then forks off a fresh conversation) and then overwrite
each other's handle. The lock file names its holder (pid and command), so the one refused
can say who to wait for. The kernel drops an flock with its process, so a crash never
leaves a stale lock behind; the file itself stays and is reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from talkbox.errors import ConfigError, StateBusyError

LOCK_FILE_NAME = "talkbox.lock"
# Long enough for the `ask` before it to finish its turn and store the handle when two are
# run back to back from a script; short enough that someone waiting learns who holds it.
LOCK_WAIT_S = 10.0
LOCK_POLL_S = 0.05
# The holder's note is one short JSON line; more than this is not ours.
_NOTE_MAX_BYTES = 512


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a state dir's lock, as its note says."""

    pid: int | None
    command: str


def read_holder(path: Path) -> Holder:
    """The holder named in the lock file at `path` (unknown parts as None / "talkbox")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            raw = os.read(fd, _NOTE_MAX_BYTES)
        finally:
            os.close(fd)
        note = json.loads(raw)
        pid = note.get("pid")
        command = note.get("command")
    except (OSError, ValueError, AttributeError):
        return Holder(None, "talkbox")
    return Holder(
        pid if isinstance(pid, int) else None,
        command if isinstance(command, str) and command.isidentifier() else "talkbox",
    )


def busy_message(state_dir: Path, holder: Holder, *, daemon_command: str = "run") -> str:
    """The one line saying who holds `state_dir` and what to do about it."""
    who = f"talkbox {holder.command}" if holder.command != "talkbox" else "another talkbox"
    pid = f" (pid {holder.pid})" if holder.pid is not None else ""
    shown = ascii(str(state_dir))[1:-1]
    if holder.command == daemon_command:
        return (
            f"the talkbox daemon{pid} owns the state dir {shown}: send turns to the running "
            "daemon instead of starting a second talkbox on its state, or stop it first"
        )
    return f"{who}{pid} is using the state dir {shown}; try again when it has finished"


class StateLock:
    """The lock on one state dir, held from acquire() until release() (or the process ends)."""

    def __init__(self, state_dir: Path, *, command: str) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE_NAME
        self.command = command
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when held now. OSError if the dir is unusable."""
        if self._fd is not None:
            return True
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted in the state dir must not make us truncate its target.
        fd = os.open(
            self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        note = json.dumps({"pid": os.getpid(), "command": self.command, "since": time.time()})
        with contextlib.suppress(OSError):
            # Only the note for whoever is refused; the lock itself is the flock.
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode() + b"\n", 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next process have the state dir."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor drops the flock

    async def acquire(self, wait_s: float = LOCK_WAIT_S) -> None:
        """Take the lock, waiting at most `wait_s`; StateBusyError naming the holder if not."""
        deadline = time.monotonic() + wait_s
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise StateBusyError(busy_message(self.state_dir, read_holder(self.path)))
            # flock has no timeout of its own, and a blocking one in a thread cannot be
            # cancelled: poll (a few dozen times at most, only while someone else holds it).
            await asyncio.sleep(LOCK_POLL_S)


@contextlib.asynccontextmanager
async def holding(
    state_dir: Path, *, command: str, wait_s: float = LOCK_WAIT_S
) -> AsyncIterator[None]:
    """Hold the state dir's lock for the body (see StateLock.acquire)."""
    lock = StateLock(state_dir, command=command)
    try:
        await lock.acquire(wait_s)
    except OSError as exc:
        shown = ascii(str(state_dir))[1:-1]
        raise ConfigError([f"TALKBOX_STATE_DIR {shown} cannot be locked: {exc.strerror}"]) from None
    try:
        yield
    finally:
        lock.release()
