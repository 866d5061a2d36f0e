from __future__ import annotations

from talkbox.envfile import parse_env_file


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
