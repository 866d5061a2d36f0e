"""`talkbox run` as systemd runs it: a subprocess, ALSA file/FIFO devices, the emulator.

Driven only through `talkbox ctl` and signals; systemd is a datagram socket bound as
NOTIFY_SOCKET. Every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import os
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

from talkbox.emulator import EmulatorOptions, EmulatorThread

from .standins import LiveMic, asound_conf, correlation, file_pcm

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
        assert all(0.3 <= b - a <= 0.5 + 0.5 for a, b in itertools.pairwise(pings))
        mic.paused = True  # the capture thread gets nothing: no more pings
        paused = time.monotonic()
        time.sleep(2.0)
        notify.lines()
        late = [t for t, m in notify.messages if "WATCHDOG=1" in m and t > paused + 1.1]
        assert late == []
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
