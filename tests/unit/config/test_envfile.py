from __future__ import annotations

import pytest

from talkbox.config.envfile import parse_env_file


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


KEY = "AIzaSyHardeningKey-0123456789ABCDEFGHIJ"


@pytest.mark.parametrize(
    "line",
    [
        f"GEMINI_API_KEY: {KEY}",
        KEY,
        f"export GEMINI_API_KEY={KEY}",
        f"1A={KEY}",
        f"A B={KEY}",
        f"{KEY} = x",
    ],
)
def test_a_note_names_the_line_and_never_holds_its_text(line: str) -> None:
    (note,) = parse_env_file(f"A=1\n{line}\n").notes
    assert note.startswith("line 2: ")
    assert KEY not in note
    assert not any(KEY[i : i + 8] in note for i in range(len(KEY) - 7))


def test_export_is_named_with_the_variable_it_fails_to_set() -> None:
    (note,) = parse_env_file("export TALKBOX_VOICE=Kore\n").notes
    assert "'export'" in note
    assert "TALKBOX_VOICE is not set" in note


def test_a_quote_never_closed_is_a_problem_naming_the_variable_and_its_line() -> None:
    parsed = parse_env_file(f'A=1\nTALKBOX_VOICE="Kore\nGEMINI_API_KEY={KEY}\n')
    (problem,) = parsed.problems
    assert problem.startswith("line 2: the quote opened in the value of TALKBOX_VOICE")
    assert "never closed" in problem
    assert "(lines 2-3)" in problem
    assert "(GEMINI_API_KEY)" in problem
    assert KEY not in problem
    assert parsed.suspect == {"TALKBOX_VOICE"}
    # systemd's reading is unchanged: the key line is part of the value, not a variable.
    assert "GEMINI_API_KEY" not in parsed.values


def test_a_closed_quote_that_swallowed_assignments_is_a_problem() -> None:
    parsed = parse_env_file(f"B='x\nexport GEMINI_API_KEY={KEY}\n C = 2'\n")
    (problem,) = parsed.problems
    assert "swallowing lines that look like settings of their own (GEMINI_API_KEY, C)" in problem
    assert parsed.suspect == {"B"}


def test_a_quoted_value_over_lines_without_assignments_is_only_a_note() -> None:
    parsed = parse_env_file('A="one\ntwo\nthree"\nB=3\n')
    assert parsed.problems == []
    assert parsed.notes == [
        "line 1: the quoted value of A spans lines 1-3; if that is not meant, a closing quote "
        "is missing"
    ]
    assert parsed.multiline == {"A"}
    assert parsed.suspect == frozenset()
    assert parsed.values == {"A": "one\ntwo\nthree", "B": "3"}


def test_an_escaped_newline_outside_quotes_is_no_span() -> None:
    parsed = parse_env_file("A=one \\\ntwo\n")
    assert parsed.notes == []
    assert parsed.multiline == frozenset()
