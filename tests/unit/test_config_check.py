from __future__ import annotations

import io
from pathlib import Path

import pytest
import trustme

from talkbox.config import run_check, variable_names

SECRET = "AIzaSyCheckKey-abcdefghijklmnopqrstuvwx"


@pytest.fixture(autouse=True)
def _state_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Gemini API key in the environment: without one, `check` reports a problem."""
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)


def check(config_file: Path | None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_check(config_file, out, err)
    return code, out.getvalue(), err.getvalue()


def line_of(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if line.split(" ", 1)[0] == name]
    return line


@pytest.mark.usefixtures("key")
def test_a_good_configuration_prints_every_setting_and_exits_0(tmp_path: Path) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_VOICE=Kore\n", encoding="utf-8")
    code, out, _ = check(env)
    assert code == 0
    for name in variable_names().values():
        assert line_of(out, name)
    assert "Kore" in line_of(out, "TALKBOX_VOICE")


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
    code, out, _ = check(env)
    assert code == 0
    assert line_of(out, "TALKBOX_VOICE").endswith("[env file]")
    assert line_of(out, "TALKBOX_LANGUAGE").endswith("[environment]")
    assert "fr-FR" in line_of(out, "TALKBOX_LANGUAGE")
    assert line_of(out, "TALKBOX_MODEL").endswith("[default]")
    assert line_of(out, "GEMINI_API_KEY").endswith("[file (TALKBOX_API_KEY_FILE)]")
    assert line_of(out, "TALKBOX_SYSTEM_INSTRUCTION").endswith(
        "[file (TALKBOX_SYSTEM_INSTRUCTION_FILE)]"
    )
    assert "Be brief." in line_of(out, "TALKBOX_SYSTEM_INSTRUCTION")


def test_the_key_is_masked_wherever_it_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    code, out, err = check(None)
    assert code == 0
    assert SECRET not in out + err
    assert SECRET[-6:] not in out + err
    assert "**********" in line_of(out, "GEMINI_API_KEY")
    assert line_of(out, "GEMINI_API_KEY").endswith("[environment (GEMINI_API_KEY)]")


def test_a_credential_is_shown_as_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "gemini_api_key").write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    code, out, err = check(None)
    assert code == 0
    assert line_of(out, "GEMINI_API_KEY").endswith("[credential (gemini_api_key)]")
    assert SECRET not in out + err


def test_a_missing_key_is_a_problem_that_says_where_the_key_goes() -> None:
    code, out, err = check(None)
    assert code == 78
    assert out == ""
    (problem,) = [line for line in err.splitlines() if line.startswith("talkbox: config error: ")]
    assert problem.startswith("talkbox: config error: GEMINI_API_KEY is not set")
    for place in ("/etc/talkbox/talkbox.env", "TALKBOX_API_KEY_FILE", "gemini_api_key"):
        assert place in problem
    assert err.rstrip().endswith("talkbox: 1 problem to fix")


def test_vertex_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_BACKEND", "vertex")
    monkeypatch.setenv("TALKBOX_VERTEX_PROJECT", "kitchen")
    code, _, err = check(None)
    assert code == 0
    assert "GEMINI_API_KEY" not in err


@pytest.mark.usefixtures("key")
def test_the_effective_api_version_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_PROACTIVE_AUDIO", "true")
    _, out, _ = check(None)
    assert line_of(out, "TALKBOX_API_VERSION").split("=", 1)[1].strip().startswith("v1beta")
    assert "effective API version" in out
    assert out.rstrip().endswith("v1alpha")


def test_bad_values_print_one_line_each_and_exit_78(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / "talkbox.env"
    env.write_text("TALKBOX_IDLE_DISCONNECT_S=soon\nTALKBOX_BACKEND=openai\n", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_VAD_SILENCE_MS", "-3")
    monkeypatch.setenv("GEMINI_API_KEY", "a b" + SECRET)
    code, out, err = check(env)
    assert code == 78
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("talkbox: config error: ")]
    named = sorted(line.removeprefix("talkbox: config error: ").split(":")[0] for line in errors)
    assert named == [
        "GEMINI_API_KEY",
        "TALKBOX_BACKEND",
        "TALKBOX_IDLE_DISCONNECT_S",
        "TALKBOX_VAD_SILENCE_MS",
    ]
    assert SECRET not in err


def test_a_missing_config_file_exits_78_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "talkbox.env"
    code, _, err = check(missing)
    assert code == 78
    assert f"talkbox: config error: {missing}: the config file does not exist" in err


@pytest.mark.usefixtures("key")
def test_settings_that_have_no_effect_are_warned_about(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TALKBOX_VAD_SILENCE_MS", "500")
    monkeypatch.setenv("TALKBOX_VAD_END_SENSITIVITY", "low")
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("TALKBOX_CA_FILE", str(pem))
    monkeypatch.setenv("TALKBOX_AFFECTIVE_DIALOG", "true")
    monkeypatch.setenv("TALKBOX_MODEL", "gemini-live-2.5-flash-preview")
    code, _, err = check(None)
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("talkbox: warning: ")]
    text = "\n".join(warnings)
    assert "TALKBOX_VAD_SILENCE_MS is ignored" in text
    assert "TALKBOX_VAD_END_SENSITIVITY is ignored" in text
    assert "TALKBOX_VAD_START_SENSITIVITY" not in text
    assert "TALKBOX_CA_FILE is ignored" in text
    assert "need a native-audio model" in text


@pytest.mark.usefixtures("key")
def test_an_unwritable_state_dir_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("TALKBOX_STATE_DIR", str(blocker / "state"))
    code, _, err = check(None)
    assert code == 0
    assert "is not writable" in err


@pytest.mark.usefixtures("key")
def test_numbers_are_shown_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_IDLE_DISCONNECT_S", "90.5")
    _, out, _ = check(None)
    assert line_of(out, "TALKBOX_IDLE_DISCONNECT_S").split("=", 1)[1].split() == [
        "90.5",
        "[environment]",
    ]
    assert line_of(out, "TALKBOX_CONVERSATION_TIMEOUT_S").split("=", 1)[1].split()[0] == "1800"


@pytest.mark.usefixtures("key")
def test_settings_of_the_other_backend_are_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_VERTEX_LOCATION", "europe-west4")
    _, _, err = check(None)
    assert "TALKBOX_VERTEX_LOCATION is ignored with TALKBOX_BACKEND=gemini" in err
    monkeypatch.setenv("TALKBOX_BACKEND", "vertex")
    monkeypatch.setenv("TALKBOX_VERTEX_PROJECT", "kitchen")
    monkeypatch.setenv("TALKBOX_API_VERSION", "v1")
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    code, _, err = check(None)
    assert code == 0
    assert "TALKBOX_VERTEX_LOCATION" not in err
    assert "TALKBOX_API_VERSION is ignored with TALKBOX_BACKEND=vertex" in err
    assert "GEMINI_API_KEY is ignored with TALKBOX_BACKEND=vertex" in err
    assert "no API key" not in err
