from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from talkbox.config import AREAS, Settings, load_config, load_settings
from talkbox.config.fields import GIVEN, info_of, variables_of
from talkbox.errors import ConfigError


def test_every_field_is_declared_with_setting_and_says_what_it_allows() -> None:
    for name, field_info in Settings.model_fields.items():
        info = info_of(field_info)
        assert info.doc, name
        assert info.allowed, name


def test_settings_lists_the_areas_fields_in_the_areas_order() -> None:
    assert list(Settings.model_fields) == [name for area in AREAS for name in area.model_fields]


def test_no_area_shadows_another_areas_validator() -> None:
    # Validators are collected by method name: a second `_check` would silently replace the first.
    seen: dict[str, str] = {}
    for area in AREAS:
        decorators = area.__pydantic_decorators__
        for name in [*decorators.field_validators, *decorators.model_validators]:
            assert name not in seen, f"{area.__name__}.{name} shadows {seen[name]}.{name}"
            seen[name] = area.__name__
    composed = Settings.__pydantic_decorators__
    assert set(seen) <= {*composed.field_validators, *composed.model_validators}


def test_applies_when_names_fields_and_values_they_can_have() -> None:
    for name, field_info in Settings.model_fields.items():
        for other, wanted in info_of(field_info).applies_when.items():
            assert other in Settings.model_fields, (name, other)
            if wanted is not GIVEN:
                values = wanted if isinstance(wanted, tuple) else (wanted,)
                for value in values:
                    load_settings(**{other: value, "vertex_project": "p"})


def test_a_secret_field_is_of_a_type_that_hides_its_value() -> None:
    for name, field_info in Settings.model_fields.items():
        if info_of(field_info).secret:
            assert SecretStr in getattr(field_info.annotation, "__args__", ()), name


def test_a_field_with_its_own_variables_takes_the_prefixed_name_too() -> None:
    assert variables_of("api_key", Settings.model_fields["api_key"]) == (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "TALKBOX_API_KEY",
    )
    assert variables_of("voice", Settings.model_fields["voice"]) == ("TALKBOX_VOICE",)


def test_choices_are_not_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_BACKEND", "Gemini")
    monkeypatch.setenv("TALKBOX_TURN_DETECTION", "SERVER")
    monkeypatch.setenv("TALKBOX_LOG_LEVEL", "debug")
    monkeypatch.setenv("TALKBOX_VAD_END_SENSITIVITY", "Low")
    settings = load_settings()
    assert settings.backend == "gemini"
    assert settings.turn_detection == "server"
    assert settings.log_level == "DEBUG"
    assert settings.vad_end_sensitivity == "low"


@pytest.mark.parametrize(
    "variable",
    [
        "TALKBOX_API_KEY_FILE",
        "TALKBOX_CA_FILE",
        "TALKBOX_SYSTEM_INSTRUCTION_FILE",
        "TALKBOX_STATE_DIR",
    ],
)
def test_no_path_setting_accepts_a_tilde(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "~/somewhere")
    with pytest.raises(ConfigError, match="starts with ~"):
        load_settings()


def test_a_setting_that_does_not_apply_is_a_warning_naming_what_it_needs() -> None:
    warnings = load_config(vad_silence_ms=500, vertex_location="europe-west4").warnings
    assert (
        "TALKBOX_VAD_SILENCE_MS is ignored with TALKBOX_TURN_DETECTION=local: it applies only "
        "with TALKBOX_TURN_DETECTION=server"
    ) in warnings
    assert (
        "TALKBOX_VERTEX_LOCATION is ignored with TALKBOX_BACKEND=gemini: it applies only with "
        "TALKBOX_BACKEND=vertex"
    ) in warnings


def test_a_setting_that_needs_another_to_be_set_says_so(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    assert load_config(ca_file=pem).warnings == [
        "TALKBOX_CA_FILE is ignored: it applies only with TALKBOX_BASE_URL"
    ]
    assert load_config(ca_file=pem, base_url="https://127.0.0.1:8443").warnings == []


def test_a_setting_left_at_its_default_is_not_warned_about_where_it_does_not_apply() -> None:
    assert load_config(backend="vertex", vertex_project="p").warnings == []
    assert load_config(turn_detection="local").warnings == []
