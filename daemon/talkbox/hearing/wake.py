"""Wake words on the device: the pymicro-wakeword adapter (the only pymicro_wakeword importer).

Usage, frame by frame (20 ms of 16 kHz mono S16_LE each), as the appliance's control task
feeds it each microphone frame (`talkbox.appliance.app`)::

    detector = WakeWordDetector(WakeOptions(wake_words=(WakeWordSpec(source="okay_nabu"),)))
    ...
    if (detection := detector.process(frame)) is not None:
        ...  # open a turn, as a tap would

pymicro-wakeword runs microWakeWord's streaming TFLite models (its wheel ships the TFLite C
runtime and the models okay_nabu, hey_jarvis, alexa and hey_mycroft). One feature front end
(40 spectral features every 10 ms, from pymicro-features) is shared by all the models; each
model is invoked once per stride of three feature windows (every 30 ms), and its
probabilities are averaged over a sliding window of invocations: the wake word is detected
when the average exceeds the model's probability cutoff. A frame costs about 0.05 ms of CPU
per model on x86 (`benchmarks/wake.py`), so the detector runs inline in the control task,
behind the capture queue: the ALSA thread never waits for it.

One utterance fires once: a model fires when its average rises over the cutoff, not while
it stays there (it does for a second or more after the word), and after a detection nothing
fires for `refractory_s` of audio (an utterance's average can dip and rise again). Time
here is audio time, counted in samples since `reset()`, never a clock, so the same audio
always gives the same detections.

A model is named by a built-in name or by the path to its JSON config (microWakeWord's
format: `type` "micro", `wake_word`, `model` (the .tflite, relative to the JSON), and
`micro.probability_cutoff` / `micro.sliding_window_size`). A name or file that cannot be
used is a `ConfigError` naming TALKBOX_WAKE_WORD, raised when the detector is built, never
later: TFLite itself would crash the process on a corrupt model, so each model file is
checked by TFLite's own loader before the library touches it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pymicro_wakeword
from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
from pymicro_wakeword.wakeword import TfLiteWakeWord

from talkbox.audio.format import INPUT_RATE_HZ, SAMPLE_BYTES
from talkbox.errors import ConfigError

log = logging.getLogger(__name__)

SETTING = "TALKBOX_WAKE_WORD"
"""The setting that names the wake words (errors name it)."""
BUILTIN_WAKE_WORDS: tuple[str, ...] = tuple(model.value for model in Model)
"""The models pymicro-wakeword ships, by name."""
DEFAULT_REFRACTORY_S = 2.0
"""Audio after a detection in which nothing fires again (WAKE_REFRACTORY_S)."""
REFRACTORY_RANGE_S = (0.5, 10.0)
"""The refractory times allowed: long enough for one utterance, short enough to ask again."""
WINDOW_RANGE = (1, 50)
"""Sliding windows allowed, in model invocations (30 ms each for the shipped models)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeWordSpec:
    """One wake word to listen for, and its overrides of the model's own settings."""

    source: str
    """A built-in model's name (BUILTIN_WAKE_WORDS) or the path to a model's JSON config."""
    probability_cutoff: float | None = None
    """Detect when the averaged probability exceeds this (0 < p < 1); None: the model's."""
    sliding_window: int | None = None
    """How many model invocations are averaged (WINDOW_RANGE); None: the model's."""

    def __post_init__(self) -> None:
        """Refuse overrides no model could work with."""
        problem = _settings_problem(self.probability_cutoff, self.sliding_window)
        if problem:
            raise ConfigError([f"{SETTING}: {self.source}: {problem}"])


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeOptions:
    """What the detector listens for (TALKBOX_* in brackets)."""

    wake_words: tuple[WakeWordSpec, ...]
    """The wake words, any of which opens a turn (WAKE_WORD); at least one."""
    refractory_s: float = DEFAULT_REFRACTORY_S
    """Audio after a detection in which no wake word fires again (WAKE_REFRACTORY_S)."""

    def __post_init__(self) -> None:
        """Refuse options no detector could work with."""
        if not self.wake_words:
            raise ConfigError([f"{SETTING}: name at least one wake word, or set it to off"])
        low, high = REFRACTORY_RANGE_S
        if not low <= self.refractory_s <= high:
            raise ConfigError(
                [
                    f"TALKBOX_WAKE_REFRACTORY_S must be between {low} and {high} seconds, "
                    f"not {self.refractory_s}"
                ]
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeWordModel:
    """A model as loaded: where it came from and the settings it runs with."""

    id: str
    """The model's id (its .tflite file's stem, e.g. okay_nabu); names it in detections."""
    wake_word: str
    """The phrase, as the model's config spells it (e.g. "Okay Nabu")."""
    config_path: Path
    """The JSON config it was loaded from."""
    model_path: Path
    """The TFLite model that config names."""
    probability_cutoff: float
    """The cutoff in use (the override, else the model's)."""
    sliding_window: int
    """The window in use, in invocations (the override, else the model's)."""
    trained_languages: tuple[str, ...]
    """The languages the model was trained on (from its config; may be empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """A wake word was heard."""

    model_id: str
    """Which model fired (WakeWordModel.id)."""
    wake_word: str
    """Its phrase (e.g. "Okay Nabu")."""
    probability: float
    """The averaged probability that crossed the cutoff."""
    audio_s: float
    """Audio time at the end of the frame that fired, in seconds since the last reset()."""


def resolve_config(source: str) -> Path:
    """The JSON config a wake word names: a built-in model's, or the path given."""
    if source.lower() in BUILTIN_WAKE_WORDS:
        return Path(pymicro_wakeword.__file__).parent / "models" / f"{source.lower()}.json"
    if "/" not in source and not source.endswith(".json"):
        builtin = ", ".join(BUILTIN_WAKE_WORDS)
        raise ConfigError(
            [
                f"{SETTING}: {source!r} is neither a built-in wake word ({builtin}) "
                "nor a path to a model's JSON config"
            ]
        )
    path = Path(source).expanduser()
    if path.is_dir():
        raise ConfigError(
            [f"{SETTING}: {source} is a directory; name the model's JSON config file in it"]
        )
    if not path.is_file():
        raise ConfigError(
            [f"{SETTING}: the model config {source} does not exist (a path to a JSON config)"]
        )
    return path


class WakeWordDetector:
    """Listens for wake words in the 16 kHz capture stream; `process()` one frame at a time."""

    def __init__(self, options: WakeOptions, *, quiet: bool = False) -> None:
        """Load every model now, so a bad one is a ConfigError at start (see the module doc).

        The models in use are logged at INFO, or at DEBUG when `quiet` (a switch at run time
        logs its own line).
        """
        self.options = options
        library = _tflite_library()
        loaded: list[tuple[WakeWordModel, MicroWakeWord]] = []
        for spec in options.wake_words:
            model = _describe(spec)
            if model.id in {m.id for m, _ in loaded}:
                raise ConfigError([f"{SETTING}: {spec.source} names {model.id} a second time"])
            loaded.append((model, _load(model, library)))
        self.models: tuple[WakeWordModel, ...] = tuple(model for model, _ in loaded)
        self._runners = [runner for _, runner in loaded]
        self._features = MicroWakeWordFeatures()
        self._refractory_samples = round(options.refractory_s * INPUT_RATE_HZ)
        self._samples = 0
        self._quiet_until = 0
        self._armed = [True] * len(self.models)
        self._windows = [0] * len(self.models)
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "wake words: %s (refractory %.1f s)",
            ", ".join(
                f"{m.id} (cutoff {m.probability_cutoff:.2f}, window {m.sliding_window})"
                for m in self.models
            ),
            options.refractory_s,
        )

    def process(self, frame: bytes) -> Detection | None:
        """Take the next audio (20 ms frames; any whole number of samples); a detection or None.

        At most one detection per call. A model fires when its probability rises over its
        cutoff, outside the refractory time; while refractory the models still run (their
        windows must follow the audio), and a model that rises over its cutoff then must
        fall below it again before it can fire.
        """
        if len(frame) % SAMPLE_BYTES:
            raise ValueError(f"16-bit audio has an even number of bytes, not {len(frame)}")
        self._samples += len(frame) // SAMPLE_BYTES
        found: Detection | None = None
        for features in self._features.process_streaming(frame):
            for index, (model, runner) in enumerate(zip(self.models, self._runners, strict=True)):
                probability = runner.process_streaming_prob(features)
                # The model runs on every stride-th window and answers 0.0 in between:
                # only its real answers count (a 0.0 would re-arm it).
                self._windows[index] += 1
                if probability is None or self._windows[index] % runner.stride:
                    continue
                if probability <= model.probability_cutoff:
                    self._armed[index] = True
                    continue
                if not self._armed[index]:
                    continue
                # Over the cutoff: this rise is spent, whether it fires or falls in the
                # refractory time (else it would fire the moment that time ends).
                self._armed[index] = False
                if found is None and self._samples >= self._quiet_until:
                    found = Detection(
                        model_id=model.id,
                        wake_word=model.wake_word,
                        probability=probability,
                        audio_s=self._samples / INPUT_RATE_HZ,
                    )
                    self._quiet_until = self._samples + self._refractory_samples
        return found

    @property
    def audio_s(self) -> float:
        """Audio processed since the last reset(), in seconds."""
        return self._samples / INPUT_RATE_HZ

    def reset(self) -> None:
        """Forget all audio (a new stream, e.g. after the mute): features, windows, time."""
        self._features.reset()
        for runner in self._runners:
            runner.reset()
        self._samples = 0
        self._quiet_until = 0
        self._armed = [True] * len(self.models)
        self._windows = [0] * len(self.models)

    def close(self) -> None:
        """Release the TFLite interpreters; the detector cannot be used afterwards."""
        for runner in self._runners:
            runner.close()
        self._runners = []
        self.models = ()


