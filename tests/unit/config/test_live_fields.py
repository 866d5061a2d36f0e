from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from talkbox.config import load_config, load_settings
from talkbox.errors import ConfigError

SECRET = "AIzaSyTestKey-0123456789abcdefghijklmn"


def write_env(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(config_file: Path | None = None, **overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_settings(config_file, **overrides)
    return exc.value.problems


# --- the model, the session and its derived values ---


NATIVE_AUDIO = "gemini-2.5-flash-native-audio-preview-12-2025"


def test_the_api_version_is_never_switched_to_v1alpha_implicitly() -> None:
    assert load_settings().effective_api_version == "v1beta"
    both = load_settings(
        model=NATIVE_AUDIO, api_version="v1alpha", affective_dialog=True, proactive_audio=True
    )
    assert both.effective_api_version == "v1alpha"
    assert problems_of(model=NATIVE_AUDIO, affective_dialog=True) == [
        "TALKBOX_AFFECTIVE_DIALOG: true needs TALKBOX_API_VERSION=v1alpha with "
        f"{NATIVE_AUDIO} (it is never switched for you); allowed: true/false (true only "
        "where the model offers it)"
    ]


def test_the_default_model_is_gemini_3_8_live_on_v1beta() -> None:
    settings = load_settings()
    assert settings.model == "gemini-3.8-live"
    assert settings.model_row.stage == "stable"
    assert settings.effective_thinking_level is None


def test_a_retired_model_is_a_problem_naming_its_replacement() -> None:
    for retired in (
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-live-2.5-flash-preview",
        "models/gemini-2.0-flash-live-001",
    ):
        assert problems_of(model=retired) == [
            f"TALKBOX_MODEL: {retired!r} is retired and no longer served; use gemini-3.8-live; "
            "allowed: a Live model name such as gemini-3.8-live"
        ]


def test_options_gemini_3_8_live_refuses_are_problems_naming_the_setting() -> None:
    problems = problems_of(affective_dialog=True, proactive_audio=True, thinking_level="high")
    assert problems == [
        "TALKBOX_AFFECTIVE_DIALOG: true is not offered by this model (gemini-3.8-live); set it "
        "to false; allowed: true/false (true only where the model offers it)",
        "TALKBOX_PROACTIVE_AUDIO: true: proactive audio is always on for this model "
        "(gemini-3.8-live); remove the setting; allowed: true/false (true only where the "
        "model offers it)",
        "TALKBOX_THINKING_LEVEL: 'high' is not offered by this model (gemini-3.8-live: it "
        "takes no thinking level); leave it empty; allowed: low, medium or high, for a model "
        "that takes a thinking level",
    ]


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_an_api_version_that_does_not_serve_the_model_is_a_problem(version: str) -> None:
    assert problems_of(api_version=version) == [
        f"TALKBOX_API_VERSION: {version!r} does not serve gemini-3.8-live over Live; it is "
        "served on v1beta; allowed: v1beta, or v1alpha for the 2.5 previews"
    ]


def test_extended_thinking_takes_a_level_and_defaults_to_low() -> None:
    model = "gemini-3.8-live-extended-thinking"
    assert load_settings(model=model).effective_thinking_level == "low"
    assert load_settings(model=model, thinking_level="HIGH").effective_thinking_level == "high"
    assert problems_of(model=model, thinking_level="minimal")[0].startswith(
        "TALKBOX_THINKING_LEVEL: 'minimal' should be 'low', 'medium' or 'high'"
    )
    optional = load_settings(model="gemini-3.1-flash-live-preview")
    assert optional.effective_thinking_level is None


def test_a_regional_vertex_model_is_refused_on_the_global_location() -> None:
    problems = problems_of(
        backend="vertex",
        vertex_project="kitchen",
        vertex_location="global",
        model="gemini-live-2.5-flash-native-audio",
    )
    assert problems == [
        "TALKBOX_VERTEX_LOCATION: gemini-live-2.5-flash-native-audio is not served on the "
        "global location (docs/live-models.md §1.2); use a region such as us-central1; "
        "allowed: a Live model name such as gemini-3.8-live"
    ]
    regional = load_settings(
        backend="vertex", vertex_project="kitchen", model="gemini-live-2.5-flash-native-audio"
    )
    assert regional.model_row.backend == "vertex"
    assert regional.model_row.known


def test_a_deprecated_legacy_or_unknown_model_is_one_warning() -> None:
    assert load_config(model=NATIVE_AUDIO).warnings == [
        f"TALKBOX_MODEL={NATIVE_AUDIO} is a deprecated model and may stop being served; "
        "gemini-3.8-live is the current one"
    ]
    assert load_config(model="gemini-3.1-flash-live-preview").warnings == [
        "TALKBOX_MODEL=gemini-3.1-flash-live-preview is a legacy preview model and may stop "
        "being served; gemini-3.8-live is the current one"
    ]
    unknown = load_config(model="gemini-3.9-live")
    assert unknown.warnings == [
        "TALKBOX_MODEL=gemini-3.9-live is not in talkbox's model table; it is set up like "
        "gemini-3.8-live (check --online says whether the service takes it)"
    ]
    assert unknown.settings.model_row.family == "gemini-3.8-live"
    assert load_config().warnings == []


def test_a_system_instruction_file_replaces_the_instruction(tmp_path: Path) -> None:
    instruction = write_env(tmp_path / "prompt.txt", "Speak like a pirate.\n\n")
    settings = load_settings(system_instruction_file=instruction)
    assert settings.effective_system_instruction == "Speak like a pirate."


@pytest.mark.parametrize("language", ["en", "en-US", "de-DE", "cmn-CN", "zh-Hant-TW", "es-419"])
def test_common_language_tags_are_accepted(monkeypatch: pytest.MonkeyPatch, language: str) -> None:
    monkeypatch.setenv("TALKBOX_LANGUAGE", language)
    assert load_settings().language == language


def test_compression_target_may_sit_below_an_explicit_trigger() -> None:
    settings = load_settings(compression_trigger_tokens=20_000, compression_target_tokens=10_000)
    assert (settings.compression_trigger_tokens, settings.compression_target_tokens) == (
        20_000,
        10_000,
    )
    problems = problems_of(compression_trigger_tokens=20_000, compression_target_tokens=20_000)
    assert problems == [
        "TALKBOX_COMPRESSION_TARGET_TOKENS: 20000 is not below the compression trigger "
        "(20000 tokens); allowed: tokens, fewer than TALKBOX_COMPRESSION_TRIGGER_TOKENS"
    ]


def test_the_trigger_may_not_exceed_the_models_window() -> None:
    problems = problems_of(compression_trigger_tokens=200_000)
    assert len(problems) == 1
    assert "context window of gemini-3.8-live (131072 tokens)" in problems[0]


def test_the_vertex_backend_needs_a_project() -> None:
    assert problems_of(backend="vertex") == [
        "TALKBOX_VERTEX_PROJECT: is not set; it is required when TALKBOX_BACKEND=vertex; "
        "allowed: a Google Cloud project id"
    ]
    settings = load_settings(backend="vertex", vertex_project="kitchen-123")
    assert settings.vertex_location == "us-central1"


def test_a_ca_file_must_hold_a_certificate(tmp_path: Path) -> None:
    not_pem = write_env(tmp_path / "ca.pem", "hello")
    missing = tmp_path / "missing.pem"
    assert "holds no PEM certificate" in problems_of(ca_file=not_pem)[0]
    assert "does not exist" in problems_of(ca_file=missing)[0]
    assert "is a directory" in problems_of(ca_file=tmp_path)[0]
    damaged = write_env(tmp_path / "damaged.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n")
    assert "no usable certificate" in problems_of(ca_file=damaged)[0]
    pem = tmp_path / "good.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    assert load_settings(ca_file=pem, base_url="https://127.0.0.1:8443").ca_file == pem


def test_a_system_instruction_file_must_be_readable_text(tmp_path: Path) -> None:
    empty = write_env(tmp_path / "empty.txt", " \n")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    assert problems_of(system_instruction_file=empty)[0].startswith(
        "TALKBOX_SYSTEM_INSTRUCTION_FILE: "
    )
    assert "is empty" in problems_of(system_instruction_file=empty)[0]
    assert "not UTF-8" in problems_of(system_instruction_file=binary)[0]
    assert "does not exist" in problems_of(system_instruction_file=tmp_path / "none")[0]


# --- the API key ---


def test_the_key_comes_from_gemini_api_key_or_google_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert load_settings().require_api_key() == "google-key"
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    assert load_settings().require_api_key() == SECRET


def test_the_prefixed_name_works_for_the_key_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_API_KEY", SECRET)
    loaded = load_config()
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "environment (TALKBOX_API_KEY)"
    assert not [w for w in loaded.warnings if "TALKBOX_API_KEY " in w]


def test_the_key_may_sit_in_the_env_file(tmp_path: Path) -> None:
    env = write_env(tmp_path / "talkbox.env", f"GEMINI_API_KEY={SECRET}\n")
    loaded = load_config(env)
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "env file (GEMINI_API_KEY)"


def test_the_key_comes_from_a_key_file_without_its_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = write_env(tmp_path / "key", SECRET + "\n")
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(key_file))
    loaded = load_config()
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "file (TALKBOX_API_KEY_FILE)"


def test_the_key_comes_from_the_systemd_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_env(tmp_path / "gemini_api_key", SECRET + "\r\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    loaded = load_config()
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "credential (gemini_api_key)"


def test_a_blank_key_variable_does_not_hide_the_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "  ")
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(write_env(tmp_path / "key", SECRET)))
    loaded = load_config()
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "file (TALKBOX_API_KEY_FILE)"


