"""The Hands-free settings: wake words, their overrides, the VAD choice, speex."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymicro_wakeword import Model

from talkbox.config import BUILTIN_WAKE_WORDS, HandsFreeFields, load_config, load_settings
from talkbox.errors import ConfigError


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return caught.value.problems


def test_the_built_in_wake_words_are_the_ones_pymicro_wakeword_ships() -> None:
    assert set(BUILTIN_WAKE_WORDS) == {model.value for model in Model}


def test_wake_words_are_off_by_default_and_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().wake_word == ()
    monkeypatch.setenv("TALKBOX_WAKE_WORD", " Okay_Nabu, alexa ,")
    assert load_settings().wake_word == ("okay_nabu", "alexa")
    monkeypatch.setenv("TALKBOX_WAKE_WORD", "OFF")
    assert load_settings().wake_word == ()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("jarvis", "jarvis is neither a built-in wake word (okay_nabu, "),
        ("off,alexa", "off cannot be combined with wake words"),
        ("alexa,ALEXA", "ALEXA is named twice"),
        ("models/mine.json", "is not an absolute path"),
    ],
)
def test_a_wake_word_that_cannot_be_is_one_problem_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    found = problems(monkeypatch, TALKBOX_WAKE_WORD=value)
    assert len(found) == 1
    assert found[0].startswith("TALKBOX_WAKE_WORD: ")
    assert says in found[0]


def test_a_wake_word_model_file_that_is_not_there_stops_the_daemon(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "mine.json"
    monkeypatch.setenv("TALKBOX_WAKE_WORD", f"alexa,{missing}")
    assert HandsFreeFields.unmet_needs(load_settings()) == [
        f"TALKBOX_WAKE_WORD: the model config {missing} does not exist"
    ]
    missing.write_text("{}", encoding="utf-8")
    assert HandsFreeFields.unmet_needs(load_settings()) == []


def test_cutoffs_and_windows_are_read_per_wake_word_keyed_by_name_or_file_stem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = tmp_path / "hey_box.json"
    monkeypatch.setenv("TALKBOX_WAKE_WORD", f"okay_nabu,{model}")
    monkeypatch.setenv("TALKBOX_WAKE_CUTOFF", "okay_nabu=0.8, hey_box=0.95")
    monkeypatch.setenv("TALKBOX_WAKE_WINDOW", "HEY_BOX=7")
    settings = load_settings()
    assert settings.wake_cutoff == {"okay_nabu": 0.8, "hey_box": 0.95}
    assert settings.wake_window == {"hey_box": 7}


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TALKBOX_WAKE_CUTOFF", "alexa=0.8", "alexa, which is not one of the wake words"),
        ("TALKBOX_WAKE_CUTOFF", "okay_nabu=1.0", "not a probability above 0 and below 1"),
        ("TALKBOX_WAKE_CUTOFF", "okay_nabu", "okay_nabu is not NAME=VALUE"),
        ("TALKBOX_WAKE_CUTOFF", "okay_nabu=high", "sets okay_nabu to high, which is not a number"),
        ("TALKBOX_WAKE_CUTOFF", "okay_nabu=0.8,Okay_Nabu=0.9", "names okay_nabu twice"),
        ("TALKBOX_WAKE_WINDOW", "okay_nabu=0", "not a count from 1 to 50"),
        ("TALKBOX_WAKE_WINDOW", "okay_nabu=2.5", "sets okay_nabu to 2.5, which is not a whole"),
        ("TALKBOX_WAKE_WINDOW", "okay_nabu=3,okay_nabu=4", "names okay_nabu twice"),
    ],
)
def test_an_override_that_cannot_be_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    found = problems(monkeypatch, TALKBOX_WAKE_WORD="okay_nabu", **{variable: value})
    assert len(found) == 1
    assert found[0].startswith(f"{variable}: ")
    assert says in found[0]


def test_an_override_with_wake_words_off_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(monkeypatch, TALKBOX_WAKE_CUTOFF="okay_nabu=0.8")
    assert "none: TALKBOX_WAKE_WORD is off" in found[0]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TALKBOX_NOISE_SUPPRESSION", "off", None),
        ("TALKBOX_NOISE_SUPPRESSION", "2", 2),
        ("TALKBOX_AUTO_GAIN", "Off", None),
        ("TALKBOX_AUTO_GAIN", "-20", -20.0),
        ("TALKBOX_VAD", "Silero", "silero"),
    ],
)
def test_the_audio_cleaning_and_vad_choices_read_as_documented(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    field = variable.removeprefix("TALKBOX_").lower()
    assert getattr(load_settings(), field) == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TALKBOX_NOISE_SUPPRESSION", "5"),
        ("TALKBOX_NOISE_SUPPRESSION", "loud"),
        ("TALKBOX_AUTO_GAIN", "-3"),
        ("TALKBOX_VAD", "rnnoise"),
        ("TALKBOX_SILERO_THRESHOLD", "1"),
        ("TALKBOX_WAKE_REFRACTORY_S", "0.1"),
    ],
)
def test_a_hands_free_value_out_of_range_is_one_problem_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    found = problems(monkeypatch, **{variable: value})
    assert len(found) == 1
    assert found[0].startswith(f"{variable}: ")


def test_a_silero_threshold_with_webrtc_is_a_warning_that_it_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALKBOX_SILERO_THRESHOLD", "0.7")
    warnings = load_config().warnings
    assert any(w.startswith("TALKBOX_SILERO_THRESHOLD") and "ignored" in w for w in warnings)
    monkeypatch.setenv("TALKBOX_VAD", "silero")
    assert not any("TALKBOX_SILERO_THRESHOLD" in w for w in load_config().warnings)
