"""Env files read exactly as systemd's EnvironmentFile= reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EnvFile:
    """An env file read the way systemd's EnvironmentFile= reads it."""

    values: dict[str, str]
    notes: list[str]


def parse_env_file(text: str) -> EnvFile:
    """Parse KEY=VALUE text exactly as systemd does (src/basic/env-file.c), notes on odd lines.

    Unlike python-dotenv, systemd keeps `# ...` after a value as part of the value, expands no
    variables and knows no `export`; reading the file by hand must give what the daemon gets.
    """
    values: dict[str, str] = {}
    notes: list[str] = []
    whitespace, newline, need_escape = " \t\n\r", "\n\r", '"\\`$'
    state = "pre_key"
    key: list[str] = []
    value: list[str] = []
    key_trim: int | None = None
    value_trim: int | None = None
    line = 1
    start_line = 1

    def push() -> None:
        name = "".join(key[:key_trim] if key_trim is not None else key)
        text = "".join(value[:value_trim] if value_trim is not None else value)
        if _ENV_NAME.fullmatch(name):
            values[name] = text
        else:
            notes.append(f"line {start_line}: {name!r} is not a variable name; systemd ignores it")

    if text.startswith("\ufeff"):
        text = text[1:]
    for c in text:
        if state == "pre_key":
            if c in "#;":
                state = "comment"
            elif c not in whitespace:
                state, key, value, key_trim, start_line = "key", [c], [], None, line
        elif state == "key":
            if c in newline:
                notes.append(f"line {start_line}: no '=' in {''.join(key).strip()!r}; ignored")
                state = "pre_key"
            elif c == "=":
                state, value_trim = "pre_value", None
            else:
                if c not in whitespace:
                    key_trim = None
                elif key_trim is None:
                    key_trim = len(key)
                key.append(c)
        elif state == "pre_value":
            if c in newline:
                push()
                state = "pre_key"
            elif c == "'":
                state = "single"
            elif c == '"':
                state = "double"
            elif c == "\\":
                state = "value_escape"
            elif c not in whitespace:
                state = "value"
                value.append(c)
        elif state == "value":
            if c in newline:
                push()
                state = "pre_key"
            elif c == "\\":
                state, value_trim = "value_escape", None
            else:
                if c not in whitespace:
                    value_trim = None
                elif value_trim is None:
                    value_trim = len(value)
                value.append(c)
        elif state == "value_escape":
            state = "value"
            if c not in newline:  # backslash-newline continues the line
                value.append(c)
        elif state == "single":
            if c == "'":
                state = "pre_value"
            else:
                value.append(c)
        elif state == "double":
            if c == '"':
                state = "pre_value"
            elif c == "\\":
                state = "double_escape"
            else:
                value.append(c)
        elif state == "double_escape":
            state = "double"
            if c in need_escape:
                value.append(c)
            elif c != "\n":
                value.extend(("\\", c))
        elif state == "comment":
            if c == "\\":
                state = "comment_escape"
            elif c in newline:
                state = "pre_key"
        elif state == "comment_escape":
            state = "pre_key" if c in newline else "comment"
        if c == "\n":
            line += 1
    if state in ("pre_value", "value", "value_escape", "single", "double", "double_escape"):
        push()
    elif state == "key":
        notes.append(f"line {start_line}: no '=' in {''.join(key).strip()!r}; ignored")
    return EnvFile(values=values, notes=notes)


def read_env_file(path: Path) -> EnvFile:
    """Read and parse an env file; OSError and UnicodeDecodeError pass through."""
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_env_file(handle.read())
