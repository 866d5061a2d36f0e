"""The wake word settings and every way a wake word can be unusable (a ConfigError at start)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from talkbox.errors import ConfigError
from talkbox.wake import (
    BUILTIN_WAKE_WORDS,
    WakeOptions,
    WakeWordDetector,
    WakeWordSpec,
    resolve_config,
)

OKAY_NABU_JSON = resolve_config("okay_nabu")


def custom_model(tmp_path: Path, **changes: object) -> Path:
    """A copy of the shipped okay_nabu model under another name, its config changed."""
    shutil.copy(OKAY_NABU_JSON.with_suffix(".tflite"), tmp_path / "my_word.tflite")
    config = json.loads(OKAY_NABU_JSON.read_text(encoding="utf-8"))
    config.update(model="my_word.tflite", wake_word="My Word", **changes)
    path = tmp_path / "my_word.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def detector(value: str, **options: float) -> WakeWordDetector:
    """A detector for comma-separated wake words (TALKBOX_WAKE_WORD is parsed by config)."""
    specs = tuple(WakeWordSpec(source=word) for word in value.split(","))
    return WakeWordDetector(WakeOptions(wake_words=specs, **options))


def test_the_shipped_models_are_listed_and_hey_jarvis_among_them() -> None:
    assert set(BUILTIN_WAKE_WORDS) == {"okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"}


def test_a_built_in_model_loads_with_its_own_cutoff_and_window() -> None:
    wake = detector("Okay_Nabu,hey_mycroft")
    nabu, mycroft = wake.models
    assert (nabu.id, nabu.wake_word, nabu.probability_cutoff, nabu.sliding_window) == (
        "okay_nabu",
        "Okay Nabu",
        0.85,
        5,
    )
    assert (mycroft.id, mycroft.probability_cutoff) == ("hey_mycroft", 0.95)
    assert "en" in nabu.trained_languages
    wake.close()
    assert wake.models == ()


def test_the_cutoff_and_window_can_be_overridden_per_model() -> None:
    spec = WakeWordSpec(source="alexa", probability_cutoff=0.6, sliding_window=8)
    (alexa,) = WakeWordDetector(WakeOptions(wake_words=(spec,))).models
    assert (alexa.probability_cutoff, alexa.sliding_window) == (0.6, 8)


def test_an_override_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="alexa: the sliding window 0 must be 1 to 50"):
        WakeWordSpec(source="alexa", sliding_window=0)


def test_a_custom_model_is_named_by_its_config_and_the_model_file_beside_it(
    tmp_path: Path,
) -> None:
    (model,) = detector(str(custom_model(tmp_path))).models
    assert (model.id, model.wake_word) == ("my_word", "My Word")
    assert model.model_path == tmp_path / "my_word.tflite"


def test_an_unknown_name_is_a_config_error_naming_the_setting_and_the_shipped_names() -> None:
    with pytest.raises(ConfigError) as caught:
        detector("okay_nabo")
    (problem,) = caught.value.problems
    assert problem.startswith("TALKBOX_WAKE_WORD: 'okay_nabo' is neither a built-in wake word")
    assert all(name in problem for name in BUILTIN_WAKE_WORDS)


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TALKBOX_WAKE_WORD: the model config .* does not exist"):
        detector(str(tmp_path / "nothing.json"))


def test_a_directory_named_as_the_config_is_called_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        detector(str(tmp_path))
    assert caught.value.problems == [
        f"TALKBOX_WAKE_WORD: {tmp_path} is a directory; name the model's JSON config file in it"
    ]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "cannot be read as JSON"),
        ('["micro"]', 'is not a microWakeWord config \\(its "type" must be "micro"\\)'),
        ('{"type": "openwakeword", "model": "x.onnx"}', "is not a microWakeWord config"),
        ('{"type": "micro", "model": "x.tflite", "micro": {}}', 'lacks "model", "wake_word"'),
        (
            '{"type": "micro", "model": "x.tflite", "wake_word": "X", "micro": {}}',
            'lacks "micro": {"probability_cutoff", "sliding_window_size"}',
        ),
    ],
)
def test_a_config_that_is_not_a_micro_wake_word_config_is_a_config_error(
    tmp_path: Path, content: str, why: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"TALKBOX_WAKE_WORD: the model config .*bad.json {why}"):
        detector(str(path))


def test_a_config_naming_a_missing_model_file_is_a_config_error(tmp_path: Path) -> None:
    path = custom_model(tmp_path)
    (tmp_path / "my_word.tflite").unlink()
    with pytest.raises(ConfigError, match=r"names the model file .*my_word.tflite, which does not"):
        detector(str(path))


def test_a_config_with_an_unusable_cutoff_is_a_config_error(tmp_path: Path) -> None:
    path = custom_model(tmp_path, micro={"probability_cutoff": 1.5, "sliding_window_size": 5})
    with pytest.raises(ConfigError, match=r"is unusable: the probability cutoff 1\.5 must be"):
        detector(str(path))


def test_a_model_file_that_is_not_a_tflite_model_is_a_config_error_not_a_crash(
    tmp_path: Path,
) -> None:
    # pymicro-wakeword alone dereferences the NULL model TFLite returns (SIGSEGV), so this
    # runs in a child process: a regression kills the child, not the test run.
    path = custom_model(tmp_path)
    (tmp_path / "my_word.tflite").write_bytes(bytes(range(256)) * 8)
    code = (
        "import sys\n"
        "from talkbox.errors import ConfigError\n"
        "from talkbox.wake import WakeOptions, WakeWordDetector, WakeWordSpec\n"
        "try:\n"
        "    WakeWordDetector(WakeOptions(wake_words=(WakeWordSpec(source=sys.argv[1]),)))\n"
        "except ConfigError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("TALKBOX_WAKE_WORD: ")
    assert "my_word.tflite is not a TFLite model" in result.stdout


def test_the_same_model_twice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="names okay_nabu a second time"):
        detector(f"okay_nabu,{OKAY_NABU_JSON}")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"probability_cutoff": 0.0}, "the probability cutoff 0.0 must be between 0 and 1"),
        ({"probability_cutoff": 1.0}, "the probability cutoff 1.0 must be between 0 and 1"),
        ({"probability_cutoff": float("nan")}, "the probability cutoff nan must be"),
        ({"sliding_window": 0}, "the sliding window 0 must be 1 to 50 invocations"),
        ({"sliding_window": 51}, "the sliding window 51 must be 1 to 50 invocations"),
    ],
)
def test_overrides_out_of_range_are_config_errors(spec: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=f"TALKBOX_WAKE_WORD: alexa: {message}"):
        WakeWordSpec(source="alexa", **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("refractory_s", [0.4, 10.5])
def test_a_refractory_time_out_of_range_is_a_config_error(refractory_s: float) -> None:
    with pytest.raises(ConfigError, match=r"TALKBOX_WAKE_REFRACTORY_S must be between 0\.5 and 10"):
        WakeOptions(wake_words=(WakeWordSpec(source="alexa"),), refractory_s=refractory_s)


def test_options_without_a_wake_word_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="name at least one wake word, or set it to off"):
        WakeOptions(wake_words=())


def test_audio_with_half_a_sample_is_refused() -> None:
    wake = detector("alexa")
    with pytest.raises(ValueError, match="even number of bytes"):
        wake.process(bytes(641))
    assert wake.process(bytes(640)) is None
    assert wake.audio_s == pytest.approx(0.02)
