"""scripts/install.sh and uninstall.sh, run into a DESTDIR tree as packaging would.

The tree is proven where it is meant to run: unpacked at / (its opt/talkbox bound onto
/opt/talkbox in a mount namespace of the test's own, over a tmpfs /opt), not in place.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def run(script: str, dest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(dest), "PYTHON": sys.executable}
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("dest")
    done = run("install.sh", dest)
    assert done.returncode == 0, done.stderr[-3000:]
    return dest


def test_the_unit_and_the_template_are_installed_with_their_modes(installed: Path) -> None:
    unit = installed / "etc/systemd/system/talkbox.service"
    assert unit.read_text() == (ROOT / "systemd/talkbox.service").read_text()
    assert mode(unit) == 0o644
    env_file = installed / "etc/talkbox/talkbox.env"
    assert env_file.read_text() == (ROOT / "config/talkbox.env").read_text()
    assert mode(env_file) == 0o640
    assert (installed / "opt/talkbox/talkbox.env.template").is_file()


def at_root(
    installed: Path, *command: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` with the tree's opt/talkbox at /opt/talkbox, as if the tree were unpacked at /."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("binding the tree onto /opt/talkbox needs root and unshare")
    script = (
        'mount -t tmpfs tmpfs /opt && mkdir /opt/talkbox && mount --bind "$0" /opt/talkbox '
        '&& exec "$@"'
    )
    unshare = ["unshare", "--mount", "--propagation", "private"]
    return subprocess.run(
        [*unshare, "sh", "-c", script, str(installed / "opt/talkbox"), *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_venv_runs_the_talkbox_command_once_the_tree_is_at_its_place(installed: Path) -> None:
    done = at_root(installed, "/opt/talkbox/venv/bin/talkbox", "--help")
    assert done.returncode == 0, done.stderr
    assert "check" in done.stdout
    # activate names the venv where it runs, so its talkbox is found on PATH.
    activated = ". /opt/talkbox/venv/bin/activate && command -v talkbox && talkbox --help"
    done = at_root(installed, "sh", "-c", activated)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "/opt/talkbox/venv/bin/talkbox"


def test_nothing_in_the_tree_names_the_directory_it_was_built_in(installed: Path) -> None:
    venv = installed / "opt/talkbox/venv"
    assert (venv / "bin/talkbox").read_text().splitlines()[0] == "#!/opt/talkbox/venv/bin/python"
    built = str(installed).encode()
    naming = [
        str(path.relative_to(installed))
        for path in installed.rglob("*")
        if path.is_file() and not path.is_symlink() and built in path.read_bytes()
    ]
    assert naming == []
    # The compiled modules name their source where it will be (tracebacks show real lines).
    done = at_root(
        installed,
        "/opt/talkbox/venv/bin/python",
        "-c",
        "import talkbox.cli; print(talkbox.cli.dispatch.__code__.co_filename)",
    )
    assert done.stdout.strip().startswith("/opt/talkbox/venv/lib/python"), done.stderr


def test_the_installed_package_runs_the_demo_with_its_bundled_question(
    installed: Path, tmp_path: Path
) -> None:
    # Outside the checkout: the question must come from the installed package.
    talkbox = "/opt/talkbox/venv/bin/talkbox"
    done = at_root(installed, talkbox, "demo", "--out-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "answer.wav").is_file()


def test_a_second_run_keeps_the_env_file_and_locks_it_once_it_holds_the_key(
    installed: Path,
) -> None:
    env_file = installed / "etc/talkbox/talkbox.env"
    env_file.write_text("GEMINI_API_KEY=AIzaSyINSTALLTESTKEYxxxxxxxxxxxxxxxxxxx\n")
    done = run("install.sh", installed)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kept as it is" in done.stdout
    assert env_file.read_text() == "GEMINI_API_KEY=AIzaSyINSTALLTESTKEYxxxxxxxxxxxxxxxxxxx\n"
    assert mode(env_file) == 0o600
    assert "AIzaSyINSTALLTESTKEY" not in done.stdout + done.stderr


def test_a_dry_run_prints_the_steps_and_changes_nothing(tmp_path: Path) -> None:
    done = run("install.sh", tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would run:" in done.stdout
    assert "talkbox.service" in done.stdout
    assert "_relocate_venv.py" in done.stdout
    # Every line of its own says it is a dry run: nothing it reports has happened.
    said = [line for line in done.stdout.splitlines() if line.startswith("talkbox install")]
    assert said
    assert all(line.startswith("talkbox install (dry run): ") for line in said)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    done = run("install.sh", tmp_path, "--frobnicate")
    assert done.returncode == 2
    assert "unknown option --frobnicate" in done.stderr


def test_uninstall_keeps_the_settings_unless_purged(tmp_path: Path) -> None:
    for path in ("etc/systemd/system/talkbox.service", "opt/talkbox/venv/bin/python"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    (tmp_path / "etc/talkbox").mkdir()
    (tmp_path / "etc/talkbox/talkbox.env").write_text("TALKBOX_VOICE=Kore\n")
    (tmp_path / "var/lib/talkbox").mkdir(parents=True)

    done = run("uninstall.sh", tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "etc/systemd/system/talkbox.service").exists()
    assert not (tmp_path / "opt/talkbox").exists()
    assert (tmp_path / "etc/talkbox/talkbox.env").is_file()
    assert (tmp_path / "var/lib/talkbox").is_dir()

    done = run("uninstall.sh", tmp_path, "--purge")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "etc/talkbox").exists()
    assert not (tmp_path / "var/lib/talkbox").exists()


def dry_run_on_this_system(systemd_run: Path) -> subprocess.CompletedProcess[str]:
    """install.sh --dry-run for / (no DESTDIR); systemd's runtime directory is `systemd_run`."""
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    env |= {"PYTHON": sys.executable, "TALKBOX_SYSTEMD_RUN": str(systemd_run)}
    return subprocess.run(
        [str(ROOT / "scripts/install.sh"), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_running_systemd_the_service_is_enabled_but_nothing_is_started(
    tmp_path: Path,
) -> None:
    done = dry_run_on_this_system(tmp_path / "no-such-dir")
    assert done.returncode == 0, done.stderr
    assert "systemd is not running here" in done.stdout
    assert "would run: systemctl daemon-reload" not in done.stdout
    assert "would run: systemctl restart" not in done.stdout
    if "systemctl is missing" not in done.stdout:
        assert "would run: systemctl enable talkbox.service" in done.stdout
        assert "talkbox.service would be enabled" in done.stdout
    # A dry run enabled nothing, and says no such thing.
    assert "is enabled" not in done.stdout


def test_with_a_running_systemd_the_service_is_reloaded_enabled_and_started(
    tmp_path: Path,
) -> None:
    done = dry_run_on_this_system(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "systemd is not running here" not in done.stdout
    for command in ("daemon-reload", "enable talkbox.service", "restart talkbox.service"):
        assert f"would run: systemctl {command}" in done.stdout
