"""The wake word select's options, and the store that keeps HA's choice across restarts."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from talkbox.appliance.wake_choice import FILE_NAME, Choice, WakeWordStore
from talkbox.config import wake_word_choices, wake_words_label
from talkbox.state_file import write_json

BUILTINS = {
    "okay_nabu": ("okay_nabu",),
    "hey_jarvis": ("hey_jarvis",),
    "alexa": ("alexa",),
    "hey_mycroft": ("hey_mycroft",),
}


def test_without_a_wake_word_the_select_offers_off_and_the_builtin_words() -> None:
    assert wake_word_choices(()) == {"off": (), **BUILTINS}
    assert wake_words_label(()) == "off"


def test_a_custom_model_is_offered_by_its_name_and_several_words_together() -> None:
    custom = "/opt/models/hey_box.json"
    choices = wake_word_choices(("alexa", custom))
    assert choices == {
        "off": (),
        "alexa, hey_box": ("alexa", custom),
        **BUILTINS,
        "hey_box": (custom,),
    }
    assert list(choices)[:2] == ["off", "alexa, hey_box"]
    assert wake_words_label(("alexa", custom)) == "alexa, hey_box"


def test_a_custom_model_named_like_a_builtin_one_replaces_it() -> None:
    custom = "/opt/models/alexa.json"
    choices = wake_word_choices((custom,))
    assert choices["alexa"] == (custom,)
    assert len(choices) == 5


def test_a_saved_choice_is_loaded_back_and_no_temp_file_is_left(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = WakeWordStore(state)
    choices = wake_word_choices(("okay_nabu",))
    assert store.load(choices, ("okay_nabu",)) is None
    assert store.save(Choice(words=("alexa",), env=("okay_nabu",)))
    assert WakeWordStore(state).load(choices, ("okay_nabu",)) == Choice(
        words=("alexa",), env=("okay_nabu",)
    )
    assert os.listdir(state) == [FILE_NAME]


def test_off_is_a_choice_that_is_kept(tmp_path: Path) -> None:
    store = WakeWordStore(tmp_path)
    store.save(Choice(words=(), env=("alexa",)))
    loaded = store.load(wake_word_choices(("alexa",)), ("alexa",))
    assert loaded == Choice(words=(), env=("alexa",))


def test_a_damaged_file_is_set_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE_NAME).write_text('{"words": "alexa"}', encoding="utf-8")
    with caplog.at_level(logging.INFO):
        assert WakeWordStore(tmp_path).load(wake_word_choices(()), ()) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "damaged" in caplog.text
    assert "using TALKBOX_WAKE_WORD (off)" in caplog.text
    assert (tmp_path / (FILE_NAME + ".rejected")).exists()
    assert not (tmp_path / FILE_NAME).exists()


def test_a_choice_whose_model_is_gone_is_set_aside_and_the_env_files_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "hey_box.json"
    model.write_text("{}", encoding="utf-8")
    env = ("okay_nabu", str(model))
    store = WakeWordStore(tmp_path / "state")
    store.save(Choice(words=(str(model),), env=env))
    assert store.load(wake_word_choices(env), env) is not None
    model.unlink()
    with caplog.at_level(logging.INFO):
        assert store.load(wake_word_choices(env), env) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"its model {model} is gone" in caplog.text
    assert "using TALKBOX_WAKE_WORD (okay_nabu, hey_box)" in caplog.text
    assert (tmp_path / "state" / (FILE_NAME + ".rejected")).exists()


def test_a_choice_no_longer_offered_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A custom model that is still on disk, but the env file no longer names it.
    other = tmp_path / "other.json"
    other.write_text("{}", encoding="utf-8")
    write_json(tmp_path / FILE_NAME, {"words": [str(other)], "env": ["alexa"]}, what="a test")
    with caplog.at_level(logging.WARNING):
        assert WakeWordStore(tmp_path).load(wake_word_choices(("alexa",)), ("alexa",)) is None
    assert "no longer offered" in caplog.text
    assert (tmp_path / (FILE_NAME + ".rejected")).exists()


def test_an_env_file_edited_after_the_choice_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = WakeWordStore(tmp_path)
    store.save(Choice(words=("alexa",), env=("okay_nabu",)))
    with caplog.at_level(logging.INFO):
        assert store.load(wake_word_choices(("hey_mycroft",)), ("hey_mycroft",)) is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "using the env file's hey_mycroft" in caplog.text
    assert not (tmp_path / FILE_NAME).exists()
    assert not (tmp_path / (FILE_NAME + ".rejected")).exists()


def test_a_store_that_cannot_be_written_warns_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert not WakeWordStore(blocker / "state").save(Choice(words=(), env=()))
    assert "cannot store the wake word" in caplog.text


def test_write_json_replaces_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    assert write_json(path, {"a": 1}, what="x")
    assert write_json(path, [2], what="x")
    assert json.loads(path.read_text(encoding="utf-8")) == [2]
    assert os.listdir(tmp_path) == ["x.json"]
