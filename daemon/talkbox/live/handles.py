"""StoredConversation identity and the resumption handle store (one small JSON file, atomic, aged).

A `StoredConversation` is what the link continues across connections: an id, how many turns it
answered, the newest resumption handle and when it came, and the context size last
reported. The `HandleStore` keeps its handle across restarts; with `background=True` (the
link's) its writes and removals run on a thread of their own, newest first, so the two fsyncs
of a save (8 / 12 ms p50 / p95 measured on a VM, more on an SD card) never stall the event loop
that carries the audio; `flush()` waits for them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

# The service keeps a handle for 2 h after the last connection closed; the margin covers clock
# drift and the time a reconnect takes, so a handle we try is one the service still has.
HANDLE_LIFETIME_S: float = 2 * 3600 - 5 * 60
# Wall clocks step back a little under NTP; more than this means the age cannot be trusted.
CLOCK_STEP_TOLERANCE_S = 5.0
HANDLE_FILE_NAME = "resumption.json"
# A temp file this old was left by a crash, not by a save in progress in another process.
STALE_TEMP_S = 60.0
_FORMAT_VERSION = 1
# A handle file is a few hundred bytes; anything much larger is not one of ours and is not
# read whole. Real handles are opaque tokens far below the cap on their length.
MAX_FILE_BYTES = 64 * 1024
MAX_HANDLE_CHARS = 16 * 1024
# StoredConversation ids become part of file names (answers) and of log lines: letters, digits,
# `-` and `_` only, short. Ours are 12 hex digits (new_conversation_id).
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Where a stored handle that fails its checks is set aside (the newest one only).
SET_ASIDE_SUFFIX = ".rejected"


class _Unusable(Exception):
    """The handle file is there but fails a check; the message says which."""


def handle_max_age(conversation_timeout_s: float) -> float:
    """The age beyond which a stored handle is not tried: the sooner of both limits."""
    return min(HANDLE_LIFETIME_S, conversation_timeout_s)


def too_old(age_s: float, max_age_s: float) -> bool:
    """Whether a handle this old is past trying (the one age rule, stored or in memory)."""
    return age_s > max_age_s


@dataclass(frozen=True)
class StoredHandle:
    """A resumption handle with the conversation it continues and when it was received."""

    handle: str
    conversation_id: str
    saved_at: float
    turns: int


class _HandleFile(BaseModel):
    """The on-disk format; strict so that a damaged file is recognised, not half-believed."""

    model_config = ConfigDict(strict=True, extra="forbid")

    version: int = Field(ge=_FORMAT_VERSION, le=_FORMAT_VERSION)
    handle: str = Field(min_length=1, max_length=MAX_HANDLE_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")
    conversation_id: str = Field(pattern=CONVERSATION_ID_PATTERN)
    saved_at: float = Field(allow_inf_nan=False)
    turns: int = Field(ge=0, le=10**9)


class _Writer:
    """A thread doing a store's writes in order; a newer write replaces one not yet begun."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: Callable[[], None] | None = None
        self._busy = False
        self._thread: threading.Thread | None = None

    def submit(self, write: Callable[[], None]) -> None:
        with self._cond:
            # Only the newest state of the file matters: a save or removal not yet begun
            # is replaced, not queued behind.
            self._pending = write
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="handle-writer", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None)
                write, self._pending = self._pending, None
                self._busy = True
            try:
                assert write is not None
                write()
            except Exception:  # a bug must not end the thread that keeps the handle
                log.exception("saving the resumption handle failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class HandleStore:
    """Keeps the newest resumption handle in `directory` across restarts."""

    def __init__(self, directory: Path, *, max_age_s: float, background: bool = False) -> None:
        """Store in `directory`; with `background` writes run on a thread (see `flush`)."""
        self.directory = directory
        self.path = directory / HANDLE_FILE_NAME
        self.max_age_s = max_age_s
        self._writer = _Writer() if background else None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every save and clear asked for is on disk; False if `timeout` ran out."""
        return True if self._writer is None else self._writer.flush(timeout)

    def load(self, *, now: float | None = None) -> StoredHandle | None:
        """The stored handle if there is one young enough to try, else None."""
        self.flush()
        self._remove_stale_temps()
        try:
            raw = self._read()
        except FileNotFoundError:
            return None
        except _Unusable as exc:
            self._set_aside(str(exc))
            return None
        except OSError as exc:
            # Only the disk's trouble: an unreadable handle costs the old conversation, and
            # a fresh one keeps the appliance working.
            log.warning(
                "cannot read resumption handle %s (%s); starting fresh", self.path, exc.strerror
            )
            return None
        try:
            data = _HandleFile.model_validate_json(raw)
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            self._set_aside(
                f"{exc.error_count()} problems" + (f" in {', '.join(fields)}" if fields else "")
            )
            return None
        stored = StoredHandle(
            handle=data.handle,
            conversation_id=data.conversation_id,
            saved_at=data.saved_at,
            turns=data.turns,
        )
        current = time.time() if now is None else now
        age = current - stored.saved_at
        if age < -CLOCK_STEP_TOLERANCE_S:
            log.info(
                "not resuming conversation %s: its handle is dated %.0f s in the future "
                "(the clock was changed)",
                stored.conversation_id,
                -age,
            )
            self.clear()
            return None
        if too_old(age, self.max_age_s):
            log.info(
                "not resuming conversation %s: its handle is %.0f s old (limit %.0f s)",
                stored.conversation_id,
                age,
                self.max_age_s,
            )
            self.clear()
            return None
        return stored

    def _read(self) -> bytes:
        """The file's bytes, only if it is a regular file of a sane size (_Unusable if not)."""
        # O_NOFOLLOW: a symlink (to /dev/zero, say) is not followed; O_NONBLOCK: a FIFO
        # opens at once instead of waiting for a writer, and is then refused for its type.
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _Unusable("it is a symbolic link") from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _Unusable("it is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise _Unusable(f"it is {info.st_size} bytes (at most {MAX_FILE_BYTES})")
            # Read no more than the cap even if the file grows meanwhile.
            raw = os.read(fd, MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_FILE_BYTES:
            raise _Unusable(f"it is over {MAX_FILE_BYTES} bytes")
        return raw

    def _set_aside(self, problem: str) -> None:
        """Rename a stored handle that failed its checks, with one WARNING; fresh start."""
        aside = self.path.with_name(self.path.name + SET_ASIDE_SUFFIX)
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            # A directory in the way, a read-only disk: out of the way is what matters.
            log.warning(
                "resumption handle %s fails its checks (%s) and cannot be set aside (%s); "
                "starting a fresh conversation",
                self.path,
                problem,
                exc.strerror,
            )
            return
        log.warning(
            "resumption handle %s fails its checks (%s); set aside as %s, starting a fresh "
            "conversation",
            self.path,
            problem,
            aside.name,
        )

    def save(self, stored: StoredHandle) -> None:
        """Replace the stored handle atomically; on failure log a warning and keep the old one."""
        if self._writer is not None:
            self._writer.submit(lambda: self._save(stored))
        else:
            self._save(stored)

    def _save(self, stored: StoredHandle) -> None:
        payload = _HandleFile(
            version=_FORMAT_VERSION,
            handle=stored.handle,
            conversation_id=stored.conversation_id,
            saved_at=stored.saved_at,
            turns=stored.turns,
        ).model_dump_json()
        tmp_name: str | None = None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file with mode 0600 whatever the umask: the handle lets anyone
            # holding it continue the conversation.
            fd, tmp_name = tempfile.mkstemp(
                dir=self.directory, prefix=f".{HANDLE_FILE_NAME}.", suffix=".tmp"
            )
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(payload.encode("utf-8"))
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
            tmp_name = None
            _fsync_directory(self.directory)
        except OSError as exc:
            # Losing a handle only costs the conversation after a restart; the link keeps the
            # handle in memory, so a full or read-only disk must not stop the appliance.
            log.warning("cannot save resumption handle in %s: %s", self.directory, exc)
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)

    def _remove_stale_temps(self) -> None:
        """Delete temp files a crash or power cut left between write and rename."""
        try:
            temps = list(self.directory.glob(f".{HANDLE_FILE_NAME}.*.tmp"))
        except OSError:
            # Housekeeping only; a directory that cannot be listed shows up in load/save.
            return
        for temp in temps:
            with contextlib.suppress(OSError):
                # File times are wall-clock times, whatever clock the caller passes to load().
                if time.time() - temp.stat().st_mtime > STALE_TEMP_S:
                    temp.unlink()
                    log.debug("removed %s, left by an interrupted save", temp)

    def clear(self) -> None:
        """Forget the stored handle (the next connection starts a new conversation)."""
        if self._writer is not None:
            self._writer.submit(self._clear)
        else:
            self._clear()

    def _clear(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            # The link has already forgotten the handle in memory; a stale file is retried
            # at the next start and then fails its age check or is refused (fresh start).
            log.warning("cannot remove resumption handle %s: %s", self.path, exc)


def new_conversation_id() -> str:
    """A short random id naming a conversation in logs, events and answer files."""
    return uuid.uuid4().hex[:12]


class StoredConversation:
    """The conversation the link continues: its id, turns, newest handle and context size.

    Times are wall-clock seconds, given by the caller (handles outlive the process).
    """

    def __init__(self, store: HandleStore | None, *, max_age_s: float, resume: bool) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.resume = resume
        self.id = new_conversation_id()
        self.turns = 0
        """How many turns the conversation has answered."""
        self.handle: str | None = None
        self.saved_at = 0.0
        self.prompt_tokens: int | None = None
        """The prompt size last reported: a smaller one means the context was compressed."""

    def load(self, *, now: float) -> None:
        """Continue the stored conversation, if the store has one young enough."""
        if self.store is None or self.handle is not None:
            return
        # The store checks the age (and clock steps) of what it loads.
        stored = self.store.load(now=now)
        if stored is None:
            return
        self.handle = stored.handle
        self.saved_at = stored.saved_at
        self.id = stored.conversation_id
        self.turns = stored.turns

    def usable_handle(self, *, now: float) -> str | None:
        """The handle to resume with, or None (a handle too old is forgotten here)."""
        if self.handle is None or not self.resume:
            return None
        age = now - self.saved_at
        if too_old(age, self.max_age_s):
            log.info("conversation %s is %.0fs old; starting a fresh one", self.id, age)
            self.forget()
            return None
        return self.handle

    def adopt(self, handle: str, *, now: float) -> None:
        """Keep `handle` as the newest, in memory and in the store."""
        self.handle = handle
        self.saved_at = now
        if self.store is None:
            return
        stored = StoredHandle(
            handle=handle, conversation_id=self.id, saved_at=now, turns=self.turns
        )
        # Handed to the store here, not to a task: a save in a task could be cancelled by the
        # very rotation this handle makes possible (a background store's thread is not).
        self.store.save(stored)

    def forget(self) -> None:
        """Leave this conversation: a new id, no turns, no handle (stored or in memory)."""
        self.handle = None
        self.saved_at = 0.0
        self.id = new_conversation_id()
        self.turns = 0
        self.prompt_tokens = None
        if self.store is not None:
            self.store.clear()

    def connected_fresh(self) -> tuple[str, int] | None:
        """A connection began without a handle; (old id, turns) if that left this conversation.

        The service keeps nothing of a session whose connection ended before it sent a
        handle: turns answered there are gone, so what follows is a fresh conversation (new
        id, numbering from 1, no context size to compare with).
        """
        self.prompt_tokens = None
        if self.turns == 0:
            return None
        old = (self.id, self.turns)
        self.forget()
        return old

    def context_shrank(self, prompt_tokens: int) -> int | None:
        """Record a reported prompt size; the previous one when the context was compressed."""
        previous = self.prompt_tokens
        self.prompt_tokens = prompt_tokens
        if previous is not None and prompt_tokens < previous:
            return previous
        return None


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: without it a power cut can bring the old file back."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
