"""`talkbox ask` as a subprocess, hardened: closes, signals, the state lock, checked state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from talkbox.emulator import EmulatorOptions, EmulatorThread
from talkbox.emulator.log import EventLog
from talkbox.live.handles import HANDLE_FILE_NAME, SET_ASIDE_SUFFIX
from talkbox.state_lock import LOCK_WAIT_S, StateLock

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(realtime=False)) as emu:
        yield emu


def ask_env(emu: EmulatorThread, state: Path, **env: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")},
        "TALKBOX_BASE_URL": emu.base_url,
        "TALKBOX_CA_FILE": str(emu.ca_file),
        "TALKBOX_STATE_DIR": str(state),
        "GEMINI_API_KEY": "emu-test-key",
        **env,
    }


def ask_command(out: Path, *texts: str) -> list[str]:
    return [sys.executable, "-m", "talkbox", "ask", "--json", "--out-dir", str(out), *texts]


def ask(
    emu: EmulatorThread, state: Path, out: Path, *texts: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ask_command(out, *texts),
        env=ask_env(emu, state, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def client_close_codes(log: EventLog) -> list[object]:
    return [c.message.get("code") for c in log.closes() if c.message.get("by") == "client"]


def test_an_ask_that_is_done_closes_its_socket_with_1000(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    done = ask(emulator, tmp_path / "state", tmp_path / "out", "hello", "again")
    assert done.returncode == 0, done.stderr
    assert client_close_codes(emulator.log) == [1000]


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_stopped_ask_closes_with_1000_and_keeps_the_conversation(
    emulator: EmulatorThread, tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    assert ask(emulator, state, out, "my name is Ada").returncode == 0
    stored = (state / HANDLE_FILE_NAME).read_bytes()
    emulator.arm("first_audio_delay:s=30@turn=2")
    with subprocess.Popen(
        ask_command(out, "what is my name?"),
        env=ask_env(emulator, state),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            # The question is on the wire and its answer held back: stop it now.
            emulator.log.wait_for_sync(
                lambda log: len(log.client_messages("client_content")) == 2, timeout=30
            )
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=15)
        finally:
            proc.kill()

    assert proc.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert client_close_codes(emulator.log) == [1000, 1000]
    assert (state / HANDLE_FILE_NAME).read_bytes() == stored


def test_asks_run_at_once_take_turns_on_one_conversation(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    procs = [
        subprocess.Popen(
            ask_command(out, f"question {n}"),
            env=ask_env(emulator, state),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = []
    for proc in procs:
        with proc:
            stdout, stderr = proc.communicate(timeout=60)
            results.append((proc.returncode, stdout, stderr))

    assert [rc for rc, _, _ in results] == [0, 0, 0], [err for _, _, err in results]
    answers = [json.loads(stdout) for _, stdout, _ in results]
    assert sorted(a["turn"] for a in answers) == [1, 2, 3]
    assert len({a["conversation"] for a in answers}) == 1
    # No second process resumed the same handle beside the first: nothing forked.
    assert not emulator.log.events("handle_rejected")
    setups = [r.message["setup"] for r in emulator.log.client_messages("setup")]
    assert ["handle" in s["sessionResumption"] for s in setups] == [False, True, True]


def test_ask_beside_a_running_daemon_says_who_owns_the_state_dir(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    daemon = StateLock(state, command="run")
    assert daemon.try_acquire()
    try:
        done = ask(emulator, state, tmp_path / "out", "hello")
    finally:
        daemon.release()

    assert done.returncode == 75
    assert done.stderr.count("\n") == 1
    assert f"the talkbox daemon (pid {os.getpid()}) owns the state dir {state}" in done.stderr
    assert "send turns to the running daemon" in done.stderr
    assert not emulator.log.connection_attempts()
    assert LOCK_WAIT_S <= 15  # the wait this test sat through is a short one


def test_the_sdks_note_about_google_api_key_is_not_shown(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    done = ask(
        emulator, tmp_path / "state", tmp_path / "out", "hello", GOOGLE_API_KEY="some-other-key"
    )
    assert done.returncode == 0, done.stderr
    assert "GOOGLE_API_KEY" not in done.stderr


def test_without_transcripts_ask_prints_where_each_answer_went_not_blank_lines(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", "--out-dir", str(out), "one", "two"],
        env=ask_env(emulator, tmp_path / "state", TALKBOX_TRANSCRIBE_OUTPUT="false"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("(no transcript) ")
        assert Path(line.rsplit(" ", 1)[1]).is_file()


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def huge(path: Path) -> None:
    with path.open("wb") as f:
        f.truncate(200 * 1024 * 1024)


def forged(conversation_id: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "version": 1,
                    "handle": "Cgxra2o3bHc1bWVmaG8",
                    "conversation_id": conversation_id,
                    "saved_at": 2_000_000_000.0,
                    "turns": 1,
                }
            )
        )

    return write


@pytest.mark.parametrize(
    "make",
    [fifo, dev_zero, huge, forged("../../x"), forged("a\nINFO forged"), forged("c" * 300)],
    ids=["fifo", "dev-zero", "200-MB", "traversal", "newline", "300-chars"],
)
def test_a_state_file_that_fails_its_checks_is_set_aside_and_ask_starts_fresh(
    emulator: EmulatorThread, tmp_path: Path, make: Callable[[Path], None]
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    state.mkdir()
    make(state / HANDLE_FILE_NAME)
    done = ask(emulator, state, out, "hello")

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["turn"] == 1
    assert not answer["resumed"]
    warnings = [line for line in done.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1
    assert "set aside" in warnings[0]
    assert "forged" not in done.stderr  # the id is never logged, so it forges no line
    assert os.path.lexists(state / (HANDLE_FILE_NAME + SET_ASIDE_SUFFIX))
    assert Path(answer["wav"]).parent == out
    assert [p.parent for p in tmp_path.rglob("*.wav")] == [out]
    # The next ask continues the fresh conversation.
    again = json.loads(ask(emulator, state, out, "and now?").stdout)
    assert again["turn"] == 2
    assert again["conversation"] == answer["conversation"]
