from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SECRET = "AIzaSySystemTestKey-0123456789abcdefghi"


def talkbox_check(
    config: Path, tmp_path: Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    # The conftest already cleared TALKBOX_* and key variables from os.environ.
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state"), **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_check_shows_a_good_config_with_the_key_masked_and_sources(tmp_path: Path) -> None:
    config = tmp_path / "talkbox.env"
    config.write_text(
        f"GEMINI_API_KEY={SECRET}\nTALKBOX_VOICE=Kore\nTALKBOX_IDLE_DISCONNECT_S=0\n",
        encoding="utf-8",
    )
    result = talkbox_check(config, tmp_path, TALKBOX_LANGUAGE="en-GB")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    lines = {line.split(" ", 1)[0]: line for line in result.stdout.splitlines()}
    assert "**********" in lines["GEMINI_API_KEY"]
    assert lines["GEMINI_API_KEY"].endswith("[env file (GEMINI_API_KEY)]")
    assert lines["TALKBOX_VOICE"].endswith("[env file]")
    assert lines["TALKBOX_LANGUAGE"].endswith("[environment]")
    assert lines["TALKBOX_MODEL"].endswith("[default]")
    assert "config error" not in result.stderr


def test_check_lists_every_bad_value_on_its_own_line_and_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "talkbox.env"
    config.write_text(
        "TALKBOX_IDLE_DISCONNECT_S=-1\nTALKBOX_BACKEND=openai\nTALKBOX_LANGUAGE=english\n",
        encoding="utf-8",
    )
    result = talkbox_check(config, tmp_path, TALKBOX_LOG_LEVEL="loud")
    assert result.returncode == 78
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("talkbox: config error: ")
    ]
    assert len(errors) == 4
    assert result.stderr.splitlines()[-1] == "talkbox: 4 problems to fix"
    assert result.stdout == ""
    for name in ("IDLE_DISCONNECT_S", "BACKEND", "LANGUAGE", "LOG_LEVEL"):
        assert sum(f"config error: TALKBOX_{name}: " in line for line in errors) == 1


def test_check_with_a_missing_config_file_exits_78_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.env"
    result = talkbox_check(missing, tmp_path)
    assert result.returncode == 78
    assert f"{missing}: the config file does not exist" in result.stderr
