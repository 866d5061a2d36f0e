from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from talkbox.config import (
    DEFAULT_SYSTEM_INSTRUCTION,
    Settings,
    load_config,
    load_settings,
    variable_name,
    variable_names,
)
from talkbox.errors import ConfigError


def write_env(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(config_file: Path | None = None, **overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_settings(config_file, **overrides)
    return exc.value.problems


# --- defaults ---


def test_defaults_need_no_configuration_at_all() -> None:
    settings = load_settings()
    assert settings.backend == "gemini"
    assert settings.api_key is None
    assert settings.model == "gemini-3.8-live"
    assert settings.api_version == "v1beta"
    assert settings.turn_detection == "local"
    assert settings.conversation_timeout_s == 1800
    assert settings.idle_disconnect_s == 120
    assert settings.effective_system_instruction == DEFAULT_SYSTEM_INSTRUCTION


def test_booleans_accept_the_usual_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_RESUME", "no")
    monkeypatch.setenv("TALKBOX_GOOGLE_SEARCH", "1")
    monkeypatch.setenv("TALKBOX_COMPRESSION", "off")
    settings = load_settings()
    assert (settings.resume, settings.google_search, settings.compression) == (False, True, False)


def test_an_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TALKBOX_IDLE_DISCONNECT_S", "")
    monkeypatch.setenv("GEMINI_API_KEY", "")
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE=\nTALKBOX_MODEL=\n")
    settings = load_settings(env)
    assert settings.idle_disconnect_s == 120
    assert settings.voice is None
    assert settings.model == "gemini-3.8-live"
    assert settings.api_key is None


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.voice = "Kore"


def test_an_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="idle_disconect_s"):
        load_settings(idle_disconect_s=3)


# --- every validator names the variable, what is wrong and what is allowed ---


@pytest.mark.parametrize(
    ("variable", "value", "wrong", "allowed"),
    [
        ("TALKBOX_BACKEND", "vertx", "'vertx'", "gemini or vertex"),
        ("TALKBOX_TURN_DETECTION", "auto", "'auto'", "local or server"),
        ("TALKBOX_VAD_START_SENSITIVITY", "medium", "'medium'", "high or low"),
        ("TALKBOX_LOG_LEVEL", "verbose", "'VERBOSE'", "DEBUG, INFO, WARNING or ERROR"),
        ("TALKBOX_IDLE_DISCONNECT_S", "-5", "greater than or equal to 0", "0 = never"),
        ("TALKBOX_IDLE_DISCONNECT_S", "two minutes", "valid number", "seconds"),
        ("TALKBOX_IDLE_DISCONNECT_S", "inf", "finite", "seconds"),
        ("TALKBOX_CONVERSATION_TIMEOUT_S", "0", "greater than 0", "more than 0"),
        ("TALKBOX_CONVERSATION_TIMEOUT_S", "nan", "finite", "seconds"),
        ("TALKBOX_TRANSCRIBE_INPUT", "maybe", "valid boolean", "true/false"),
        ("TALKBOX_VAD_SILENCE_MS", "0", "greater than or equal to 1", "1 to 10000"),
        ("TALKBOX_VAD_SILENCE_MS", "1.5", "valid integer", "milliseconds"),
        ("TALKBOX_VAD_PREFIX_PADDING_MS", "6000", "less than or equal to 5000", "0 to 5000"),
        ("TALKBOX_COMPRESSION_TRIGGER_TOKENS", "0", "greater than or equal to 1", "tokens"),
        ("TALKBOX_COMPRESSION_TRIGGER_TOKENS", "200000", "context window", "131072"),
        ("TALKBOX_COMPRESSION_TARGET_TOKENS", "120000", "below the compression trigger", "fewer"),
        ("TALKBOX_LANGUAGE", "english", "BCP-47", "en-US"),
        ("TALKBOX_LANGUAGE", "en_US", "BCP-47", "en-US"),
        ("TALKBOX_VOICE", "Kore Puck", "voice name", "Kore"),
        ("TALKBOX_API_VERSION", "beta", "API version", "v1beta"),
        ("TALKBOX_MODEL", "Gemini Flash", "model name", "Live model"),
        ("TALKBOX_BASE_URL", "localhost:8443", "http:// or https://", "URL"),
        ("TALKBOX_BASE_URL", "https://localhost:99999", "invalid port", "URL"),
        ("TALKBOX_VERTEX_LOCATION", "US Central", "region", "us-central1"),
        ("TALKBOX_STATE_DIR", "state", "absolute", "absolute directory"),
        ("TALKBOX_STATE_DIR", "~/state", "~", "absolute directory"),
        ("TALKBOX_API_KEY_FILE", "~/key", "~", "readable"),
        ("TALKBOX_SYSTEM_INSTRUCTION", "   ", "empty", "non-empty"),
    ],
)
def test_each_bad_value_is_one_problem_naming_variable_fault_and_allowed_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, wrong: str, allowed: str
) -> None:
    monkeypatch.setenv(variable, value)
    problems = problems_of()
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{variable}: ")
    assert wrong in problems[0]
    assert "allowed: " in problems[0]
    assert allowed in problems[0].split("allowed: ", 1)[1]


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TALKBOX_IDLE_DISCONNECT_S", "-1")
    monkeypatch.setenv("TALKBOX_BACKEND", "vertex")
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(tmp_path / "no-key"))
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_LANGUAGE=klingon!\nTALKBOX_LOG_LEVEL=x\n")
    problems = problems_of(env)
    named = sorted(problem.split(":", 1)[0] for problem in problems)
    assert named == [
        "TALKBOX_API_KEY_FILE",
        "TALKBOX_IDLE_DISCONNECT_S",
        "TALKBOX_LANGUAGE",
        "TALKBOX_LOG_LEVEL",
        "TALKBOX_VERTEX_PROJECT",
    ]


