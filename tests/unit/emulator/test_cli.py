"""The emulator's command line: options map onto EmulatorOptions; bad ones are usage errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from talkbox.emulator import DEFAULT_MODELS, EmulatorOptions
from talkbox.emulator.cli import build_parser, main, options_from


def parse(*argv: str) -> EmulatorOptions:
    return options_from(build_parser().parse_args(list(argv)))


def test_defaults_are_the_real_services_values() -> None:
    options = parse()
    # Only the in-memory log is bounded by default on the command line.
    assert options == EmulatorOptions(log_max_records=100_000)
    assert options.connection_lifetime_s == 600.0
    assert options.go_away_lead_s == 50.0
    assert options.realtime is True
    assert options.models == DEFAULT_MODELS


def test_every_option_reaches_the_emulator_options(tmp_path: Path) -> None:
    options = parse(
        "--host", "localhost", "--port", "8443", "--ca-out", str(tmp_path / "ca.pem"),
        "--any-key", "--bad-key", "close1007", "--connection-lifetime", "2.5",
        "--go-away-lead", "0.5", "--handle-lifetime", "30", "--context-window", "32768",
        "--event-log", str(tmp_path / "e.jsonl"), "--fast", "--chunk-ms", "40",
        "--silence-ms", "250", "--model", "models/my-model", "--model", "other",
        "--no-log-audio", "--seed", "7", "--log-max-records", "500",
        "--fault", "abort@turn=2", "--fault", "omit_usage", "--fast-audio-factor", "2.5",
        "--v1", "serve",
    )  # fmt: skip
    assert options == EmulatorOptions(
        host="localhost",
        port=8443,
        api_key=None,
        ca_out=tmp_path / "ca.pem",
        bad_key_mode="close1007",
        connection_lifetime_s=2.5,
        go_away_lead_s=0.5,
        handle_lifetime_s=30.0,
        context_window=32768,
        event_log_path=tmp_path / "e.jsonl",
        realtime=False,
        chunk_ms=40,
        silence_ms=250,
        models=("my-model", "other"),
        fast_audio_factor=2.5,
        v1_live="serve",
        log_audio=False,
        log_max_records=500,
        seed=7,
        faults=["abort@turn=2", "omit_usage"],
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault", "abort@turn=0"],
        ["--go-away-lead", "700"],
        ["--port", "70000"],
        ["--chunk-ms", "0"],
        ["--fast-audio-factor", "0.5"],
        ["--v1", "maybe"],
        ["--connection-lifetime", "soon"],
        ["--connection-lifetime", "nan"],
        ["--connection-lifetime", "inf"],
        ["--handle-lifetime", "-inf"],
        ["--go-away-lead", "nan"],
        ["--go-away-lead", "-1"],
        ["--context-window", "-5"],
        ["--context-window", "0"],
        ["--chunk-ms", "1001"],
        ["--log-max-records", "0"],
        ["--bad-key", "maybe"],
        ["extra"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("talkbox emulator: error: ")


def test_a_go_away_lead_of_zero_means_no_warning_time() -> None:
    assert parse("--go-away-lead", "0").go_away_lead_s == 0.0


def test_options_refuse_an_answer_chunk_longer_than_a_second() -> None:
    with pytest.raises(ValueError, match="chunk_ms"):
        EmulatorOptions(chunk_ms=5000)


def test_help_exits_0_and_shows_the_grammar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "KIND[:key=value,...][@TRIGGER]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connection_lifetime_s", 1.0),  # shorter than the default 50 s GoAway lead
        ("go_away_lead_s", -1.0),
        ("handle_lifetime_s", float("nan")),
        ("setup_timeout_s", 0.0),
        ("session_limit_s", float("inf")),
        ("port", 65536),
        ("silence_ms", 0),
    ],
)
def test_options_refuse_values_the_emulator_cannot_keep(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        EmulatorOptions(**cast(dict[str, Any], {field: value}))


def test_the_help_lists_the_model_table_and_the_new_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in DEFAULT_MODELS:
        assert f"  {name}: " in text
    assert "gemini-2.0-flash-live-001: retired, closed 1008" in text
    assert "no_interaction_status" in text
    assert "--fast-audio-factor" in text
