"""Small JSON files in the state dir, written so a power cut leaves the old one or the new one.

The mute (`talkbox.appliance.mute`), the timer table (`talkbox.timers.store`) and the wake
word chosen in Home Assistant (`talkbox.appliance.wake_choice`) are each one such file: a
temp file in the same directory, fsync, then rename over the old one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_json(path: Path, value: Any, *, what: str) -> bool:
    """Store `value` as JSON at `path` atomically; False (and one WARNING naming `what`) if not.

    The directory is made if missing. A failure is not raised: the box goes on, only the
    value may not survive a restart.
    """
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot store %s in %s: %s", what, directory, exc.strerror)
        return False
    return True


def set_aside(path: Path) -> Path:
    """Rename a file the box will not use to `<name>.rejected` (kept for a person to read)."""
    rejected = path.with_name(path.name + ".rejected")
    with contextlib.suppress(OSError):
        os.replace(path, rejected)
    return rejected