def test_a_missing_config_file_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    assert problems_of(missing) == [f"{missing}: the config file does not exist"]


def test_a_missing_config_file_does_not_hide_other_problems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TALKBOX_RESUME", "perhaps")
    problems = problems_of(tmp_path / "nope.env")
    assert len(problems) == 2
    assert problems[1].startswith("TALKBOX_RESUME: ")


def test_a_config_file_that_is_not_text_is_a_problem(tmp_path: Path) -> None:
    env = tmp_path / "talkbox.env"
    env.write_bytes(b"TALKBOX_VOICE=\xff\n")
    assert problems_of(env) == [f"{env}: the config file is not UTF-8 text"]
    assert problems_of(tmp_path) == [f"{tmp_path}: the config file is a directory"]


def test_a_long_value_is_shortened_in_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_VOICE", "x" * 500)
    (problem,) = problems_of()
    assert len(problem) < 200


# --- env file and environment ---


def test_the_env_file_is_read(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE=Kore\nTALKBOX_RESUME=false\n")
    settings = load_settings(env)
    assert settings.voice == "Kore"
    assert settings.resume is False


def test_the_environment_wins_over_the_env_file_as_under_systemd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE=Kore\nTALKBOX_LANGUAGE=de-DE\n")
    monkeypatch.setenv("TALKBOX_VOICE", "Puck")
    settings = load_settings(env)
    assert settings.voice == "Puck"
    assert settings.language == "de-DE"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_VOICE", "Puck")
    assert load_settings(voice="Aoede").voice == "Aoede"


def test_an_empty_environment_value_does_not_hide_the_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE=Kore\n")
    monkeypatch.setenv("TALKBOX_VOICE", "")
    assert load_settings(env).voice == "Kore"


def test_a_value_after_a_hash_is_part_of_the_value_as_under_systemd(tmp_path: Path) -> None:
    # python-dotenv would drop "# nice"; systemd keeps it, so the daemon would see it.
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE=Kore # nice\n")
    (problem,) = problems_of(env)
    assert problem.startswith("TALKBOX_VOICE: 'Kore # nice' ")
    assert "not a comment" in problem


def test_quoted_values_with_spaces_are_read(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", 'TALKBOX_SYSTEM_INSTRUCTION="Be brief.\\nBe kind."\n')
    assert load_settings(env).system_instruction == "Be brief.\\nBe kind."


def test_a_config_file_read_from_a_pipe_is_read_once(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "talkbox.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("w", encoding="utf-8") as handle:
            handle.write("TALKBOX_VOICE=Leda\n")

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        settings = load_settings(fifo)
    finally:
        writer.join(timeout=5)
    assert settings.voice == "Leda"


def test_settings_built_directly_read_the_env_file_with_the_same_rules(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_VOICE='Kore'\nTALKBOX_LANGUAGE=en-GB\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert (settings.voice, settings.language) == ("Kore", "en-GB")


def test_a_lower_case_name_is_read_too(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", "talkbox_voice=Kore\n")
    assert load_settings(env).voice == "Kore"


def test_an_unknown_talkbox_name_is_a_warning_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = write_env(tmp_path / "talkbox.env", "TALKBOX_IDLE_DISCONECT_S=5\nOTHER_TOOL=1\n")
    monkeypatch.setenv("TALKBOX_VOIСE", "Kore")  # with a Cyrillic С
    loaded = load_config(env)
    assert loaded.settings.idle_disconnect_s == 120
    unknown = [w for w in loaded.warnings if "is not a talkbox setting" in w]
    assert len(unknown) == 2
    assert any("did you mean TALKBOX_IDLE_DISCONNECT_S?" in w for w in unknown)
    assert not any("OTHER_TOOL" in w for w in loaded.warnings)


def test_lines_systemd_ignores_are_warnings(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", "export TALKBOX_VOICE=Kore\nTALKBOX_RESUME\n")
    loaded = load_config(env)
    assert loaded.settings.voice is None
    assert loaded.settings.resume is True
    assert sum(str(env) in w for w in loaded.warnings) == 2


def test_variable_names_follow_the_prefix_except_the_key() -> None:
    assert variable_name("idle_disconnect_s") == "TALKBOX_IDLE_DISCONNECT_S"
    assert variable_name("api_key") == "GEMINI_API_KEY"


# --- no input can crash loading: it gives Settings or problems that name their variable ---

_ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)
_KNOWN_NAMES = {*variable_names().values(), "$CREDENTIALS_DIRECTORY/gemini_api_key"}


@hyp_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.dictionaries(st.sampled_from(sorted(Settings.model_fields)), _ANY_TEXT, max_size=6)
)
def test_any_text_values_give_settings_or_problems_naming_their_variables(
    values: dict[str, str],
) -> None:
    problems: list[str] = []
    try:
        load_settings(None, **values)
    except ConfigError as exc:
        problems = exc.problems
        assert problems, "a ConfigError must list its problems"
    key = values.get("api_key", "").strip()
    for problem in problems:
        variable, _, rest = problem.partition(": ")
        assert variable in _KNOWN_NAMES, problem
        assert "; allowed: " in rest, problem
        if variable == "GEMINI_API_KEY":
            assert "(value not shown)" in rest, problem
            assert repr(key) not in rest, problem
