"""The systemd unit: systemd-analyze finds nothing wrong, and it is hardened to an OK exposure."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "systemd" / "talkbox.service"


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: scripts/_setup.sh installs the systemd package"
    return found


def ci_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointed at a binary that exists here, as verify requires."""
    text = UNIT.read_text(encoding="utf-8")
    lines = [
        f"ExecStart={sys.executable} -m talkbox run" if line.startswith("ExecStart=") else line
        for line in text.splitlines()
    ]
    copy = tmp_path / "talkbox.service"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    # verify exits 0 even for settings it ignores, so any output at all is a failure.
    done = subprocess.run(
        [analyze(), "verify", str(ci_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_exposure_is_ok_at_most_1_6(tmp_path: Path) -> None:
    done = subprocess.run(
        [analyze(), "security", "--offline=yes", "--threshold=16", str(ci_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overall exposure level" in done.stdout


def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    broken = ci_copy(tmp_path)
    broken.write_text(broken.read_text().replace("Type=notify", "Type=notfy"))
    done = subprocess.run(
        [analyze(), "verify", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "notfy" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("RestartPreventExitStatus", "78"),
        ("Restart", "on-failure"),
        ("User", "talkbox"),
        ("SupplementaryGroups", "audio gpio"),
        ("StateDirectory", "talkbox"),
        ("RuntimeDirectory", "talkbox"),
        ("WorkingDirectory", "/run/talkbox"),
        ("EnvironmentFile", "/etc/talkbox/talkbox.env"),
        ("LoadCredential", "gemini_api_key"),
        ("DevicePolicy", "closed"),
        ("ExecStart", "/opt/talkbox/venv/bin/talkbox run"),
    ],
)
def test_the_unit_sets(key: str, value: str) -> None:
    assert value in settings()[key]


def test_only_alsa_and_gpio_devices_are_allowed() -> None:
    assert sorted(settings()["DeviceAllow"]) == ["char-alsa rw", "char-gpiochip rw"]


def test_the_watchdog_and_the_network_ordering_are_set() -> None:
    found = settings()
    assert int(found["WatchdogSec"][0]) >= 10
    for target in ("network-online.target", "time-sync.target", "sound.target"):
        assert target in found["After"][0]
        assert target in found["Wants"][0]


def test_the_alsa_core_is_loaded_before_its_device_rule_is_resolved() -> None:
    # char-alsa is looked up in /proc/devices at start: without snd loaded it allows nothing.
    found = settings()
    assert "modprobe@snd.service" in found["Wants"][0].split()
    assert "modprobe@snd.service" in found["After"][0].split()


def test_no_setting_carries_a_trailing_comment() -> None:
    # systemd has no trailing comments: "x=1 # why" makes "1 # why" the value.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    assert not [
        f"{key}={value}"
        for section in parser.sections()
        for key, value in parser.items(section)
        if "#" in value
    ]
