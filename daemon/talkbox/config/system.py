"""The System area: the daemon itself, where it keeps its state and what it logs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Annotated, Literal

from pydantic import field_validator

from talkbox.config.fields import Area, LocalPath, Problem, UpperCase, setting, shown_path
from talkbox.config.files import is_dir, is_writable_dir, probe

SYSTEM_STATE_DIR = Path("/var/lib/talkbox")


def default_state_dir(
    environ: Mapping[str, str] | None = None, system_dir: Path = SYSTEM_STATE_DIR
) -> Path:
    """$STATE_DIRECTORY, else the system dir if writable, else the user's XDG state dir."""
    env = os.environ if environ is None else environ
    # systemd passes a colon-separated list when the unit names several state directories.
    given = env.get("STATE_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    if is_writable_dir(system_dir):
        return system_dir
    xdg = env.get("XDG_STATE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(env) / ".local" / "state"
    return base / "talkbox"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "")
    return Path(home) if home else Path.home()


class SystemFields(Area):
    """System: the daemon itself, where it keeps its state and what it logs."""

    state_dir: LocalPath = setting(
        doc="Where the resumption handle is kept. Empty: $STATE_DIRECTORY, else "
        "/var/lib/talkbox if writable, else $XDG_STATE_HOME/talkbox (~/.local/state/talkbox).",
        allowed="an absolute directory path",
        default_factory=default_state_dir,
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], UpperCase] = setting(
        "INFO", doc="Log level.", allowed="DEBUG, INFO, WARNING or ERROR"
    )
    log_transcripts: bool = setting(
        False,
        doc="Write what was said (both sides) to the log. Off: the journal holds no speech.",
        allowed="true/false",
    )

    @field_validator("state_dir")
    @classmethod
    def _check_state_dir(cls, value: Path) -> Path:
        # LocalPath has refused a relative path; the OS may still refuse to look (a parent
        # this user cannot search, a name too long), which probe words as a Problem.
        if probe(value) is not None and not is_dir(value):
            raise Problem(f"{shown_path(value)} exists and is not a directory", show_input=False)
        return value

    def derived_sources(self, given: Set[str]) -> dict[str, str]:
        """The default state dir is systemd's StateDirectory= when the unit names one."""
        if "state_dir" not in given and os.environ.get("STATE_DIRECTORY"):
            return {"state_dir": "default ($STATE_DIRECTORY)"}
        return {}

    def unmet_needs(self) -> list[str]:
        """The daemon and `ask` lock the state dir before anything else: it must be writable."""
        if not is_writable_dir(self.state_dir):
            return [
                f"TALKBOX_STATE_DIR: {shown_path(self.state_dir)} cannot be made or written by "
                "this user; talkbox keeps its lock and the conversation there"
            ]
        return []
