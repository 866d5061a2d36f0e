"""The timer table kept in the state dir, so a restart or a power cut loses no timer.

Written like the mute (`talkbox.appliance.mute`): a temp file, fsync, rename, so the file is
always the old table or the new one. A file that cannot be read as a table is set aside as
`timers.json.rejected` with one WARNING, and the box starts with none.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from talkbox.state_file import set_aside, write_json
from talkbox.timers.table import TimerTable

log = logging.getLogger(__name__)

FILE_NAME = "timers.json"


class TimerStore:
    """Reads and writes `timers.json` in the state dir, atomically (temp, fsync, rename)."""

    def __init__(self, directory: Path) -> None:
        """Keep the table in `directory` (made on the first save)."""
        self.path = directory / FILE_NAME

    def load(self) -> TimerTable:
        """The stored table; an empty one when none is stored or it is damaged."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return TimerTable()
        except OSError as exc:
            log.warning("cannot read %s (%s); starting with no timers", self.path, exc.strerror)
            return TimerTable()
        try:
            return TimerTable.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            rejected = set_aside(self.path)
            log.warning(
                "%s is damaged (%s); set aside as %s, starting with no timers",
                self.path,
                exc,
                rejected.name,
            )
            return TimerTable()

    def save(self, table: TimerTable) -> None:
        """Store the table; a failure is logged (the box goes on; a restart may lose it)."""
        write_json(self.path, table.to_json(), what="the timers")
