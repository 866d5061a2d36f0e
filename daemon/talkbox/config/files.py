"""Every look at the filesystem a setting takes, one way: a failure is a Problem, not a traceback.

    text = read_text(path)  # the file's text, or Problem("/etc/x does not exist")
    found = probe(path)     # its stat, None when nothing is there, or a Problem

Whatever the OS refuses (a parent directory this user cannot search, a name over 255 bytes,
an embedded NUL byte, an unreadable $CREDENTIALS_DIRECTORY) comes back as one line naming the
path safely (`fields.shown`), so loading reports it as a problem of the setting that gave the
path and the command exits 78 (EX_CONFIG). Nothing here ever quotes a file's contents.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from talkbox.config.fields import Problem, shown_path


def problem_of(path: Path, exc: OSError | ValueError) -> Problem:
    """The Problem that `exc`, raised while looking at `path`, means for a person."""
    where = shown_path(path)
    if not isinstance(exc, OSError):
        # os functions refuse an embedded NUL byte with ValueError before asking the kernel.
        return Problem(f"{where} contains a NUL character, which no path holds", show_input=False)
    reason = {
        errno.ENOENT: "does not exist",
        errno.EISDIR: "is a directory, not a file",
        errno.ENOTDIR: "cannot be reached: a part of it is not a directory",
        errno.EACCES: "cannot be reached or read: permission denied (a directory on the way "
        "may not be searchable by this user)",
        errno.EPERM: "cannot be reached or read: operation not permitted",
        errno.ENAMETOOLONG: "has a name too long for the filesystem (each part at most 255 bytes)",
        errno.ELOOP: "cannot be reached: too many levels of symbolic links",
    }.get(exc.errno or 0, f"cannot be used ({exc.strerror or type(exc).__name__})")
    return Problem(f"{where} {reason}", show_input=False)


def probe(path: Path) -> os.stat_result | None:
    """`path`'s stat (following links), None when nothing is there, or a Problem saying why not."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        # As for pathlib's exists(): nothing can be there. Whether it can be made is the
        # caller's question (a state dir under a file is "not writable").
        return None
    except (OSError, ValueError) as exc:
        raise problem_of(path, exc) from None


def is_dir(path: Path) -> bool:
    """Whether `path` is a directory (False when nothing is there; a Problem when unreachable)."""
    found = probe(path)
    return found is not None and stat.S_ISDIR(found.st_mode)


def exists(path: Path) -> bool:
    """Whether anything is at `path`, a dangling symlink included (a Problem when unreachable)."""
    if probe(path) is not None:
        return True
    try:
        return path.is_symlink()
    except (OSError, ValueError) as exc:
        raise problem_of(path, exc) from None


def read_text(path: Path, *, errors: str = "strict") -> str:
    """A small text file's contents, or a Problem saying why it cannot be had."""
    try:
        return path.read_text(encoding="utf-8", errors=errors)
    except UnicodeDecodeError:
        raise Problem(f"{shown_path(path)} is not UTF-8 text", show_input=False) from None
    except (OSError, ValueError) as exc:
        raise problem_of(path, exc) from None


def is_writable_dir(path: Path) -> bool:
    """True when `path` is a directory we may write, or could be created where we may write.

    Never raises: a path the OS will not even look at is not writable.
    """
    if "\x00" in str(path):
        return False
    try:
        if path.exists():
            return path.is_dir() and _may_write(path)
        # The nearest directory that exists is where creating it would start.
        existing = path.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return False
        # Ask the filesystem itself: root passes os.access() where no directory can be made
        # (/proc, sysfs), and only making one there says so. It is removed at once.
        os.rmdir(tempfile.mkdtemp(prefix=".talkbox-probe-", dir=existing))
        return True
    except (OSError, ValueError):
        return False


def _may_write(path: Path) -> bool:
    if not os.access(path, os.W_OK | os.X_OK):
        return False
    # os.access() says yes to root on a read-only mount.
    return not os.statvfs(path).f_flag & os.ST_RDONLY
