from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from talkbox.appliance.parts import box_notes
from talkbox.config import CheckReport, check_report, load_settings, variable_names
from talkbox.errors import ExitCode

SECRET = "AIzaSyCheckKey-abcdefghijklmnopqrstuvwx"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Gemini API key in the environment: without one, `check` reports a problem."""
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)


def everything(report: CheckReport) -> str:
    """All the report says, as `talkbox check` prints it to stdout and stderr."""
    return "\n".join([*report.lines, *report.problems, *report.warnings])


def line_of(report: CheckReport, name: str) -> str:
    (line,) = [line for line in report.lines if line.split(" ", 1)[0] == name]
    return line


@pytest.mark.usefixtures("key")
def test_a_good_configuration_prints_every_setting_and_exits_0(tmp_path: Path) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_VOICE=Kore\n", encoding="utf-8")
    report = check_report(env)
    assert report.exit_code == ExitCode.OK
    assert report.lines[0] == f"env file: {env}"
    for name in variable_names().values():
        assert line_of(report, name)
    assert "Kore" in line_of(report, "TALKBOX_VOICE")


def test_each_value_shows_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_VOICE=Kore\nTALKBOX_LANGUAGE=de-DE\n", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_LANGUAGE", "fr-FR")
    instruction = tmp_path / "prompt.txt"
    instruction.write_text("Be brief.", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_SYSTEM_INSTRUCTION_FILE", str(instruction))
    key_file = tmp_path / "key"
    key_file.write_text(SECRET, encoding="utf-8")
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(key_file))
    report = check_report(env)
    assert report.exit_code == ExitCode.OK
    assert line_of(report, "TALKBOX_VOICE").endswith("[env file]")
    assert line_of(report, "TALKBOX_LANGUAGE").endswith("[environment]")
    assert "fr-FR" in line_of(report, "TALKBOX_LANGUAGE")
    assert line_of(report, "TALKBOX_MODEL").endswith("[default]")
    assert line_of(report, "GEMINI_API_KEY").endswith("[file (TALKBOX_API_KEY_FILE)]")
    assert line_of(report, "TALKBOX_SYSTEM_INSTRUCTION").endswith(
        "[file (TALKBOX_SYSTEM_INSTRUCTION_FILE)]"
    )
    assert "Be brief." in line_of(report, "TALKBOX_SYSTEM_INSTRUCTION")


@pytest.mark.usefixtures("key")
def test_the_instruction_file_wins_over_the_instruction_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instruction = tmp_path / "prompt.txt"
    instruction.write_text("From the file.", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_SYSTEM_INSTRUCTION", "From the variable.")
    monkeypatch.setenv("TALKBOX_SYSTEM_INSTRUCTION_FILE", str(instruction))
    line = line_of(check_report(None), "TALKBOX_SYSTEM_INSTRUCTION")
    assert "From the file." in line
    assert line.endswith("[file (TALKBOX_SYSTEM_INSTRUCTION_FILE)]")


def test_the_key_is_masked_wherever_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    report = check_report(None)
    assert report.exit_code == ExitCode.OK
    assert SECRET not in everything(report)
    assert SECRET[-6:] not in everything(report)
    assert "**********" in line_of(report, "GEMINI_API_KEY")
    assert line_of(report, "GEMINI_API_KEY").endswith("[environment (GEMINI_API_KEY)]")


def test_a_credential_is_shown_as_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "gemini_api_key").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    report = check_report(None)
    assert report.exit_code == ExitCode.OK
    assert line_of(report, "GEMINI_API_KEY").endswith("[credential (gemini_api_key)]")
    assert SECRET not in everything(report)


def test_a_missing_key_is_a_problem_that_says_where_the_key_goes() -> None:
    report = check_report(None)
    assert report.exit_code == ExitCode.CONFIG == 78
    assert report.lines == []
    (problem,) = report.problems
    assert problem.startswith("GEMINI_API_KEY is not set")
    for place in ("/etc/talkbox/talkbox.env", "TALKBOX_API_KEY_FILE", "gemini_api_key"):
        assert place in problem


def test_vertex_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_BACKEND", "vertex")
    monkeypatch.setenv("TALKBOX_VERTEX_PROJECT", "kitchen")
    report = check_report(None)
    assert report.exit_code == ExitCode.OK
    assert "GEMINI_API_KEY" not in "\n".join(report.problems + report.warnings)


@pytest.mark.usefixtures("key")
def test_the_effective_api_version_and_thinking_level_are_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALKBOX_MODEL", "gemini-3.8-live-extended-thinking")
    report = check_report(None)
    assert line_of(report, "TALKBOX_API_VERSION").split("=", 1)[1].strip().startswith("v1beta")
    assert report.lines[-2].startswith("effective API version")
    assert report.lines[-2].endswith("v1beta")
    assert report.lines[-1].startswith("effective thinking level")
    assert report.lines[-1].endswith("low (this model needs one)")


@pytest.mark.usefixtures("key")
def test_a_retired_model_and_refused_options_exit_78_before_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALKBOX_MODEL", "gemini-2.5-flash-native-audio-preview-09-2025")
    report = check_report(None)
    assert report.exit_code == ExitCode.CONFIG
    assert report.problems == [
        "TALKBOX_MODEL: 'gemini-2.5-flash-native-audio-preview-09-2025' is retired and no "
        "longer served; use gemini-3.8-live; allowed: a Live model name such as gemini-3.8-live"
    ]
    monkeypatch.delenv("TALKBOX_MODEL")
    monkeypatch.setenv("TALKBOX_AFFECTIVE_DIALOG", "true")
    monkeypatch.setenv("TALKBOX_PROACTIVE_AUDIO", "yes")
    report = check_report(None)
    assert report.exit_code == ExitCode.CONFIG
    assert [p.split(":")[0] for p in report.problems] == [
        "TALKBOX_AFFECTIVE_DIALOG",
        "TALKBOX_PROACTIVE_AUDIO",
    ]
    assert "not offered by this model" in report.problems[0]
    assert "always on for this model" in report.problems[1]


def test_bad_values_of_every_area_are_one_problem_each_and_exit_78(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_IDLE_DISCONNECT_S=soon\nTALKBOX_BACKEND=openai\n", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_VAD_SILENCE_MS", "-3")
    monkeypatch.setenv("TALKBOX_LOG_LEVEL", "loud")
    monkeypatch.setenv("GEMINI_API_KEY", "a b" + SECRET)
    report = check_report(env)
    assert report.exit_code == ExitCode.CONFIG
    assert report.lines == []
    assert report.warnings == []
    named = sorted(problem.split(":")[0] for problem in report.problems)
    assert named == [
        "GEMINI_API_KEY",
        "TALKBOX_BACKEND",
        "TALKBOX_IDLE_DISCONNECT_S",
        "TALKBOX_LOG_LEVEL",
        "TALKBOX_VAD_SILENCE_MS",
    ]
    assert SECRET not in everything(report)


def test_a_missing_config_file_exits_78_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "talkbox.env"
    report = check_report(missing)
    assert report.exit_code == ExitCode.CONFIG
    assert f"{missing}: the config file does not exist" in report.problems


@pytest.mark.usefixtures("key")
def test_settings_that_have_no_effect_are_warned_about(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TALKBOX_VAD_SILENCE_MS", "500")
    monkeypatch.setenv("TALKBOX_VAD_END_SENSITIVITY", "low")
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("TALKBOX_CA_FILE", str(pem))
    monkeypatch.setenv("TALKBOX_MODEL", "gemini-2.5-flash-native-audio-latest")
    report = check_report(None)
    assert report.exit_code == ExitCode.OK
    text = "\n".join(report.warnings)
    assert "TALKBOX_VAD_SILENCE_MS is ignored" in text
    assert "TALKBOX_VAD_END_SENSITIVITY is ignored" in text
    assert "TALKBOX_VAD_START_SENSITIVITY" not in text
    assert "TALKBOX_CA_FILE is ignored" in text
    assert "is a deprecated model" in text


@pytest.mark.usefixtures("key")
@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_a_state_dir_that_cannot_be_made_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    # run and ask lock it before anything else and exit 78: check must say so first. /proc
    # refuses even root, whom os.access() lets through.
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    state = blocker / "state" if where == "under-a-file" else Path("/proc/talkbox-nope")
    monkeypatch.setenv("TALKBOX_STATE_DIR", str(state))
    report = check_report(None)
    assert report.exit_code == ExitCode.CONFIG
    assert report.problems == [
        f"TALKBOX_STATE_DIR: {state} cannot be made or written by this user; talkbox keeps "
        "its lock and the conversation there"
    ]


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({}, True),
        ({"button_pin": 17}, False),
        ({"hat": "respeaker-2mic"}, False),
        ({"wake_word": "okay_nabu"}, False),
        ({"home_assistant": "esphome", "home_assistant_plaintext": True}, False),
    ],
)
def test_a_box_nothing_can_open_a_turn_on_is_warned_about(
    settings: dict[str, object], warned: bool
) -> None:
    notes = box_notes(load_settings(None, **settings))
    assert bool([n for n in notes if n.startswith("nothing can open a turn")]) is warned


@pytest.mark.parametrize(("mode", "warned"), [(0o600, False), (0o640, True), (0o644, True)])
def test_an_env_file_holding_the_key_that_others_may_read_is_warned_about(
    tmp_path: Path, mode: int, warned: bool
) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text(f"GEMINI_API_KEY={SECRET}\nTALKBOX_BUTTON_PIN=17\n", encoding="utf-8")
    env.chmod(mode)
    report = check_report(env)
    assert report.exit_code == ExitCode.OK
    expected = (
        f"{env} holds the API key and is readable by others than its owner (mode "
        f"{mode:04o}): chmod 0600 {env}"
    )
    assert (expected in report.warnings) is warned
    assert SECRET not in everything(report)


def test_an_env_file_without_the_key_may_be_read_by_its_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # install.sh makes it 0640 root:talkbox until the key goes in: nothing to warn about.
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_BUTTON_PIN=17\n", encoding="utf-8")
    env.chmod(0o640)
    assert not [w for w in check_report(env).warnings if "API key" in w]


def test_the_unit_s_credential_is_checked_and_guarded_outside_systemd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `sudo talkbox check` sees the key the unit's LoadCredential= will pass the service.
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setattr("talkbox.config.credentials.CREDSTORE", tmp_path)
    stored = tmp_path / "gemini_api_key"
    stored.write_text(SECRET + "\n", encoding="utf-8")
    stored.chmod(0o600)
    report = check_report(None)
    assert report.exit_code == ExitCode.OK
    assert line_of(report, "GEMINI_API_KEY").endswith("[credential (gemini_api_key)]")
    assert not [w for w in report.warnings if "API key" in w]
    stored.chmod(0o644)
    assert f"{stored} holds the API key" in " ".join(check_report(None).warnings)