def _tflite_library() -> Path:
    # Where MicroWakeWord.from_config looks first: the wheel ships the runtime in the package.
    found = sorted((Path(pymicro_wakeword.__file__).parent / "lib").glob("*tensorflowlite_c.*"))
    if not found:
        raise ConfigError(
            [f"{SETTING}: pymicro-wakeword's TFLite runtime is missing; reinstall it"]
        )
    return found[0]


def _describe(spec: WakeWordSpec) -> WakeWordModel:
    path = resolve_config(spec.source)

    def bad(why: str) -> ConfigError:
        return ConfigError([f"{SETTING}: the model config {path} {why}"])

    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad(f"cannot be read as JSON ({error})") from error
    if not isinstance(config, dict) or config.get("type") != "micro":
        raise bad('is not a microWakeWord config (its "type" must be "micro")')
    micro = config.get("micro")
    model_file, phrase = config.get("model"), config.get("wake_word")
    if (
        not isinstance(model_file, str)
        or not isinstance(phrase, str)
        or not isinstance(micro, dict)
    ):
        raise bad('lacks "model", "wake_word" or "micro"')
    cutoff = micro.get("probability_cutoff")
    window = micro.get("sliding_window_size")
    if not isinstance(cutoff, int | float) or not isinstance(window, int):
        raise bad('lacks "micro": {"probability_cutoff", "sliding_window_size"}')
    tflite = path.parent / model_file
    if not tflite.is_file():
        raise bad(f"names the model file {tflite}, which does not exist")
    languages = config.get("trained_languages", [])
    chosen = spec.probability_cutoff if spec.probability_cutoff is not None else float(cutoff)
    model = WakeWordModel(
        id=tflite.stem,
        wake_word=phrase,
        config_path=path,
        model_path=tflite,
        probability_cutoff=chosen,
        sliding_window=spec.sliding_window if spec.sliding_window is not None else window,
        trained_languages=tuple(str(x) for x in languages) if isinstance(languages, list) else (),
    )
    # A config's own values can be out of range too.
    problem = _settings_problem(model.probability_cutoff, model.sliding_window)
    if problem:
        raise bad(f"is unusable: {problem}")
    return model


