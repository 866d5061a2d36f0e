"""Loading: the env file and the environment → Settings, or every problem worded for a person.

Also where each value came from and the warnings about settings that have no effect. All of
it is driven by the fields' metadata (`talkbox.config.fields.SettingInfo`) and the areas'
hooks, never by a field's name.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr, ValidationError

from talkbox.config.fields import (
    ENV_PREFIX,
    GIVEN,
    PATH_LIMIT,
    SHOWN_LIMIT,
    info_of,
    shown,
    shown_path,
    variable_of,
    variables_of,
)
from talkbox.config.files import problem_of
from talkbox.config.live import credential_path
from talkbox.config.settings import AREAS, FILE_VALUES, Settings
from talkbox.envfile import EnvFile, read_env_file
from talkbox.errors import ConfigError

# --- names ---


def variable_name(field: str) -> str:
    """The environment variable that sets a Settings field."""
    return variable_of(field, Settings.model_fields[field])


def variable_names() -> dict[str, str]:
    """Every Settings field mapped to its variable, in declaration order."""
    return {name: variable_name(name) for name in Settings.model_fields}


def _names_of(field: str) -> tuple[str, ...]:
    return variables_of(field, Settings.model_fields[field])


def _is_secret(field: str | None) -> bool:
    return field is not None and info_of(Settings.model_fields[field]).secret


# --- problems ---


def _field_of(loc: tuple[int | str, ...]) -> str | None:
    if not loc:
        return None
    first = str(loc[0])
    if first in Settings.model_fields:
        return first
    for field in Settings.model_fields:
        if first.upper() in _names_of(field):
            return field
    return None


def _shown(field: str | None, value: object, hidden: Set[str]) -> str:
    if _is_secret(field):
        return "(value not shown)"
    if field in hidden:
        # A quoted value spanning lines may hold a key line it swallowed.
        return "(a value spanning lines of the env file, not shown)"
    limit = PATH_LIMIT if field is not None and _is_path(field) else SHOWN_LIMIT
    return f"'{shown(value, limit)}'" if isinstance(value, str) else shown(value, limit)


def _is_path(field: str) -> bool:
    def holds_path(kind: object) -> bool:
        return kind is Path or any(holds_path(arg) for arg in get_args(kind))

    return holds_path(Settings.model_fields[field].annotation)


def _message(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, BaseException):
        return str(cause)
    msg = str(error.get("msg", "is invalid"))
    return re.sub(r"^Input should", "should", msg)


def _problems_of(exc: ValidationError, hidden: Set[str]) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        field = _field_of(tuple(error.get("loc", ())))
        cause = (error.get("ctx") or {}).get("error")
        variable = getattr(cause, "variable", None) or (
            variable_name(field) if field else ".".join(str(p) for p in error.get("loc", ()))
        )
        allowed = info_of(Settings.model_fields[field]).allowed if field is not None else ""
        parts = [f"{variable}: "]
        if getattr(cause, "show_input", True):
            parts.append(f"{_shown(field, error.get('input'), hidden)} ")
        parts.append(_message(error))
        raw = error.get("input")
        if isinstance(raw, str) and " #" in raw and not _is_secret(field) and field not in hidden:
            parts.append(" (a # after a value is part of the value, not a comment)")
        if allowed:
            parts.append(f"; allowed: {allowed}")
        problems.append("".join(parts))
    return problems


# --- loading ---


@dataclass(frozen=True)
class LoadedConfig:
    """Settings plus what `check` shows about them: where each value came from, warnings."""

    settings: Settings
    sources: dict[str, str]
    warnings: list[str]
    secrets: tuple[str, ...] = ()
    """Every value a secret setting was given: the commands mask these in all they print."""
    spanning: frozenset[str] = frozenset()
    """Fields whose value is an env-file value spanning lines: `check` shows its first line."""


@dataclass(frozen=True)
class ConfigProblems:
    """Why the configuration cannot load: every problem, the env file's notes, the secrets."""

    problems: list[str]
    notes: list[str]
    """The env file's notes, kept beside the problems: an odd line often explains one."""
    secrets: tuple[str, ...] = ()
    """Every value a secret setting was given, as in LoadedConfig."""


