"""What `run` refuses, `check` refuses first, in the same words, and neither is a traceback.

Each case is settings that load (every value is valid on its own) but describe a box that
cannot start. Before, `check` said OK to all of them and `run` exited 78 or crashed (exit 1:
a restart loop under systemd).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KEY = "AIzaSyCheckKey-abcdefghijklmnopqrstuvwx"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TALKBOX_", "NOTIFY_", "WATCHDOG_", "GEMINI_", "GOOGLE_"))
        and key not in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "INVOCATION_ID")
    }
    env.update(
        {
            "GEMINI_API_KEY": KEY,
            "STATE_DIRECTORY": str(tmp_path / "state"),
            "RUNTIME_DIRECTORY": str(tmp_path / "run"),
            # Nothing is opened before the preflight: these are never reached.
            "TALKBOX_CAPTURE_DEVICE": "null",
            "TALKBOX_PLAYBACK_DEVICE": "null",
            "TALKBOX_BASE_URL": "https://127.0.0.1:9",
            "GPIOZERO_PIN_FACTORY": "mock",
        }
    )
    env.update(extra)
    return env


def _talkbox(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "talkbox", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _not_json(tmp_path: Path) -> str:
    path = tmp_path / "broken.json"
    path.write_text('{"wake_word": "x"', encoding="utf-8")
    return str(path)


def _not_a_model(tmp_path: Path) -> str:
    path = tmp_path / "fake" / "fake.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"wake_word": "Fake", "model": "fake.tflite"}), encoding="utf-8")
    (path.parent / "fake.tflite").write_bytes(b"not a tflite model")
    return str(path)


CASES = {
    "rgb kind on a one-pin HAT LED": (
        {"TALKBOX_HAT": "aiy-voice-v1", "TALKBOX_LED_KIND": "rgb"},
        "TALKBOX_LED_KIND: rgb needs 3 pin(s), and the aiy-voice-v1 HAT's LED has 1 (GPIO25)",
    ),
    "button and LED on one pin": (
        {"TALKBOX_BUTTON_PIN": "17", "TALKBOX_LED_PINS": "17"},
        "TALKBOX_LED_PINS: GPIO17 is also the button's pin (TALKBOX_BUTTON_PIN)",
    ),
    "one pin for three colours": (
        {"TALKBOX_LED_KIND": "rgb", "TALKBOX_LED_PINS": "18,18,18", "TALKBOX_BUTTON_PIN": "17"},
        "TALKBOX_LED_PINS: GPIO18 named more than once",
    ),
    "an LED on the HAT's button pin": (
        {"TALKBOX_HAT": "aiy-voice-v1", "TALKBOX_LED_PINS": "23"},
        "TALKBOX_LED_PINS: GPIO23 is also the button's pin (the aiy-voice-v1 HAT)",
    ),
    "a wake word path that is a directory": (
        {"TALKBOX_WAKE_WORD": "{tmp}"},
        "TALKBOX_WAKE_WORD: {tmp} is a directory; name the model's JSON config file in it",
    ),
    "a wake word config that is not JSON": (
        {"TALKBOX_WAKE_WORD": "{not_json}"},
        "TALKBOX_WAKE_WORD: the model config {not_json} cannot be read as JSON",
    ),
    "a wake word model TFLite cannot load": (
        {"TALKBOX_WAKE_WORD": "{not_a_model}"},
        "TALKBOX_WAKE_WORD: ",
    ),
    "a state dir that cannot be made": (
        {"TALKBOX_STATE_DIR": "/proc/talkbox-nope"},
        "TALKBOX_STATE_DIR: /proc/talkbox-nope cannot be made or written by this user",
    ),
    "a runtime dir that cannot be made": (
        {"RUNTIME_DIRECTORY": "/proc/talkbox-nope"},
        "the control socket's directory /proc/talkbox-nope cannot be made or written",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_refuses_what_run_refuses_in_the_same_words(tmp_path: Path, case: str) -> None:
    extra, expected = CASES[case]
    paths = {"tmp": str(tmp_path), "not_json": "", "not_a_model": ""}
    if "{not_json}" in str(extra):
        paths["not_json"] = _not_json(tmp_path)
    if "{not_a_model}" in str(extra):
        paths["not_a_model"] = _not_a_model(tmp_path)
    env = _env(tmp_path, **{name: value.format(**paths) for name, value in extra.items()})
    expected = expected.format(**paths)

    check = _talkbox("check", env)
    run = _talkbox("run", env)

    assert check.returncode == 78, check.stdout + check.stderr
    assert run.returncode == 78, run.stderr
    first = f"talkbox: config error: {expected}"
    check_problems = [line for line in check.stderr.splitlines() if "config error" in line]
    run_problems = [line for line in run.stderr.splitlines() if "config error" in line]
    assert check_problems[0].startswith(first), check.stderr
    assert run_problems == check_problems
    for done in (check, run):
        assert "Traceback" not in done.stderr
    # run stopped before opening anything.
    assert "opened at" not in run.stderr


def test_a_box_nothing_can_open_a_turn_on_says_so_in_check_and_run(tmp_path: Path) -> None:
    env = _env(tmp_path, TALKBOX_LOG_LEVEL="INFO")
    check = _talkbox("check", env)
    assert check.returncode == 0, check.stderr
    assert "talkbox: warning: nothing can open a turn" in check.stderr
    daemon = subprocess.Popen(
        [sys.executable, "-m", "talkbox", "run"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stderr is not None
        seen = ""
        for line in daemon.stderr:
            seen += line
            if "nothing can open a turn" in line or "talkbox is up" in line:
                break
        assert "WARNING talkbox.run: config: nothing can open a turn" in seen, seen
    finally:
        daemon.terminate()
        daemon.wait(10)
        if daemon.stderr is not None:
            daemon.stderr.close()