def test_a_credential_directory_without_our_credential_is_fine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_settings().api_key is None


def test_the_variable_wins_over_the_key_file_and_the_file_over_the_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write_env(credentials / "gemini_api_key", "from-credential")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(write_env(tmp_path / "key", "from-file")))
    assert load_settings().require_api_key() == "from-file"
    monkeypatch.setenv("GEMINI_API_KEY", "from-variable")
    assert load_settings().require_api_key() == "from-variable"


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("two keys\n", "whitespace"),
        (None, "does not exist"),
        ("dir", "is a directory"),
        ("under-a-file", "cannot be reached: a part of it is not a directory"),
    ],
)
def test_a_bad_key_file_is_a_problem_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None, fault: str
) -> None:
    key_file = tmp_path / "key"
    if content == "dir":
        key_file.mkdir()
    elif content == "under-a-file":
        # Permission bits do not stop root, so an unreadable path is made another way.
        key_file.write_text("", encoding="utf-8")
        key_file = key_file / "key"
    elif content is not None:
        key_file.write_text(content, encoding="utf-8")
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(key_file))
    (problem,) = problems_of()
    assert problem.startswith("TALKBOX_API_KEY_FILE: ")
    assert str(key_file) in problem
    assert fault in problem


def test_an_empty_credential_is_a_problem_naming_the_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_env(tmp_path / "gemini_api_key", "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (problem,) = problems_of()
    assert problem.startswith("$CREDENTIALS_DIRECTORY/gemini_api_key: ")
    assert "is empty" in problem


def test_a_key_with_spaces_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza secret-part")
    (problem,) = problems_of()
    assert problem.startswith("GEMINI_API_KEY: ")
    assert "secret-part" not in problem


def test_a_key_put_where_the_key_file_belongs_is_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", SECRET)
    (problem,) = problems_of()
    assert problem.startswith("TALKBOX_API_KEY_FILE: is not the path of a key file")
    assert SECRET not in problem


def test_a_missing_key_is_not_an_error_until_it_is_required() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError) as exc:
        settings.require_api_key()
    (problem,) = exc.value.problems
    assert problem.startswith("GEMINI_API_KEY is not set: ")
    assert "TALKBOX_API_KEY_FILE" in problem
    assert "gemini_api_key" in problem