def _settings_problem(cutoff: float | None, window: int | None) -> str | None:
    if cutoff is not None and not 0.0 < cutoff < 1.0:  # also refuses NaN
        return f"the probability cutoff {cutoff} must be between 0 and 1 (exclusive)"
    low, high = WINDOW_RANGE
    if window is not None and not low <= window <= high:
        return f"the sliding window {window} must be {low} to {high} invocations"
    return None


def _load(model: WakeWordModel, library: Path) -> MicroWakeWord:
    tflite = model.model_path
    # pymicro-wakeword dereferences the model TFLite returns without checking it: a file that
    # is not a TFLite flatbuffer would crash the process (SIGSEGV), so TFLite checks it first.
    runtime = TfLiteWakeWord(library).lib
    handle = runtime.TfLiteModelCreateFromFile(str(tflite.resolve()).encode("utf-8"))
    if not handle:
        raise ConfigError([f"{SETTING}: {tflite} is not a TFLite model"])
    runtime.TfLiteModelDelete(handle)
    try:
        return MicroWakeWord(
            model.id,
            wake_word=model.wake_word,
            tflite_model=tflite,
            probability_cutoff=model.probability_cutoff,
            sliding_window_size=model.sliding_window,
            trained_languages=list(model.trained_languages),
            libtensorflowlite_c_path=library,
        )
    except (ValueError, RuntimeError) as error:
        # Raised for tensors of an unsupported type or a model without the streaming shape.
        raise ConfigError(
            [f"{SETTING}: {tflite} is not a microWakeWord model ({error})"]
        ) from error
