"""Home Assistant's wake word select, driven by its own client against the running appliance.

aioesphomeapi's APIClient lists the select with its options and the word in use, chooses
another, and sees the state follow; the real pymicro-wakeword detector then hears the new
word in synthesized speech (tests/data/wake) and no longer the old one, and the choice
survives a restart. Switching moves nothing else: no LED state, nothing sent to the model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from aioesphomeapi import SelectInfo

from talkbox.conversation import State

from .conftest import Box, MakeEmulator, audio_received, recording, until
from .test_home_assistant import Home, box_with_home_assistant, home_assistant

OKAY_NABU = "wake/okay_nabu-en-us.wav"
ALEXA = "wake/alexa-en-gb-x-rp.wav"
QUESTION = "question-weather.wav"
OPTIONS = ["off", "okay_nabu", "hey_jarvis", "alexa", "hey_mycroft"]


async def hears(box: Box, clip: str) -> bool:
    """Say `clip`; whether the box's wake word opened a turn (it is idle again after)."""
    wakes = box.app.counters.wake_words
    box.room.say(recording(clip))
    await until(lambda: not box.room.speaking, within=10, what="spoken")
    # The detector fires within the word's last frames; 3 s is ample under load.
    try:
        await until(lambda: box.app.counters.wake_words > wakes, within=3, what="woken")
    except AssertionError:
        return False
    await box.state_is(State.LISTENING, within=2)
    await box.state_is(State.IDLE, within=5)  # nothing asked: the turn ends unsent
    return True


async def choose(box: Box, home: Home, option: str) -> None:
    """Choose `option` in HA's select and wait until HA shows it."""
    home.client.select_command(home.key("wake_word"), option)
    await until(lambda: home.now("wake_word") == option, within=10, what=f"{option} in HA")
    assert box.app.status()["wake_word"]["in_use"] == option


async def test_home_assistant_switches_the_wake_word_and_the_choice_survives_a_restart(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"wake_word": "okay_nabu", "no_speech_timeout_s": 1.0}
    with caplog.at_level(logging.INFO):
        async with (
            box_with_home_assistant(make_emulator, tmp_path, key=None, **settings) as (box, port),
            home_assistant(port, None) as home,
        ):
            select = home.entities["wake_word"]
            assert isinstance(select, SelectInfo)
            assert select.options == OPTIONS
            await until(lambda: home.now("wake_word") == "okay_nabu", within=5, what="state")
            assert box.app.status()["wake_word"] == {
                "in_use": "okay_nabu",
                "chosen_by": "the env file",
            }
            await box.state_is(State.IDLE)
            shown = len(box.world.indicator.history)

            await choose(box, home, "alexa")
            # Privacy: the switch itself shows nothing and sends nothing.
            assert len(box.world.indicator.history) == shown
            assert audio_received(box.emulator) == b""
            # Loaded off the loop: the control task kept up with the microphone.
            assert box.app.counters.frames_dropped == 0
            assert box.app.status()["wake_word"]["chosen_by"].startswith("Home Assistant (")
            assert not await hears(box, OKAY_NABU)
            assert await hears(box, ALEXA)
            # Not an option: refused, nothing changes.
            home.client.select_command(home.key("wake_word"), "hey_siri")
            await until(lambda: "not offered" in caplog.text, within=5, what="refused")
            assert box.app.wake.label == "alexa"
    changes = [r for r in caplog.records if r.getMessage().startswith("wake word: okay_nabu ->")]
    assert len(changes) == 1
    assert changes[0].levelno == logging.INFO
    assert "alexa (chosen by Home Assistant (127.0.0.1:" in changes[0].getMessage()
    # One INFO line for the change: the new detector's own model line is DEBUG.
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [line for line in said if line.startswith("wake words: alexa")]
    assert not [line for line in said if "chooses the wake word" in line]
    stored = json.loads((tmp_path / "wake_word.json").read_text(encoding="utf-8"))
    assert stored == {"words": ["alexa"], "env": ["okay_nabu"]}

    # A restart listens for HA's choice, and HA sees it on connect.
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=None, **settings) as (box, port),
        home_assistant(port, None) as home,
    ):
        await until(lambda: home.now("wake_word") == "alexa", within=5, what="alexa on connect")
        await box.state_is(State.IDLE)
        assert not await hears(box, OKAY_NABU)
        assert await hears(box, ALEXA)


async def test_a_switch_during_a_turn_leaves_it_alone_and_off_then_on_works(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        box_with_home_assistant(
            make_emulator, tmp_path, key=None, follow_up_s=0, no_speech_timeout_s=1.0
        ) as (box, port),
        home_assistant(port, None) as home,
    ):
        # Button only: the select says off, and offers the built-in words.
        assert home.entities["wake_word"].options == OPTIONS
        await until(lambda: home.now("wake_word") == "off", within=5, what="off")
        assert box.app.parts.wake is None
        box.world.button.press()
        await box.state_is(State.LISTENING, within=5)
        await choose(box, home, "okay_nabu")
        # The turn goes on as if nothing happened: the question is heard and answered.
        box.room.say(recording(QUESTION))
        await box.state_is(State.THINKING, within=10)
        await box.state_is(State.SPEAKING, within=10)
        await box.state_is(State.IDLE, within=15)
        assert audio_received(box.emulator) != b""
        assert await hears(box, OKAY_NABU)
        # Off from HA: the detector is closed and nothing wakes the box.
        detector = box.app.parts.wake
        await choose(box, home, "off")
        assert box.app.parts.wake is None
        assert detector is not None
        assert getattr(detector, "models", None) == ()  # closed: its models released
        assert not await hears(box, OKAY_NABU)
