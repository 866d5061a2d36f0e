from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.config import default_state_dir, load_config, load_settings
from talkbox.errors import ConfigError


def write_env(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(config_file: Path | None = None, **overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_settings(config_file, **overrides)
    return exc.value.problems


def test_the_state_dir_is_systemds_state_directory(tmp_path: Path) -> None:
    environ = {"STATE_DIRECTORY": f"{tmp_path}/a:{tmp_path}/b", "HOME": str(tmp_path)}
    assert default_state_dir(environ, system_dir=tmp_path / "sys") == tmp_path / "a"


def test_the_state_dir_is_the_system_dir_when_writable(tmp_path: Path) -> None:
    system = tmp_path / "var-lib-talkbox"
    assert default_state_dir({"HOME": "/home/pi"}, system_dir=system) == system
    system.mkdir()
    assert default_state_dir({"HOME": "/home/pi"}, system_dir=system) == system


def test_the_state_dir_falls_back_to_the_users_xdg_state_home(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    system = blocker / "talkbox"  # cannot exist, whoever runs the test
    environ = {"XDG_STATE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    assert default_state_dir(environ, system_dir=system) == tmp_path / "xdg" / "talkbox"


def test_the_state_dir_falls_back_to_local_state_in_home(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    environ = {"XDG_STATE_HOME": "relative/ignored", "HOME": str(tmp_path / "home")}
    expected = tmp_path / "home" / ".local" / "state" / "talkbox"
    assert default_state_dir(environ, system_dir=blocker / "talkbox") == expected


def test_settings_take_the_state_dir_from_state_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "systemd-state"))
    loaded = load_config()
    assert loaded.settings.state_dir == tmp_path / "systemd-state"
    assert loaded.sources["state_dir"] == "default ($STATE_DIRECTORY)"
    monkeypatch.setenv("TALKBOX_STATE_DIR", str(tmp_path / "mine"))
    assert load_settings().state_dir == tmp_path / "mine"


def test_a_state_dir_that_is_a_file_is_a_problem(tmp_path: Path) -> None:
    file = write_env(tmp_path / "file", "")
    (problem,) = problems_of(state_dir=file)
    assert problem.startswith("TALKBOX_STATE_DIR: ")
    assert "not a directory" in problem
