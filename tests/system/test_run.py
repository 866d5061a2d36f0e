"""`talkbox run` as systemd runs it: a subprocess, ALSA file/FIFO devices, the emulator.

Driven only through `talkbox ctl` and signals; systemd is a datagram socket bound as
NOTIFY_SOCKET. Every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from talkbox.audio.standins import LiveMic, asound_conf, correlation, file_pcm
from talkbox.emulator import EmulatorOptions, EmulatorThread

DATA = Path(__file__).parents[1] / "data"
QUESTION = "question-weather.wav"


def recording(name: str) -> bytes:
    with wave.open(str(DATA / name), "rb") as wav:
        return wav.readframes(wav.getnframes())


def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.05)


class Notify:
    """systemd's notify socket: each message with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[tuple[float, str]] = []

    def lines(self) -> list[str]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            self.messages.append((time.monotonic(), data.decode()))
        return [line for _, m in self.messages for line in m.split("\n")]


class Daemon:
    """`talkbox run` in a subprocess with its own runtime, state and ALSA configuration."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp = tmp_path
        self.env = env
        self.stderr = tmp_path / "daemon.log"
        with self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "talkbox", "run"], env=env, stderr=err, stdout=err
            )

    def ctl(self, *args: str) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-m", "talkbox", "ctl", *args],
            env=self.env,
            capture_output=True,
            timeout=20,
            check=False,
        )
        if not done.stdout.strip():
            return {"ok": False, "error": done.stderr.decode()}
        answer = json.loads(done.stdout)
        assert isinstance(answer, dict)
        return answer

    def status(self) -> dict[str, object]:
        return self.ctl("status")

    def stop(self, timeout_s: float = 5.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[Notify]:
    sock = Notify(tmp_path / "notify")
    yield sock
    sock.sock.close()


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    emu = EmulatorThread(EmulatorOptions(realtime=True))
    emu.start()
    yield emu
    emu.stop()


def daemon_env(tmp_path: Path, emu: EmulatorThread, **extra: str) -> dict[str, str]:
    mic_fifo = tmp_path / "mic.fifo"
    played = tmp_path / "played.raw"
    conf = asound_conf(
        tmp_path / "asound.conf",
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=mic_fifo),
            "speaker": file_pcm(output=played),
        },
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TALKBOX_", "NOTIFY_", "WATCHDOG_", "GEMINI_", "GOOGLE_"))
    }
    env.update(
        {
            "ALSA_CONFIG_PATH": str(conf),
            "GEMINI_API_KEY": "emu-test-key",
            "TALKBOX_BASE_URL": emu.base_url,
            "TALKBOX_CA_FILE": str(emu.ca_file),
            "TALKBOX_MODEL": "gemini-3.8-live",
            "TALKBOX_CAPTURE_DEVICE": "mic",
            "TALKBOX_PLAYBACK_DEVICE": "speaker",
            "TALKBOX_BUTTON_MODE": "hold",
            "STATE_DIRECTORY": str(tmp_path / "state"),
            "RUNTIME_DIRECTORY": str(tmp_path / "run"),
        }
    )
    env.update(extra)
    return env


def test_run_answers_a_spoken_question_driven_only_through_ctl(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    mic = LiveMic(tmp_path / "mic.fifo")
    daemon = Daemon(tmp_path, daemon_env(tmp_path, emulator))
    try:
        wait_until(lambda: daemon.status().get("state") == "idle", 20, "idle")
        question = recording(QUESTION)
        assert daemon.ctl("press") == {"ok": True}
        time.sleep(0.1)  # the press reaches the control task before the speech starts
        mic.say(question)
        wait_until(lambda: not mic.speaking, 10, "spoken")
        assert daemon.ctl("release") == {"ok": True}
        wait_until(
            lambda: (daemon.status().get("last_turn") or {}).get("answered") is True, 20, "answer"
        )
        wait_until(lambda: daemon.status().get("state") == "idle", 20, "idle after the answer")
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
        mic.close()
    played = (tmp_path / "played.raw").read_bytes()
    question_24k = (
        soxr.resample(np.frombuffer(question, dtype="<i2"), 16_000, 24_000).astype("<i2").tobytes()
    )
    assert correlation(played, question_24k) >= 0.9, daemon.log()


def test_notify_ready_watchdog_and_stopping_then_exit_0_within_2_s_of_sigterm(
    tmp_path: Path, emulator: EmulatorThread, notify: Notify
) -> None:
    mic = LiveMic(tmp_path / "mic.fifo")
    env = daemon_env(tmp_path, emulator, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1000000")
    daemon = Daemon(tmp_path, env)
    try:
        wait_until(lambda: "READY=1" in notify.lines(), 20, "READY=1")
        wait_until(lambda: notify.lines().count("WATCHDOG=1") >= 3, 5, "three pings")
        pings = [t for t, m in notify.messages if "WATCHDOG=1" in m.split("\n")]
        # Every half WATCHDOG_USEC, within what a loaded machine may add or catch up.
        assert all(0.1 <= b - a <= 1.0 for a, b in itertools.pairwise(pings))
        mic.paused = True  # the capture thread gets nothing: the pings stop

        # Frames already in the pipe may still arrive, so allow the pings a moment to stop
        # (a loaded machine delivers late), then require a silence of three intervals.
        def last_ping() -> float:
            notify.lines()
            return max(t for t, m in notify.messages if "WATCHDOG=1" in m.split("\n"))

        wait_until(lambda: time.monotonic() - last_ping() > 1.5, 10, "the pings to stop")
        quiet_since = last_ping()
        time.sleep(1.5)
        assert last_ping() == quiet_since
        mic.paused = False
        signalled = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(2.0) == 0
        assert time.monotonic() - signalled < 2.0
        assert "STOPPING=1" in notify.lines()
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
        mic.close()


def test_a_bad_config_value_exits_78_before_ready_naming_the_variable(
    tmp_path: Path, emulator: EmulatorThread, notify: Notify
) -> None:
    env = daemon_env(tmp_path, emulator, NOTIFY_SOCKET=str(notify.path), TALKBOX_VOLUME="loud")
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "run"],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 78
    errors = done.stderr.decode().strip().splitlines()
    assert errors[0].startswith("talkbox: config error: TALKBOX_VOLUME: 'loud'")
    assert "READY=1" not in notify.lines()


def answered_turn(daemon: Daemon, text: str, previous: object) -> dict[str, object]:
    """Ask `text` through ctl say; the last turn's facts once a new turn has been answered."""
    assert daemon.ctl("say", text).get("ok") is True

    def answered() -> bool:
        last = daemon.status().get("last_turn")
        return isinstance(last, dict) and last != previous and last.get("answered") is True

    wait_until(answered, 30, f"an answer to {text!r}")
    last = daemon.status()["last_turn"]
    assert isinstance(last, dict)
    return last


