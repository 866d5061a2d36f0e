"""The one filesystem-problem path (config/files.py) and safe display (fields.shown)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from talkbox.config.fields import Problem, shown
from talkbox.config.files import is_writable_dir, probe, problem_of, read_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nb", "a\\nb"),
        ("a\x00b", "a\\x00b"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\u2028b", "a\\u2028b"),
        ("caf\u00e9 \u201cok\u201d", "caf\u00e9 \u201cok\u201d"),
    ],
)
def test_shown_escapes_what_would_break_a_line_and_keeps_printable_text(
    value: str, expected: str
) -> None:
    assert shown(value) == expected


def test_shown_cuts_a_long_value_and_says_how_long_it_was() -> None:
    text = shown("k" * 60_000)
    assert text == "k" * 57 + "... (60000 characters)"


def test_shown_keeps_a_value_at_the_limit_whole() -> None:
    assert shown("k" * 60) == "k" * 60


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (OSError(errno.ENAMETOOLONG, "File name too long"), "too long for the filesystem"),
        (OSError(errno.EACCES, "Permission denied"), "permission denied"),
        (OSError(errno.ENOENT, "No such file"), "does not exist"),
        (OSError(errno.EIO, "Input/output error"), "cannot be used (Input/output error)"),
        (ValueError("embedded null byte"), "contains a NUL character"),
    ],
)
def test_every_os_refusal_becomes_one_line_naming_the_path(exc: Exception, words: str) -> None:
    assert isinstance(exc, OSError | ValueError)
    problem = problem_of(Path("/x/a\nb"), exc)
    assert str(problem).startswith("/x/a\\nb ")
    assert words in str(problem)
    assert not problem.show_input


def test_a_name_over_255_bytes_is_a_problem_not_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(Problem, match="too long"):
        probe(tmp_path / ("x" * 300) / "f")
    with pytest.raises(Problem, match="too long"):
        read_text(tmp_path / ("x" * 300))


def test_a_nul_byte_is_a_problem_not_a_valueerror(tmp_path: Path) -> None:
    with pytest.raises(Problem, match="NUL"):
        read_text(tmp_path / "a\x00b")


def test_nothing_under_a_file_is_absent_rather_than_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert probe(blocker / "x") is None
    assert not is_writable_dir(blocker / "x")


def test_is_writable_dir_never_raises(tmp_path: Path) -> None:
    assert not is_writable_dir(tmp_path / ("x" * 300) / "state")
    assert not is_writable_dir(tmp_path / "a\x00b")
    assert is_writable_dir(tmp_path / "new")
