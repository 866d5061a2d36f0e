"""Env files read exactly as systemd's EnvironmentFile= reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A line that starts like an assignment of its own: inside a quoted value it was surely meant
# as one, and the quote before it was left open by mistake.
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass(frozen=True)
class EnvFile:
    """An env file read the way systemd's EnvironmentFile= reads it.

    Notes and problems name a line and what is wrong with it, never the line's text: a line
    that is not an assignment may be a key pasted on its own.
    """

    values: dict[str, str]
    """What systemd would set, exactly."""
    notes: list[str]
    """Lines systemd ignores or reads in a way that may not be meant."""
    problems: list[str] = field(default_factory=list)
    """Lines whose value is surely not what was meant: a quote left open swallowing others."""
    suspect: frozenset[str] = frozenset()
    """Variables the problems are about: their values must not be used or shown."""
    multiline: frozenset[str] = frozenset()
    """Variables whose quoted value spans lines: never shown (it may hold a swallowed key)."""


def parse_env_file(text: str) -> EnvFile:
    """Parse KEY=VALUE text exactly as systemd does (src/basic/env-file.c), notes on odd lines.

    Unlike python-dotenv, systemd keeps `# ...` after a value as part of the value, expands no
    variables and knows no `export`; reading the file by hand must give what the daemon gets.
    """
    values: dict[str, str] = {}
    notes: list[str] = []
    problems: list[str] = []
    suspect: set[str] = set()
    multiline: set[str] = set()
    whitespace, newline, need_escape = " \t\n\r", "\n\r", '"\\`$'
    state = "pre_key"
    key: list[str] = []
    value: list[str] = []
    key_trim: int | None = None
    value_trim: int | None = None
    line = 1
    start_line = 1
    quote_line = 1
    # The lines that began inside a quote of the value being read.
    continued: list[int] = []

    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    # A newline ending the file opens no line of its own.
    last_line = len(lines) - 1 if lines[-1] == "" else len(lines)

    def push(*, unclosed: bool = False) -> None:
        name = "".join(key[:key_trim] if key_trim is not None else key)
        text = "".join(value[:value_trim] if value_trim is not None else value)
        if _ENV_NAME.fullmatch(name):
            values[name] = text
        else:
            notes.append(_bad_name(start_line, name))
        if continued:
            _spanning(name, unclosed=unclosed)

    def _spanning(name: str, *, unclosed: bool) -> None:
        valid = _ENV_NAME.fullmatch(name) is not None
        label = f"value of {name}" if valid else "value"
        swallowed = [
            found.group(1)
            for n in continued
            if n <= last_line and (found := _ASSIGNMENT.match(lines[n - 1]))
        ]
        span = f"lines {start_line}-{min(continued[-1], last_line)}"
        looks = (
            f", swallowing lines that look like settings of their own ({', '.join(swallowed)})"
            if swallowed
            else ""
        )
        if unclosed:
            problems.append(
                f"line {quote_line}: the quote opened in the {label} is never closed, so the value "
                f"runs to the end of the file ({span}){looks}: a closing quote is missing"
            )
        elif swallowed:
            problems.append(
                f"line {quote_line}: the quoted {label} runs over {span}{looks}: a closing "
                "quote is probably missing"
            )
        else:
            notes.append(
                f"line {quote_line}: the quoted {label} spans {span}; if that is not meant, "
                "a closing quote is missing"
            )
        if valid:
            multiline.add(name)
            if unclosed or swallowed:
                suspect.add(name)

    for c in text:
        if state == "pre_key":
            if c in "#;":
                state = "comment"
            elif c not in whitespace:
                state, key, value, key_trim, start_line = "key", [c], [], None, line
                continued = []
        elif state == "key":
            if c in newline:
                notes.append(_no_equals(start_line))
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
                state, quote_line = "single", line
            elif c == '"':
                state, quote_line = "double", line
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
            if state in ("single", "double", "double_escape"):
                continued.append(line)
    if state in ("pre_value", "value", "value_escape"):
        push()
    elif state in ("single", "double", "double_escape"):
        push(unclosed=True)
    elif state == "key":
        notes.append(_no_equals(start_line))
    return EnvFile(
        values=values,
        notes=notes,
        problems=problems,
        suspect=frozenset(suspect),
        multiline=frozenset(multiline),
    )


def _no_equals(line: int) -> str:
    return (
        f"line {line}: no '=' on the line, so systemd ignores it "
        "(its text is not shown: it may be a secret)"
    )


def _bad_name(line: int, name: str) -> str:
    first, _, rest = name.partition(" ")
    rest = rest.strip()
    if first == "export" and _ENV_NAME.fullmatch(rest):
        return (
            f"line {line}: 'export' is shell syntax systemd does not read, so it ignores the "
            f"line and {rest} is not set by it (write {rest}=... without 'export')"
        )
    return (
        f"line {line}: the text before '=' is not a variable name (letters, digits and _, "
        "not starting with a digit), so systemd ignores the line"
    )


def read_env_file(path: Path) -> EnvFile:
    """Read and parse an env file; OSError and UnicodeDecodeError pass through."""
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_env_file(handle.read())