def test_after_a_sigkill_a_new_run_resumes_the_same_conversation(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    mic = LiveMic(tmp_path / "mic.fifo")
    # ctl status shows what the answers said only with transcripts on.
    env = daemon_env(tmp_path, emulator, TALKBOX_LOG_TRANSCRIPTS="true")
    handle_file = tmp_path / "state" / "resumption.json"
    first = Daemon(tmp_path, env)
    try:
        wait_until(lambda: first.status().get("state") == "idle", 20, "idle")
        one = answered_turn(first, "my name is Ada", None)
        assert str(one["transcript"]).startswith("turn 1:"), first.log()
        # The handle that includes turn 1 comes after it; it is on disk before the kill.
        wait_until(
            lambda: handle_file.is_file() and "handle" in handle_file.read_text(), 10, "handle"
        )
        first.process.kill()
        assert first.process.wait(10) == -signal.SIGKILL
    except BaseException:
        mic.close()
        raise
    finally:
        if first.process.poll() is None:
            first.process.kill()
            first.process.wait(10)
    second = Daemon(tmp_path, env)
    try:
        wait_until(lambda: second.status().get("state") == "idle", 20, "idle again")
        two = answered_turn(second, "what is my name?", None)
        # The emulator numbers turns per conversation: turn 2 means the context survived.
        assert str(two["transcript"]).startswith("turn 2:"), second.log()
        assert second.stop() == 0
    finally:
        if second.process.poll() is None:
            second.process.kill()
            second.process.wait(10)
        mic.close()


def test_under_the_journal_every_line_carries_its_priority(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    mic = LiveMic(tmp_path / "mic.fifo")
    log_file = tmp_path / "daemon.log"
    log_file.touch()
    st = log_file.stat()
    # systemd names the journal stream by device and inode; the daemon's stderr is that file.
    env = daemon_env(tmp_path, emulator, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    with log_file.open("r+b") as stream:
        done = subprocess.run(
            [sys.executable, "-m", "talkbox", "run"],
            env={**env, "TALKBOX_VOLUME": "250"},
            stderr=stream,
            timeout=30,
            check=False,
        )
    assert done.returncode == 78
    # A configuration error is an error in the journal too, not an info line.
    assert log_file.read_text().startswith("<3>talkbox: config error: TALKBOX_VOLUME")
    daemon = Daemon(tmp_path, {**env, "TALKBOX_LOG_LEVEL": "DEBUG"})
    try:
        wait_until(lambda: daemon.status().get("state") == "idle", 20, "idle")
        answered_turn(daemon, "hello", None)
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
        mic.close()
    lines = [line for line in daemon.log().splitlines() if line]
    assert lines
    # alsa-lib writes its own lines straight to stderr; unprefixed they are info (6), never
    # warnings, which is where library noise belongs.
    unprefixed = [
        line for line in lines if not re.match(r"<[0-7]>", line) and not line.startswith("ALSA lib")
    ]
    assert unprefixed == []
    assert any(line.startswith("<6>") for line in lines)
    assert any(line.startswith("<7>") for line in lines)
