"""The service user and the root-only env file, as installed: the real commands as a non-root user.

install.sh makes /etc/talkbox/talkbox.env root's alone (0600) once it holds the key, and the
unit runs `talkbox run` as User=talkbox with the file's settings in its environment
(EnvironmentFile=, read by systemd as root). Here the real /etc/talkbox path holds such a file
in a private mount namespace (an overlay on /etc that no other process sees), and the command
runs as uid 65534 (nobody): the daemon must start without reading the file, and `check` must
say what it cannot see.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.audio.standins import LiveMic, asound_conf, file_pcm

from .test_run import Notify, wait_until

NOBODY = 65534
KEY = "AIzaSyTestKey-0123456789abcdefghijklmn"
ENV_FILE = Path("/etc/talkbox/talkbox.env")


def _overlay_works() -> str | None:
    """Why this machine cannot run these tests (None if it can)."""
    if os.geteuid() != 0:
        return "needs root: a private mount namespace with an overlay on /etc, and setpriv"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux)"
    with tempfile.TemporaryDirectory() as scratch:
        probe = _as_nobody(Path(scratch), "", ["true"])
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        return f"no overlay mount in a private namespace here: {done.stderr.decode().strip()}"
    return None


def _as_nobody(scratch: Path, env_file_text: str, argv: list[str]) -> list[str]:
    """`argv` as uid/gid 65534 in a mount namespace whose /etc/talkbox/talkbox.env is 0600 root."""
    upper, work = scratch / "etc-upper", scratch / "etc-work"
    upper.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    source = scratch / "talkbox.env.source"
    source.write_text(env_file_text)
    script = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc"
        f" && mkdir -p {ENV_FILE.parent} && chmod 0755 {ENV_FILE.parent}"
        f" && install -m 0600 -o root -g root {source} {ENV_FILE}"
        f' && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


SKIP_REASON = _overlay_works()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Not tmp_path: pytest's base directory is root's alone (0700), and nobody must reach this.
    path = Path(tempfile.mkdtemp(prefix="talkbox-service-user-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TALKBOX_", "NOTIFY_", "WATCHDOG_", "GEMINI_", "GOOGLE_"))
        and key not in ("INVOCATION_ID", "STATE_DIRECTORY", "RUNTIME_DIRECTORY")
    }
    env.update(extra)
    return env


def test_the_service_starts_as_its_user_with_the_key_in_the_root_only_env_file(
    scratch: Path,
) -> None:
    mic = LiveMic(scratch / "mic.fifo")
    notify = Notify(scratch / "notify")
    (scratch / "notify").chmod(0o666)
    for name in ("state", "run"):
        (scratch / name).mkdir(mode=0o750)
        os.chown(scratch / name, NOBODY, NOBODY)
    conf = asound_conf(
        scratch / "asound.conf",
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=scratch / "mic.fifo"),
            "speaker": file_pcm(output=scratch / "played.raw"),
        },
    )
    conf.chmod(0o644)
    settings = {
        "GEMINI_API_KEY": KEY,
        # Nothing listens there: the link keeps reconnecting, which READY=1 does not wait for.
        "TALKBOX_BASE_URL": "https://127.0.0.1:9",
        "TALKBOX_CAPTURE_DEVICE": "mic",
        "TALKBOX_PLAYBACK_DEVICE": "speaker",
        "TALKBOX_BUTTON_MODE": "hold",
    }
    env_file_text = "".join(f"{key}={value}\n" for key, value in settings.items())
    # As systemd runs the unit: the file's settings in the environment, its own variables set.
    env = _clean_env(
        **settings,
        ALSA_CONFIG_PATH=str(conf),
        STATE_DIRECTORY=str(scratch / "state"),
        RUNTIME_DIRECTORY=str(scratch / "run"),
        NOTIFY_SOCKET=str(notify.path),
        INVOCATION_ID="0123456789abcdef0123456789abcdef",
    )
    log = scratch / "daemon.log"
    argv = [sys.executable, "-m", "talkbox", "run"]
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            _as_nobody(scratch, env_file_text, argv), env=env, stdout=out, stderr=out
        )
    try:
        wait_until(lambda: "READY=1" in notify.lines() or daemon.poll() is not None, 30, "READY=1")
        assert daemon.poll() is None, log.read_text()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(5)
        mic.close()
        notify.sock.close()
    text = log.read_text()
    assert "permission denied" not in text.lower()
    # systemd read the file for it: nothing to warn about.
    assert str(ENV_FILE) not in text


def test_check_as_another_user_says_it_cannot_read_the_env_file(scratch: Path) -> None:
    argv = [sys.executable, "-m", "talkbox", "check"]
    env = _clean_env(STATE_DIRECTORY=str(scratch), RUNTIME_DIRECTORY=str(scratch))
    done = subprocess.run(
        _as_nobody(scratch, f"GEMINI_API_KEY={KEY}\n", argv),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert f"{ENV_FILE} cannot be read by user 'nobody'" in stderr
    assert "run this as root (sudo)" in stderr
    # The key is in the file it could not read: the check fails on the missing key, not on
    # the file, and the warning explains why.
    assert done.returncode == 78
    assert "Traceback" not in stderr


def test_check_as_another_user_passes_on_the_environment_with_the_warning(
    scratch: Path,
) -> None:
    argv = [sys.executable, "-m", "talkbox", "check"]
    env = _clean_env(
        STATE_DIRECTORY=str(scratch), RUNTIME_DIRECTORY=str(scratch), GEMINI_API_KEY=KEY
    )
    done = subprocess.run(
        _as_nobody(scratch, "TALKBOX_VOLUME=loud\n", argv),
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    # The bad value in the unreadable file is not seen, and the warning says so.
    assert done.returncode == 0, done.stderr.decode()
    assert "cannot be read by user 'nobody'" in done.stderr.decode()
