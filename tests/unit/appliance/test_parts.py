from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.appliance.parts import button_options, endpoint_options, led_options, turn_options
from talkbox.config import HAT_NAMES, load_settings
from talkbox.conversation import LedKind, Mode, TurnOptions
from talkbox.gpio import HATS, ButtonOptions, LedOptions
from talkbox.hearing.endpoint import EndpointOptions


@pytest.fixture(autouse=True)
def _state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))


def test_a_hat_preset_fills_in_its_button_and_led() -> None:
    settings = load_settings(None, hat="aiy-voice-v1")
    button = button_options(settings)
    led = led_options(settings)
    assert button is not None
    assert button.pin == 23
    assert led is not None
    assert (led.kind, led.pins) == (LedKind.PWM, (25,))


def test_pins_given_override_the_hat() -> None:
    settings = load_settings(None, hat="aiy-voice-v1", button_pin=5, led_pins=(6,))
    button, led = button_options(settings), led_options(settings)
    assert button is not None
    assert button.pin == 5
    assert led is not None
    assert (led.kind, led.pins) == (LedKind.LED, (6,))


def test_without_pins_or_hat_there_is_no_button_and_no_led() -> None:
    settings = load_settings(None)
    assert button_options(settings) is None
    assert led_options(settings) is None


def test_an_external_resistor_button_reads_its_active_level() -> None:
    settings = load_settings(None, button_pin=5, button_pull="none", button_active_high=True)
    button = button_options(settings)
    assert button is not None
    assert (button.pull_up, button.active_high) == (None, True)


def test_the_turn_settings_reach_the_conversation() -> None:
    settings = load_settings(None, button_mode="hold", follow_up_s=0, answer_timeout_s=3)
    options = turn_options(settings)
    assert (options.mode, options.follow_up_s, options.answer_timeout_s) == (Mode.HOLD, 0, 3)


# One source of truth: each part's options repeat its settings' defaults (the parts stay
# usable without Settings); these tests tie the two together, so neither drifts alone.


def test_the_endpointer_s_defaults_are_the_settings_defaults() -> None:
    assert endpoint_options(load_settings(None)) == EndpointOptions()


def test_the_conversation_s_defaults_are_the_settings_defaults() -> None:
    defaults = turn_options(load_settings(None))
    assert defaults == TurnOptions(mode=defaults.mode, failure_shown_s=defaults.failure_shown_s)
    assert defaults.mode is TurnOptions().mode


def test_the_button_s_defaults_are_the_settings_defaults() -> None:
    assert button_options(load_settings(None, button_pin=5)) == ButtonOptions(pin=5)


def test_the_led_s_defaults_are_the_settings_defaults() -> None:
    led = led_options(load_settings(None, led_pins=(6,)))
    assert led == LedOptions(kind=LedKind.LED, pins=(6,))


def test_the_hat_names_the_settings_take_are_the_hats_gpio_knows() -> None:
    assert set(HAT_NAMES) == set(HATS)
