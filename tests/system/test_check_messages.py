"""Issue 16, item 22: `talkbox check` words each problem as a person needs it.

Each case runs the real command with one bad setting (and its variants): the line names the
variable, says what is wrong in the project's words (no Python exception text), quotes the
value at most once, and exits 78.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def check(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TALKBOX_", "GEMINI_", "GOOGLE_"))
    }
    env |= {"STATE_DIRECTORY": str(tmp_path / "state"), "GEMINI_API_KEY": "x", **settings}
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def the_problem(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 78, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "config error" in line]
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return errors[0].removeprefix("talkbox: config error: ")


WAKE = {"TALKBOX_WAKE_WORD": "okay_nabu"}


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        # A number that is not one, in the project's words, not int()'s.
        (
            {"TALKBOX_NOISE_SUPPRESSION": "on"},
            "TALKBOX_NOISE_SUPPRESSION: 'on' is neither off nor a number;",
        ),
        (
            {"TALKBOX_NOISE_SUPPRESSION": "2.5"},
            "TALKBOX_NOISE_SUPPRESSION: '2.5' is not a whole number;",
        ),
        ({"TALKBOX_AUTO_GAIN": "loud"}, "TALKBOX_AUTO_GAIN: 'loud' is neither off nor a number;"),
        # 2.5 is a number; as a count it is not a whole one.
        (
            {**WAKE, "TALKBOX_WAKE_WINDOW": "okay_nabu=2.5"},
            "TALKBOX_WAKE_WINDOW: sets okay_nabu to 2.5, which is not a whole number;",
        ),
        (
            {**WAKE, "TALKBOX_WAKE_WINDOW": "okay_nabu=five"},
            "TALKBOX_WAKE_WINDOW: sets okay_nabu to five, which is not a number;",
        ),
        (
            {**WAKE, "TALKBOX_WAKE_CUTOFF": "okay_nabu="},
            "TALKBOX_WAKE_CUTOFF: sets okay_nabu to nothing, which is not a number;",
        ),
        # A pin out of range is a range problem; a wrong count is a count problem.
        (
            {"TALKBOX_LED_KIND": "led", "TALKBOX_LED_PINS": "99"},
            "TALKBOX_LED_PINS: 99 is not a BCM GPIO number (0 to 53);",
        ),
        (
            {"TALKBOX_LED_KIND": "rgb", "TALKBOX_LED_PINS": "5,6,54"},
            "TALKBOX_LED_PINS: 54 in 5,6,54 is not a BCM GPIO number (0 to 53);",
        ),
        (
            {"TALKBOX_LED_KIND": "rgb", "TALKBOX_LED_PINS": "5,6"},
            "TALKBOX_LED_PINS: 5,6 is 2 pins, and TALKBOX_LED_KIND=rgb takes 3;",
        ),
        (
            {"TALKBOX_LED_PINS": "5,6,13"},
            "TALKBOX_LED_PINS: 5,6,13 is 3 pins, and TALKBOX_LED_KIND=led takes 1;",
        ),
        # A directory is called a directory.
        (
            {"TALKBOX_WAKE_WORD": "/tmp"},
            "TALKBOX_WAKE_WORD: /tmp is a directory; name the model's JSON config file in it",
        ),
        # The wake word is named once, not the whole value and then the entry again.
        (
            {"TALKBOX_WAKE_WORD": "hey"},
            "TALKBOX_WAKE_WORD: hey is neither a built-in wake word (okay_nabu, hey_jarvis, "
            "alexa, hey_mycroft) nor a path",
        ),
        (
            {"TALKBOX_WAKE_WORD": "alexa,hey_box"},
            "TALKBOX_WAKE_WORD: hey_box is neither a built-in wake word",
        ),
        (
            {"TALKBOX_WAKE_WORD": "okay_nabu,alexa,okay_nabu"},
            "TALKBOX_WAKE_WORD: okay_nabu is named twice;",
        ),
        # A name given twice is refused: one of the two values would be ignored.
        (
            {**WAKE, "TALKBOX_WAKE_CUTOFF": "okay_nabu=0.5,okay_nabu=0.7"},
            "TALKBOX_WAKE_CUTOFF: names okay_nabu twice;",
        ),
        (
            {**WAKE, "TALKBOX_WAKE_CUTOFF": "okay_nabu=0.5, OKAY_NABU=0.5"},
            "TALKBOX_WAKE_CUTOFF: names okay_nabu twice;",
        ),
        (
            {**WAKE, "TALKBOX_WAKE_WINDOW": "okay_nabu=3,okay_nabu=4"},
            "TALKBOX_WAKE_WINDOW: names okay_nabu twice;",
        ),
    ],
)
def test_each_problem_is_said_in_a_persons_words(
    tmp_path: Path, settings: dict[str, str], says: str
) -> None:
    problem = the_problem(check(tmp_path, **settings))
    assert problem.startswith(says), problem
    for python_words in ("invalid literal", "could not convert", "does not fit", "base 10"):
        assert python_words not in problem
    assert "does not exist" not in problem or "/tmp" not in problem


@pytest.mark.parametrize(
    ("settings", "value"),
    [
        ({"TALKBOX_WAKE_WORD": "jarvisbox"}, "jarvisbox"),
        ({"TALKBOX_WAKE_WORD": "alexa,alexa"}, "alexa"),
        ({**WAKE, "TALKBOX_WAKE_WINDOW": "okay_nabu=2.5"}, "2.5"),
        ({"TALKBOX_LED_PINS": "99"}, "99"),
    ],
)
def test_a_value_is_quoted_once(tmp_path: Path, settings: dict[str, str], value: str) -> None:
    problem = the_problem(check(tmp_path, **settings))
    assert problem.split("; allowed:")[0].count(value) == 1, problem