def test_the_vertex_backend_explains_it_needs_no_key() -> None:
    settings = load_settings(backend="vertex", vertex_project="p")
    with pytest.raises(ConfigError, match="application default credentials"):
        settings.require_api_key()


def test_the_key_never_shows_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    settings = load_settings()
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in settings.model_dump_json()
    assert SECRET not in str(settings.model_dump())


def test_a_blank_key_override_falls_through_to_the_key_file_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TALKBOX_API_KEY_FILE", str(write_env(tmp_path / "key", SECRET)))
    loaded = load_config(api_key="  ")
    assert loaded.settings.require_api_key() == SECRET
    assert loaded.sources["api_key"] == "file (TALKBOX_API_KEY_FILE)"
    assert load_config(api_key="given-in-code").sources["api_key"] == "override"


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("k" * 1024, True),
        ("k" * 1025, False),
        ("auth_tokens/abc~!#$%", True),
        ("\u201cAIzaSyTestKey\u201d", False),
        ("AIza\u00a0Sy", False),
        ("AIza\x7fSy", False),
    ],
)
def test_a_key_is_accepted_only_when_it_can_be_sent_as_a_header(
    monkeypatch: pytest.MonkeyPatch, key: str, accepted: bool
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", key)
    if accepted:
        assert load_settings().require_api_key() == key
        return
    (problem,) = problems_of()
    assert problem.startswith("GEMINI_API_KEY: the key ")
    assert key not in problem
