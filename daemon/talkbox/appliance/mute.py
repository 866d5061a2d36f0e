"""The privacy mute, kept in the state dir so a restart does not silently unmute the box."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from talkbox.state_file import write_json

log = logging.getLogger(__name__)

FILE_NAME = "mute.json"


class MuteStore:
    """Reads and writes `mute.json` in the state dir, atomically (temp, fsync, rename)."""

    def __init__(self, directory: Path) -> None:
        """Keep the mute in `directory` (made on the first save)."""
        self.path = directory / FILE_NAME

    def load(self) -> bool:
        """The stored mute; False when none is stored. A damaged file counts as muted."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except OSError as exc:
            # Privacy first: a mute that cannot be read is kept rather than dropped.
            log.warning("cannot read %s (%s); staying muted", self.path, exc.strerror)
            return True
        try:
            value = json.loads(text)["muted"]
        except (ValueError, KeyError, TypeError):
            log.warning("%s is damaged; staying muted until a person unmutes", self.path)
            return True
        return value is True

    def save(self, muted: bool) -> None:
        """Store the mute; a failure is logged (the box goes on, the mute may not survive)."""
        write_json(self.path, {"muted": muted}, what="the mute")
