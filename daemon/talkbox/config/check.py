"""What `talkbox check` reports: every problem of every area, or each setting and its source.

The command's shell (arguments, printing) is in `talkbox.cli`; this module decides what it says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from talkbox.config.fields import info_of, shown_path
from talkbox.config.fields import shown as safely
from talkbox.config.loading import ConfigProblems, load_or_problems, variable_names
from talkbox.config.settings import AREAS, Settings
from talkbox.errors import ExitCode


@dataclass(frozen=True)
class CheckReport:
    """The effective settings (one line each), or the problems; and the warnings."""

    lines: list[str]
    """For stdout: the env file, `NAME = value  [source]` per setting, the API version."""
    problems: list[str]
    """Every problem that stops the daemon; when there are any, `lines` is empty."""
    warnings: list[str]
    """Allowed but probably not meant; with problems, the env file's notes (they may explain)."""
    secrets: tuple[str, ...] = ()
    """Every value a secret setting was given: the shell masks them in all it prints."""
    settings: Settings | None = None
    """The settings, when they loaded (the shell adds what other layers say of them)."""

    @property
    def exit_code(self) -> ExitCode:
        """CONFIG when there is a problem to fix, else OK."""
        return ExitCode.CONFIG if self.problems else ExitCode.OK


def _display(
    field: str, settings: Settings, shown: dict[str, object], spanning: frozenset[str]
) -> str:
    value = shown.get(field, getattr(settings, field))
    if field in spanning and isinstance(value, str) and "\n" in value:
        # Lines after the first may be a key line the quote swallowed: never shown.
        first = safely(" ".join(value.splitlines()[0].split()), limit=50)
        return f"{first} ... ({len(value.splitlines())} lines, the rest not shown)"
    if info_of(Settings.model_fields[field]).secret:
        if value is None:
            return "(not set)"
        secret = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return f"********** ({len(secret)} characters)"
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    # Lists and per-name values as they are written in the env file (LED_PINS, WAKE_CUTOFF).
    if isinstance(value, tuple):
        value = ",".join(str(item) for item in value) or "off"
    elif isinstance(value, dict):
        value = ",".join(f"{key}={item:g}" for key, item in value.items()) or "(not set)"
    # One line per setting, even for long instructions and paths holding control characters.
    return safely(" ".join(str(value).split()), limit=70)


def _thinking(settings: Settings) -> str:
    level = settings.effective_thinking_level
    if level is None:
        return "(none sent)"
    return level if settings.thinking_level else f"{level} (this model needs one)"


NeedsCheck = Callable[[Settings], Sequence[str]]
"""A check of what the settings need beyond themselves (credentials on this machine)."""


def check_report(config_file: Path | None, *, needs: Sequence[NeedsCheck] = ()) -> CheckReport:
    """`talkbox check`: load the configuration from `config_file` and the environment.

    `needs` come from the layers that use the settings (the SDK client's credentials), which
    config may not import; each returns the problems it finds.
    """
    loaded = load_or_problems(config_file, {})
    if isinstance(loaded, ConfigProblems):
        return CheckReport(
            lines=[], problems=loaded.problems, warnings=loaded.notes, secrets=loaded.secrets
        )
    settings = loaded.settings
    problems = [need for area in AREAS for need in area.unmet_needs(settings)]
    if not problems:
        problems = [problem for check in needs for problem in check(settings)]
    if problems:
        return CheckReport(
            lines=[],
            problems=problems,
            warnings=loaded.warnings,
            secrets=loaded.secrets,
            settings=settings,
        )
    shown = {field: value for area in AREAS for field, value in area.shown_values(settings).items()}
    names = variable_names()
    width = max(len(name) for name in names.values())
    lines = [f"env file: {shown_path(config_file) if config_file is not None else '(none)'}"]
    for field, name in names.items():
        value = _display(field, settings, shown, loaded.spanning)
        lines.append(f"{name:<{width}} = {value}  [{loaded.sources[field]}]")
    lines.append(f"{'effective API version':<{width}} = {settings.effective_api_version}")
    lines.append(f"{'effective thinking level':<{width}} = {_thinking(settings)}")
    return CheckReport(
        lines=lines,
        problems=[],
        warnings=loaded.warnings,
        secrets=loaded.secrets,
        settings=settings,
    )
