from __future__ import annotations

import re
from pathlib import Path

import pytest

from talkbox.config import Settings, load_config, load_settings, variable_names
from talkbox.envfile import parse_env_file

TEMPLATE = Path(__file__).resolve().parents[2] / "config" / "talkbox.env"
ASSIGNMENT = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")
# Defaults that depend on the machine: the template leaves them empty and explains them.
MACHINE_DEFAULTS = {"state_dir"}


@pytest.fixture(autouse=True)
def _state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))


def template_lines() -> list[str]:
    return TEMPLATE.read_text(encoding="utf-8").splitlines()


def template_assignments() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in template_lines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} is listed twice"
            found[match.group(1)] = line[2:]
    return found


def uncommented_template(tmp_path: Path) -> Path:
    path = tmp_path / "uncommented.env"
    path.write_text("\n".join(template_assignments().values()) + "\n", encoding="utf-8")
    return path


# --- the template and Settings agree ---


def test_the_template_lists_every_setting_and_nothing_else() -> None:
    assert set(template_assignments()) == set(variable_names().values())


def test_the_template_lists_the_settings_in_declaration_order() -> None:
    assert list(template_assignments()) == list(variable_names().values())


def test_every_template_variable_has_a_comment_line_above_it() -> None:
    lines = template_lines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            above = lines[index - 1]
            assert above.startswith("# "), line
            assert not ASSIGNMENT.match(above), line


def test_the_template_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    from_template = load_settings(uncommented_template(tmp_path))
    assert from_template.model_dump() == load_settings().model_dump()


def test_the_template_writes_out_every_default_that_is_not_empty() -> None:
    values = parse_env_file("\n".join(template_assignments().values())).values
    for field, name in variable_names().items():
        default = Settings.model_fields[field].default
        has_value = default is not None and field not in MACHINE_DEFAULTS
        assert (values[name] != "") == has_value, name


def test_the_uncommented_template_is_clean_for_systemd(tmp_path: Path) -> None:
    parsed = parse_env_file(uncommented_template(tmp_path).read_text(encoding="utf-8"))
    assert parsed.notes == []
    assert load_config(uncommented_template(tmp_path)).warnings == load_config().warnings


def test_the_commented_template_changes_nothing() -> None:
    assert parse_env_file(TEMPLATE.read_text(encoding="utf-8")).values == {}
    assert load_settings(TEMPLATE).model_dump() == load_settings().model_dump()


# --- the env file is read as systemd reads it ---


def test_comments_and_blank_lines_are_skipped() -> None:
    parsed = parse_env_file("# one\n; two\n\n   \nA=1\n")
    assert parsed.values == {"A": "1"}
    assert parsed.notes == []


def test_spaces_around_names_and_values_are_trimmed_but_inner_ones_kept() -> None:
    assert parse_env_file("  A =  two  words  \n").values == {"A": "two  words"}


def test_a_hash_after_a_value_is_part_of_the_value() -> None:
    assert parse_env_file("A=x # y\n").values == {"A": "x # y"}


def test_single_quotes_keep_everything_verbatim() -> None:
    assert parse_env_file("A='a \\n $B \"c\"'\n").values == {"A": 'a \\n $B "c"'}


def test_double_quotes_unescape_only_shell_specials() -> None:
    assert parse_env_file('A="q\\"\\$\\\\\\`x\\n"\n').values == {"A": 'q"$\\`x\\n'}


def test_quoted_values_may_span_lines() -> None:
    assert parse_env_file('A="one\ntwo"\nB=3\n').values == {"A": "one\ntwo", "B": "3"}


def test_a_backslash_at_the_end_continues_the_line() -> None:
    assert parse_env_file("A=one \\\ntwo\n").values == {"A": "one two"}


def test_no_variables_are_expanded() -> None:
    assert parse_env_file("A=1\nB=${A}x\n").values == {"A": "1", "B": "${A}x"}


def test_the_last_assignment_wins() -> None:
    assert parse_env_file("A=1\nA=2\n").values == {"A": "2"}


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted() -> None:
    assert parse_env_file("\ufeffA=1\r\nB=2\r\n").values == {"A": "1", "B": "2"}


def test_a_last_line_without_newline_counts() -> None:
    assert parse_env_file("A=1\nB=2").values == {"A": "1", "B": "2"}


def test_lines_without_equals_and_bad_names_are_noted_by_line() -> None:
    parsed = parse_env_file("A=1\nexport B=2\nC\n1D=4\n")
    assert parsed.values == {"A": "1"}
    assert [note.split(":")[0] for note in parsed.notes] == ["line 2", "line 3", "line 4"]
