from __future__ import annotations

import pytest

from talkbox.__main__ import main


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("check", "ask", "demo", "emulator"):
        assert command in out


def test_the_ctl_verbs_come_from_one_table() -> None:
    from talkbox.appliance.control import COMMANDS, EVENTS, VERBS
    from talkbox.cli import build_parser

    parser = build_parser()
    for name, verb in VERBS.items():
        argv = ["ctl", name] + {"text": ["hello"], "percent": ["40"], None: []}[verb.argument]
        assert parser.parse_args(argv).verb == name
    assert set(EVENTS) <= set(VERBS)
    assert tuple(VERBS) == COMMANDS
