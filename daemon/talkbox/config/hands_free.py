"""The Hands-free area: the wake word, and what cleans up the microphone's audio first.

The wake words are checked here as a setting can be: a built-in name, or an absolute
path to a model's JSON config that exists. Whether the model loads is `talkbox.hearing.wake`'s
question, asked when the daemon starts (config imports no adapter: tests/unit/test_layers.py).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated, Final

from pydantic import BeforeValidator, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from talkbox.config.fields import Area, Problem, check_local_path, setting
from talkbox.config.files import probe

BUILTIN_WAKE_WORDS: Final = ("okay_nabu", "hey_jarvis", "alexa", "hey_mycroft")
"""The models pymicro-wakeword ships (a test holds this to the library's own list)."""
OFF: Final = "off"
"""The value that turns a feature of this area off."""


def _entries(value: str) -> list[str]:
    entries = [entry.strip() for entry in value.split(",")]
    return [entry for entry in entries if entry]


def _wake_words(value: object) -> object:
    # systemd env files have no lists: wake words are comma-separated.
    if not isinstance(value, str):
        return value
    entries = _entries(value)
    if not entries or (len(entries) == 1 and entries[0].lower() == OFF):
        return ()
    words: list[str] = []
    for entry in entries:
        if entry.lower() == OFF:
            raise Problem("off cannot be combined with wake words")
        if entry.lower() in BUILTIN_WAKE_WORDS:
            words.append(entry.lower())
        elif entry.endswith(".json") or "/" in entry:
            words.append(str(check_local_path(Path(entry), absolute=True)))
        else:
            # The entry is named once, as written: the whole value is not repeated before it.
            builtin = ", ".join(BUILTIN_WAKE_WORDS)
            raise Problem(
                f"{entry} is neither a built-in wake word ({builtin}) nor a path to a model's "
                "JSON config",
                show_input=False,
            )
        if words.count(words[-1]) > 1:
            raise Problem(f"{entry} is named twice", show_input=False)
    return tuple(words)


def wake_word_key(word: str) -> str:
    """The name a wake word's overrides use: the built-in name, or its JSON config's stem."""
    return word if word in BUILTIN_WAKE_WORDS else Path(word).stem


def wake_word_choices(words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What Home Assistant's wake word select offers, by its option: the wake words it stands for.

    Off, each built-in model, each custom model TALKBOX_WAKE_WORD names, and, when it names
    several, all of them together (its default). An option is written as the settings name
    its words (`wake_word_key`, comma-separated); a custom model named like a built-in one
    replaces it.
    """
    customs = {wake_word_key(word): word for word in words if word not in BUILTIN_WAKE_WORDS}
    choices: dict[str, tuple[str, ...]] = {OFF: ()}
    if len(words) > 1:
        choices[wake_words_label(words)] = words
    for name in BUILTIN_WAKE_WORDS:
        choices[name] = (customs.pop(name, name),)
    for key, word in customs.items():
        choices.setdefault(key, (word,))
    return choices


def wake_words_label(words: tuple[str, ...]) -> str:
    """Wake words as one option of the select: their keys, comma-separated; off for none."""
    return ", ".join(wake_word_key(word) for word in words) or OFF


def _number(text: str, kind: type[float] | type[int]) -> float | int | None:
    """`text` as `kind`, or None; `_not_number` says why not."""
    try:
        return kind(text)
    except ValueError:
        return None


def _not_number(text: str) -> str:
    # 2.5 is a number, only not a whole one: a count must be told so.
    try:
        float(text)
    except ValueError:
        return "not a number"
    return "not a whole number"


def _per_model(kind: type[float] | type[int]) -> BeforeValidator:
    def parse(value: object) -> object:
        # "okay_nabu=0.8,alexa=0.9": one value per wake word, keyed as wake_word_key says.
        if not isinstance(value, str):
            return value
        found: dict[str, float | int] = {}
        for entry in _entries(value):
            key, equals, number = entry.partition("=")
            key = key.strip().lower()
            if not equals or not key:
                raise Problem(f"{entry} is not NAME=VALUE", show_input=False)
            if key in found:
                # One of the two would be ignored, silently: say so instead.
                raise Problem(f"names {key} twice", show_input=False)
            parsed = _number(number.strip(), kind)
            if parsed is None:
                text = number.strip() or "nothing"
                raise Problem(
                    f"sets {key} to {text}, which is {_not_number(number.strip())}",
                    show_input=False,
                )
            found[key] = parsed
        return found

    return BeforeValidator(parse)


WakeWords = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_wake_words)]
"""WAKE_WORD: built-in names and model paths; () is off."""
Cutoffs = Annotated[dict[str, float], NoDecode, _per_model(float)]
"""WAKE_CUTOFF: a probability cutoff per wake word."""
Windows = Annotated[dict[str, int], NoDecode, _per_model(int)]
"""WAKE_WINDOW: a sliding window per wake word."""


def _off_or(kind: type[float] | type[int]) -> BeforeValidator:
    def parse(value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in (OFF, ""):
            return None
        if not isinstance(value, str):
            return value
        parsed = _number(value.strip(), kind)
        if parsed is None:
            # Not Python's "invalid literal for int() with base 10": a person's words.
            why = _not_number(value.strip())
            raise Problem("is neither off nor a number" if why == "not a number" else f"is {why}")
        return parsed

    return BeforeValidator(parse)


NoiseLevel = Annotated[int | None, NoDecode, _off_or(int)]
"""NOISE_SUPPRESSION: off, or a level."""
GainTarget = Annotated[float | None, NoDecode, _off_or(float)]
"""AUTO_GAIN: off, or a target loudness."""


class HandsFreeFields(Area):
    """Hands-free: the wake word, and cleaning the microphone's audio before anything hears it."""

    wake_word: WakeWords = setting(
        (),
        doc="Wake words that open a turn as a tap does, heard on the box (nothing is sent "
        "before one): off, or comma-separated built-in names (okay_nabu, alexa, hey_mycroft, "
        "hey_jarvis) or absolute paths to a microWakeWord model's JSON config. The default: "
        "Home Assistant's Wake word select can choose another (or off) at run time, kept in the "
        "state dir until this setting changes.",
        allowed="off, or built-in names and .json paths separated by commas",
    )
    wake_refractory_s: float = setting(
        2.0,
        doc="After a wake word, how long no wake word fires again (one utterance fires once).",
        allowed="seconds, 0.5 to 10",
        ge=0.5,
        le=10.0,
    )
    wake_cutoff: Cutoffs = setting(
        default_factory=dict,
        doc="Probability cutoffs overriding the models' own, per wake word, e.g. "
        "okay_nabu=0.8,alexa=0.9 (higher: fewer false wakes, more missed words). Empty: "
        "each model's.",
        allowed="NAME=number pairs, each number above 0 and below 1, NAME one of the wake words",
    )
    wake_window: Windows = setting(
        default_factory=dict,
        doc="Sliding windows overriding the models' own, per wake word, in model steps of "
        "30 ms, e.g. okay_nabu=5. Empty: each model's.",
        allowed="NAME=count pairs, each count 1 to 50, NAME one of the wake words",
    )
    noise_suppression: NoiseLevel = setting(
        None,
        doc="Speex noise suppression on the microphone, before the VAD, the wake word and the "
        "uplink: off, or 1 to 4 (up to 15, 30, 45 or 60 dB of steady noise taken away).",
        allowed="off, or 1 to 4",
        ge=1,
        le=4,
    )
    auto_gain: GainTarget = setting(
        None,
        doc="Speex automatic gain on the microphone: off, or the loudness to aim at in dBFS "
        "(e.g. -20), for a mic across the room.",
        allowed="off, or dBFS, -30 to -6",
        ge=-30.0,
        le=-6.0,
    )

    @field_validator("wake_cutoff", "wake_window")
    @classmethod
    def _check_overrides(
        cls, given: dict[str, float] | dict[str, int], info: ValidationInfo
    ) -> dict[str, float] | dict[str, int]:
        # wake_word is declared first, so it is validated (or failed) by now.
        words = info.data.get("wake_word")
        if words is None:
            return given
        keys = {wake_word_key(word) for word in words}
        for key, value in given.items():
            if key not in keys:
                named = ", ".join(sorted(keys)) or "none: TALKBOX_WAKE_WORD is off"
                raise Problem(
                    f"names {key}, which is not one of the wake words ({named})", show_input=False
                )
            if isinstance(value, float) and not 0.0 < value < 1.0:
                raise Problem(
                    f"sets {key} to {value}, not a probability above 0 and below 1",
                    show_input=False,
                )
            if isinstance(value, int) and not 1 <= value <= 50:
                raise Problem(f"sets {key} to {value}, not a count from 1 to 50", show_input=False)
        return given

    def unmet_needs(self) -> list[str]:
        """A wake word model file that is not there stops the daemon."""
        problems: list[str] = []
        for word in self.wake_word:
            if word in BUILTIN_WAKE_WORDS:
                continue
            try:
                found = probe(Path(word))
            except Problem as problem:
                problems.append(f"TALKBOX_WAKE_WORD: {problem}")
                continue
            if found is None:
                problems.append(f"TALKBOX_WAKE_WORD: the model config {word} does not exist")
            elif stat.S_ISDIR(found.st_mode):
                problems.append(
                    f"TALKBOX_WAKE_WORD: {word} is a directory; name the model's JSON config "
                    "file in it"
                )
        return problems
