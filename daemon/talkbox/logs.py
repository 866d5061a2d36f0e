"""Logging setup: plain timestamped lines in a terminal, `<N>` priorities under journald.

Under systemd each stderr line becomes a journal entry whose priority comes from a leading
`<N>` (docs/platform.md §5.5), so `journalctl -u talkbox -p warning` shows exactly the
problems. Uncaught exceptions in any thread are logged as CRITICAL, since a raw traceback on
stderr would land at priority 6 and hide from `-p warning`. Known secrets are masked in every
line, tracebacks included.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TextIO

#: syslog priorities by logging level (sd-daemon(3)): err 3, warning 4, info 6, debug 7.
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
MASK = "********"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The journal stamps each entry itself; the level is in the priority.
JOURNAL_FORMAT = "%(name)s: %(message)s"

log = logging.getLogger("talkbox")


def priority(level: int) -> int:
    """The syslog priority of a logging level (levels in between round towards the worse)."""
    for threshold in sorted(PRIORITIES, reverse=True):
        if level >= threshold:
            return PRIORITIES[threshold]
    return PRIORITIES[logging.DEBUG]


def under_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journal stream systemd named in JOURNAL_STREAM (`dev:inode`)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's StringIO): not the journal
        return False
    # A stderr redirected by hand under systemd is not the journal: no prefixes there.
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


class Redactor:
    """Masks known secrets in text; one rule for every log line and every command's output."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on (values too short to be secrets are ignored)."""
        # A one- or two-character "secret" would mask every such letter in every line.
        if len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        """`text` with every known secret replaced by the mask, longest first."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class TalkboxFormatter(logging.Formatter):
    """Formats records as plain lines or with a `<N>` priority on every line; masks secrets."""

    def __init__(self, *, journal: bool, redact: Redactor) -> None:
        super().__init__(JOURNAL_FORMAT if journal else PLAIN_FORMAT)
        self.journal = journal
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record's lines, masked, each prefixed by its priority under the journal."""
        text = self.redact(super().format(record))
        if not self.journal:
            return text
        prefix = f"<{priority(record.levelno)}>"
        # Each line is its own journal entry: a traceback keeps the record's priority.
        return "\n".join(prefix + line for line in text.splitlines() or [""])


#: The process's one redactor: configure_logging's secrets, and any added later.
REDACTOR = Redactor()


def say(text: str, *, stream: TextIO | None = None, level: int = logging.ERROR) -> None:
    """Print a command's line for a person: masked, and with its priority under the journal.

    A config error printed by `talkbox run` is as much a problem as a logged one, so under
    systemd it must reach `journalctl -p warning` too (an unprefixed line is info).
    """
    out = sys.stderr if stream is None else stream
    line = REDACTOR(text)
    if under_journal(out):
        line = "\n".join(f"<{priority(level)}>{part}" for part in line.splitlines() or [""])
    print(line, file=out)


def configure_logging(
    level: str = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send talkbox's and the libraries' logs to `stream` (stderr) and hook uncaught errors."""
    out = sys.stderr if stream is None else stream
    for secret in secrets:
        REDACTOR.add(secret)
    handler = logging.StreamHandler(out)
    handler.setFormatter(TalkboxFormatter(journal=under_journal(out, environ), redact=REDACTOR))
    root = logging.getLogger()
    # Replaces an earlier setup (a second command in one process, tests) instead of doubling it.
    for old in [h for h in root.handlers if isinstance(h.formatter, TalkboxFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # websockets logs every connection open/close at INFO; talkbox logs its own one line per
    # connection event, so the library's lines would only double them.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return handler


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    log.critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