def _read_config_file(config_file: Path) -> tuple[EnvFile, list[str]]:
    """The env file's variables and notes, or the problem that stops us reading it."""
    empty = EnvFile(values={}, notes=[])
    where = shown_path(config_file)
    try:
        return read_env_file(config_file), []
    except FileNotFoundError:
        return empty, [f"{where}: the config file does not exist"]
    except IsADirectoryError:
        return empty, [f"{where}: the config file is a directory"]
    except UnicodeDecodeError:
        return empty, [f"{where}: the config file is not UTF-8 text"]
    except (OSError, ValueError) as exc:
        return empty, [f"the config file {problem_of(config_file, exc)}"]


def _secrets(file_values: Mapping[str, str], settings: Settings | None) -> tuple[str, ...]:
    """Every value given to a secret field, as given and as used, for the commands to mask."""
    found: set[str] = set()
    sources = [os.environ, file_values]
    for field, field_info in Settings.model_fields.items():
        if not info_of(field_info).secret:
            continue
        names = set(_names_of(field))
        for values in sources:
            for name, value in values.items():
                if name.upper() in names and value.strip():
                    found.update({value, value.strip()})
        used = getattr(settings, field, None) if settings is not None else None
        if isinstance(used, SecretStr):
            found.add(used.get_secret_value())
    return tuple(sorted(found))


def load_or_problems(
    config_file: Path | None, overrides: Mapping[str, Any]
) -> LoadedConfig | ConfigProblems:
    """The loaded configuration, or every problem of every area that stops it loading."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        # Overrides come from code, so a wrong name is a bug, not a configuration problem.
        raise TypeError(f"unknown setting(s) {', '.join(unknown)}")
    env_file = EnvFile(values={}, notes=[])
    problems: list[str] = []
    if config_file is not None:
        env_file, problems = _read_config_file(config_file)
    where = shown_path(config_file) if config_file is not None else ""
    problems.extend(f"{where}: {problem}" for problem in env_file.problems)
    # A value swallowed by an open quote is not what was meant: its problem above says so,
    # and validating it would only quote it.
    values = {name: v for name, v in env_file.values.items() if name not in env_file.suspect}
    hidden = {
        field
        for field in Settings.model_fields
        if any(name in env_file.multiline for name in _names_of(field))
        and _present(_names_of(field), os.environ) is None
    }
    settings: Settings | None = None
    token = FILE_VALUES.set(values)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.extend(_problems_of(exc, hidden))
    finally:
        FILE_VALUES.reset(token)
    notes = [f"{where}: {note}" for note in env_file.notes]
    secrets = _secrets(env_file.values, settings)
    if problems or settings is None:
        return ConfigProblems(problems=problems, notes=notes, secrets=secrets)
    sources = _sources(settings, values, overrides)
    warnings = notes + _warnings(settings, [*os.environ, *values])
    warnings.extend(_exposed_key(config_file, values, settings))
    return LoadedConfig(
        settings=settings,
        sources=sources,
        warnings=warnings,
        secrets=secrets,
        spanning=frozenset(hidden),
    )


def _exposed_key(
    config_file: Path | None, values: Mapping[str, str], settings: Settings
) -> list[str]:
    """A warning for each file holding the key that others than its owner may read."""
    secret_names = {
        name
        for field, field_info in Settings.model_fields.items()
        if info_of(field_info).secret
        for name in _names_of(field)
    }
    holders: list[Path] = []
    if config_file is not None and any(
        name.upper() in secret_names and value.strip() for name, value in values.items()
    ):
        holders.append(config_file)
    if settings.api_key_file is not None:
        holders.append(settings.api_key_file)
    if not os.environ.get("CREDENTIALS_DIRECTORY") and (stored := credential_path()):
        holders.append(stored)
    found: list[str] = []
    for path in holders:
        try:
            mode = path.stat().st_mode
        except (OSError, ValueError):
            continue  # a pipe or a file gone since: nothing lasting to protect
        if stat.S_ISREG(mode) and mode & 0o044:
            where = shown_path(path)
            found.append(
                f"{where} holds the API key and is readable by others than its owner "
                f"(mode {stat.S_IMODE(mode):04o}): chmod 0600 {where}"
            )
    return found


def load_config(config_file: Path | None = None, **overrides: Any) -> LoadedConfig:
    """Like load_settings, plus each value's source and the warnings `check` prints."""
    loaded = load_or_problems(config_file, overrides)
    if isinstance(loaded, ConfigProblems):
        raise ConfigError(loaded.problems)
    return loaded


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the environment and the optional env file; raise ConfigError listing every problem."""
    return load_config(config_file, **overrides).settings


# --- provenance ---


def _present(names: Iterable[str], values: Mapping[str, str]) -> str | None:
    # Blank counts as unset, as it does for the values themselves.
    upper = {key.upper(): key for key, value in values.items() if value.strip()}
    for name in names:
        if name in upper:
            return upper[name]
    return None


def _is_given(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def _sources(
    settings: Settings, file_values: Mapping[str, str], overrides: Mapping[str, Any]
) -> dict[str, str]:
    """Where each field's value came from, named the way `check` prints it."""
    in_env = {field: _present(_names_of(field), os.environ) for field in Settings.model_fields}
    in_file = {field: _present(_names_of(field), file_values) for field in Settings.model_fields}
    # An override hides the variables, so a blank one gives nothing and the field's own
    # fallback (a key file, say) answers, as it does in the validators.
    given = {
        field
        for field in Settings.model_fields
        if (_is_given(overrides[field]) if field in overrides else in_env[field] or in_file[field])
    }
    derived = {
        field: source
        for area in AREAS
        for field, source in area.derived_sources(settings, given).items()
    }
    sources: dict[str, str] = {}
    for field in Settings.model_fields:
        # A field with several variables says which one gave it.
        named = len(_names_of(field)) > 1
        env_name, file_name = in_env[field], in_file[field]
        if field in overrides and field in given:
            source = "override"
        elif field in derived:
            source = derived[field]
        elif field in overrides:
            source = "override"
        elif env_name is not None:
            source = f"environment ({env_name})" if named else "environment"
        elif file_name is not None:
            source = f"env file ({file_name})" if named else "env file"
        else:
            source = "default"
        sources[field] = source
    return sources


