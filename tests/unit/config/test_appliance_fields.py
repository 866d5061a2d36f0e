from __future__ import annotations

import pytest

from talkbox.config import GpioFields, load_settings
from talkbox.errors import ConfigError


def test_led_pins_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_LED_PINS", "17, 27,22")
    monkeypatch.setenv("TALKBOX_LED_KIND", "RGB")
    settings = load_settings()
    assert settings.led_pins == (17, 27, 22)
    assert settings.led_kind == "rgb"
    assert GpioFields.unmet_needs(settings) == []


def test_led_pins_that_are_not_numbers_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_LED_PINS", "17,red")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].startswith("TALKBOX_LED_PINS: ")


def test_a_pin_count_that_does_not_fit_the_led_kind_is_an_unmet_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALKBOX_LED_PINS", "17,27")
    needs = GpioFields.unmet_needs(load_settings())
    assert len(needs) == 1
    assert needs[0].startswith("TALKBOX_LED_PINS: 17,27 is 2 pins, and TALKBOX_LED_KIND=led")


def test_a_button_without_resistor_needs_its_active_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKBOX_BUTTON_PULL", "none")
    assert GpioFields.unmet_needs(load_settings())[0].startswith("TALKBOX_BUTTON_ACTIVE_HIGH:")
    monkeypatch.setenv("TALKBOX_BUTTON_ACTIVE_HIGH", "false")
    assert GpioFields.unmet_needs(load_settings()) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TALKBOX_BUTTON_MODE", "press"),
        ("TALKBOX_VAD_AGGRESSIVENESS", "4"),
        ("TALKBOX_VOLUME", "101"),
        ("TALKBOX_MIC_GAIN", "31"),
        ("TALKBOX_PERIOD_MS", "2"),
        ("TALKBOX_HAT", "pimoroni"),
        ("TALKBOX_CAPTURE_DEVICE", " "),
        ("TALKBOX_ANSWER_TIMEOUT_S", "0.5"),
    ],
)
def test_an_appliance_value_out_of_range_is_one_problem_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{variable}: ")
