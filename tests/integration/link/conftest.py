"""Helpers for the link's integration tests: settings pointing at an emulator, fast backoff.

The event recorder and the background runner are product code: `talkbox.fakes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkbox.config import Settings, load_settings
from talkbox.emulator import Emulator
from talkbox.live.backoff import RetryPolicy

# Backoff in fractions of a second so failure tests finish quickly; the shape is the real one.
FAST_POLICY = RetryPolicy(
    base_s=0.05,
    cap_s=0.4,
    quota_base_s=0.2,
    quota_cap_s=0.8,
    fatal_retry_s=30.0,
    stable_after_s=5.0,
)


def emulator_settings(emu: Emulator, state_dir: Path, **overrides: Any) -> Settings:
    """Settings that connect to `emu` with its test CA and keep state in `state_dir`."""
    values: dict[str, Any] = {
        "api_key": "emu-test-key",
        "base_url": emu.base_url,
        "ca_file": emu.ca_file,
        "state_dir": state_dir,
    }
    values.update(overrides)
    return load_settings(None, **values)