# --- warnings ---


def _applies(value: object, wanted: object) -> bool:
    if wanted is GIVEN:
        return value is not None
    if isinstance(wanted, tuple):
        return value in wanted
    return bool(value == wanted)


def _spelled(value: object) -> str:
    if isinstance(value, tuple):
        return " or ".join(_spelled(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ignored(settings: Settings) -> list[str]:
    """A warning for each setting changed from its default where its `applies_when` fails."""
    found: list[str] = []
    for field, field_info in Settings.model_fields.items():
        conditions = info_of(field_info).applies_when
        if not conditions:
            continue
        if getattr(settings, field) == field_info.get_default(call_default_factory=True):
            continue
        for other, wanted in conditions.items():
            value = getattr(settings, other)
            if _applies(value, wanted):
                continue
            name, other_name = variable_name(field), variable_name(other)
            if wanted is GIVEN:
                found.append(f"{name} is ignored: it applies only with {other_name}")
            else:
                found.append(
                    f"{name} is ignored with {other_name}={_spelled(value)}: it applies only "
                    f"with {other_name}={_spelled(wanted)}"
                )
            break
    return found


def _warnings(settings: Settings, names_seen: Iterable[str]) -> list[str]:
    """Things that are allowed but probably not meant."""
    found: list[str] = []
    known = {name for field in Settings.model_fields for name in _names_of(field)}
    for name in sorted({n.upper() for n in names_seen if n.upper().startswith(ENV_PREFIX)}):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            found.append(f"{name} is not a talkbox setting and is ignored{hint}")
    found.extend(_ignored(settings))
    for area in AREAS:
        found.extend(area.notes(settings))
    return found
