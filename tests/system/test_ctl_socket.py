"""Issue 16, items 16-19: the control socket and the process, through `talkbox run` and `ctl`.

One socket, one daemon (a live one is never taken over, a daemon removes only its own); what
a client sends or how many connect cannot break the daemon; `ctl` finds the service's socket
from a login session and says "not running" with exit 69; SIGHUP stops as SIGTERM does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.audio.standins import LiveMic
from talkbox.emulator import EmulatorThread

from .test_run import Daemon, Notify, daemon_env, emulator, notify, wait_until

__all__ = ["emulator", "notify"]  # fixtures

pytestmark = pytest.mark.slow

NOT_RUNNING = 69


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m talkbox ctl ARGS` as a person would run it."""
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "ctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def login_env(env: dict[str, str], xdg: Path) -> dict[str, str]:
    """`env` as a login session has it: no RUNTIME_DIRECTORY, an XDG_RUNTIME_DIR of its own."""
    session = {k: v for k, v in env.items() if k != "RUNTIME_DIRECTORY"}
    return {**session, "XDG_RUNTIME_DIR": str(xdg)}


def idle(daemon: Daemon) -> bool:
    return daemon.status().get("state") == "idle"


@pytest.fixture
def mic(tmp_path: Path) -> Iterator[LiveMic]:
    live = LiveMic(tmp_path / "mic.fifo")
    yield live
    live.close()


