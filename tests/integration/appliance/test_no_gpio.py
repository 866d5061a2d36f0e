"""A machine without GPIO: one WARNING, and the box runs without button and LED."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from talkbox.appliance.parts import gpio_parts
from talkbox.config import load_settings


async def test_without_gpio_hardware_one_warning_and_no_button_or_led(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    settings = load_settings(None, state_dir=tmp_path, hat="aiy-voice-v1")
    with caplog.at_level(logging.WARNING):
        async with gpio_parts(settings, lambda event: None) as (button, led):
            assert button is None
            assert led is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "running without button and LED" in warnings[0].getMessage()