def stop(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.kill()
        daemon.process.wait(10)


def test_a_second_daemon_never_takes_the_socket_a_live_daemon_answers_on(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic
) -> None:
    env = daemon_env(tmp_path, emulator)
    sock = tmp_path / "run" / "control.sock"
    first = Daemon(tmp_path, env)
    try:
        wait_until(lambda: idle(first), 20, "the first daemon idle")
        inode = sock.stat().st_ino
        # Another state dir (so the state lock lets it through), the same runtime dir.
        (tmp_path / "b").mkdir()
        second = subprocess.run(
            [sys.executable, "-m", "talkbox", "run"],
            env={**env, "STATE_DIRECTORY": str(tmp_path / "b" / "state")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 75, second.stderr
        assert f"a talkbox daemon already answers at {sock}" in second.stderr
        assert "Traceback" not in second.stderr
        # The first one's socket is where it was, the same file, and still answers.
        assert sock.stat().st_ino == inode
        assert idle(first)
        assert first.stop() == 0
        assert not sock.exists()
    finally:
        stop(first)


def test_a_stale_socket_is_replaced_and_a_daemon_removes_only_the_socket_it_made(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic
) -> None:
    env = daemon_env(tmp_path, emulator)
    sock = tmp_path / "run" / "control.sock"
    first = Daemon(tmp_path, env)
    try:
        wait_until(lambda: idle(first), 20, "idle")
        first.process.kill()
        first.process.wait(10)
    finally:
        stop(first)
    assert sock.exists()  # SIGKILL leaves it: stale, nothing listens
    second = Daemon(tmp_path, env)
    try:
        wait_until(lambda: idle(second), 20, "idle on the stale socket's path")
        # Someone else's socket now at the path (the daemon's was taken away under it).
        sock.unlink()
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.bind(str(sock))
        other.listen(1)
        try:
            assert second.stop() == 0
            assert sock.exists(), "the daemon removed a socket it did not make"
        finally:
            other.close()
    finally:
        stop(second)


def test_something_else_at_the_socket_path_is_left_alone_and_named(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    env = daemon_env(tmp_path, emulator)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "control.sock").write_text("not a socket")
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 78, done.stderr
    assert "is in the way of the control socket: it is not a socket" in done.stderr
    assert (tmp_path / "run" / "control.sock").read_text() == "not a socket"


def raw_request(path: Path, line: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(path))
        client.sendall(line)
        answer = client.makefile("rb").readline()
    parsed = json.loads(answer)
    assert isinstance(parsed, dict)
    return parsed


FD_LIMIT = 256


def limited_daemon(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`talkbox run` with at most FD_LIMIT descriptors, as LimitNOFILE= would set."""
    start = (
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT})); "
        "sys.argv = ['talkbox', 'run']; runpy.run_module('talkbox', run_name='__main__')"
    )
    with (tmp_path / "daemon.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-c", start], env=env, stdout=log, stderr=log)


def test_deep_nesting_and_a_connection_flood_cost_one_line_each_and_the_daemon_goes_on(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic
) -> None:
    env = daemon_env(tmp_path, emulator)
    sock = tmp_path / "run" / "control.sock"
    process = limited_daemon(tmp_path, env)
    daemon = Daemon.__new__(Daemon)
    daemon.tmp, daemon.env, daemon.process = tmp_path, env, process
    daemon.stderr = tmp_path / "daemon.log"
    flood: list[socket.socket] = []
    try:
        wait_until(lambda: idle(daemon), 20, "idle")
        # Under 64 KiB, nested far deeper than the JSON parser's recursion allows; nested
        # inside a field; and brackets in a string, which are text, not nesting.
        for line in (
            b"[" * 60_000 + b"\n",
            b'{"command": "status", "text": ' + b"[" * 30_000 + b"]" * 30_000 + b"}\n",
            b'{"command": "status", "x": {"a": {"b": {"c": {"d": {"e": {"f": {"g": []}}}}}}}}\n',
        ):
            answer = raw_request(sock, line)
            assert answer["ok"] is False
            assert "nests deeper than 8 levels" in str(answer["error"])
        text = '{"command": "say", "text": "' + "[{" * 20_000 + '"}\n'
        assert raw_request(sock, text.encode()) == {"ok": True}

        # More connections than the daemon has descriptors, each held open without a request.
        for _ in range(FD_LIMIT + 200):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            try:
                client.connect(str(sock))
            except BlockingIOError:
                client.close()  # the backlog is full: the kernel refuses, the daemon never knew
                continue
            flood.append(client)
        time.sleep(2.0)
        assert process.poll() is None
        open_fds = len(os.listdir(f"/proc/{process.pid}/fd"))
        assert open_fds < FD_LIMIT - 50, open_fds
        for client in flood:
            client.close()
        flood.clear()
        wait_until(lambda: idle(daemon), 20, "status answered after the flood")
        wait_until(lambda: "the flood is over" in daemon.log(), 20, "the flood's end logged")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        for client in flood:
            client.close()
        stop(daemon)
    log = daemon.log()
    assert "Too many open files" not in log
    assert "Traceback" not in log
    assert "RecursionError" not in log
    assert log.count("clients at once") == 1, log
    assert log.count("the flood is over") == 1, log
    assert not [line for line in log.splitlines() if " ERROR " in line or "ERROR:" in line], log


def test_ctl_without_a_daemon_says_where_it_looked_and_exits_69(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_DIRECTORY",)}
    xdg = tmp_path / "xdg"
    done = ctl(login_env(env, xdg), "status")
    assert done.returncode == NOT_RUNNING, done.stderr
    assert done.stdout == ""
    line = done.stderr.strip()
    assert line.startswith("talkbox: no talkbox daemon answers; tried /run/talkbox/control.sock (")
    assert f"{xdg}/talkbox/control.sock (no socket)" in line
    # A stale socket and an explicit --socket: each named with its reason, still 69.
    (xdg / "talkbox").mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(xdg / "talkbox" / "control.sock"))
    stale.close()
    done = ctl(login_env(env, xdg), "press")
    assert done.returncode == NOT_RUNNING
    assert f"{xdg}/talkbox/control.sock (a stale socket: nothing listens)" in done.stderr
    done = ctl(env, "--socket", str(tmp_path / "nope.sock"), "status")
    assert done.returncode == NOT_RUNNING
    assert done.stderr.strip() == (
        f"talkbox: no talkbox daemon answers; tried {tmp_path}/nope.sock (no socket)"
    )
    # A usage error keeps its own status.
    assert ctl(env, "frobnicate").returncode == 2


def test_ctl_in_a_login_session_finds_a_daemon_started_there(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic
) -> None:
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = login_env(daemon_env(tmp_path, emulator), xdg)
    daemon = Daemon(tmp_path, env)
    try:
        wait_until(lambda: idle(daemon), 20, "idle")
        assert (xdg / "talkbox" / "control.sock").exists()
        assert daemon.stop() == 0
    finally:
        stop(daemon)


def test_ctl_in_a_login_session_finds_the_services_socket_in_run_talkbox(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic
) -> None:
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing")
    if os.geteuid() != 0:
        pytest.skip("a private /run needs root")
    # The service as systemd runs it (RUNTIME_DIRECTORY=/run/talkbox), and `ctl` as a person
    # in a login session runs it: with an XDG_RUNTIME_DIR of their own and no RUNTIME_DIRECTORY.
    # /run is a tmpfs of this test's own mount namespace, so the host's /run is never touched.
    service = {**daemon_env(tmp_path, emulator), "RUNTIME_DIRECTORY": "/run/talkbox"}
    script = """
        set -u
        mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0750 /run/talkbox || exit 90
        "$1" -m talkbox run >"$2/daemon.log" 2>&1 &
        daemon=$!
        answered=1
        for _ in $(seq 200); do
            if env -u RUNTIME_DIRECTORY XDG_RUNTIME_DIR="$2/xdg" "$1" -m talkbox ctl status \
                >"$2/status.json" 2>"$2/ctl.err"; then
                if grep -q '"state": "idle"' "$2/status.json"; then answered=0; break; fi
            fi
            sleep 0.1
        done
        kill -HUP "$daemon"
        wait "$daemon"
        echo "daemon exit $?"
        ls /run/talkbox
        exit $answered
    """
    unshare = ["unshare", "--mount", "--propagation", "private"]
    done = subprocess.run(
        [*unshare, "sh", "-c", script, "sh", sys.executable, str(tmp_path)],
        env=service,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    assert done.returncode == 0, (done.stdout, done.stderr, log)
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "idle"
    # SIGHUP stopped it as SIGTERM does, and the socket went with it.
    assert done.stdout.splitlines() == ["daemon exit 0"], done.stdout


def test_sighup_stops_the_daemon_as_sigterm_does(
    tmp_path: Path, emulator: EmulatorThread, mic: LiveMic, notify: Notify
) -> None:
    env = daemon_env(tmp_path, emulator, NOTIFY_SOCKET=str(notify.path))
    sock = tmp_path / "run" / "control.sock"
    daemon = Daemon(tmp_path, env)
    try:
        wait_until(lambda: idle(daemon), 20, "idle")
        signalled = time.monotonic()
        daemon.process.send_signal(signal.SIGHUP)
        assert daemon.process.wait(5) == 0
        assert time.monotonic() - signalled < 5
    finally:
        stop(daemon)
    assert "STOPPING=1" in notify.lines()
    assert not sock.exists()
    assert re.search(r"SIGHUP: stopping", daemon.log())
    assert "Traceback" not in daemon.log()


def test_say_refused_outside_idle_names_the_state_and_why_in_words(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    # No microphone at all: the box is in error, and the refusal says why as status does.
    env = daemon_env(tmp_path, emulator, TALKBOX_CAPTURE_DEVICE="nosuchmic")
    daemon = Daemon(tmp_path, env)
    try:
        wait_until(lambda: daemon.status().get("state") == "error", 30, "error")
        done = ctl(env, "say", "hello")
        assert done.returncode == 1
        error = json.loads(done.stdout)["error"]
        # The reason is the status line's (what it names is issue 16 item 10's, appstatus).
        assert error.startswith("say needs the box idle; it is in the error state: "), error
        assert error.endswith(str(daemon.status()["status"]).removeprefix("error: "))
        assert "the box is error" not in error
        assert daemon.stop() == 0
    finally:
        stop(daemon)
