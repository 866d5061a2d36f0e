"""`talkbox ask` as a subprocess against the emulator (EmulatorThread)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.audio.wav import read_wav
from talkbox.emulator import EmulatorOptions, EmulatorThread

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(realtime=False)) as emu:
        yield emu


def offline_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose service is a closed loopback port: any connection would fail."""
    return {
        **os.environ,
        "GEMINI_API_KEY": "emu-test-key",
        "TALKBOX_BASE_URL": "https://127.0.0.1:9",
        "TALKBOX_STATE_DIR": str(tmp_path / "state"),
    }


def ask(
    emu: EmulatorThread,
    state: Path,
    *args: str,
    stdin: str | None = None,
    key: str = "emu-test-key",
    **env: str,
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "TALKBOX_BASE_URL": emu.base_url,
        "TALKBOX_CA_FILE": str(emu.ca_file),
        "TALKBOX_STATE_DIR": str(state),
        "GEMINI_API_KEY": key,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_asks_in_a_row_continue_one_conversation(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    first = ask(emulator, state, "--json", "--out-dir", str(out), "my name is Ada")
    second = ask(emulator, state, "--json", "--out-dir", str(out), "what is my name?")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    one = json.loads(first.stdout)
    two = json.loads(second.stdout)
    assert one["turn"] == 1
    assert not one["resumed"]
    assert two["turn"] == 2
    assert two["resumed"]
    assert two["transcript"].startswith("turn 2:")
    assert one["conversation"] == two["conversation"]
    assert set(one) == {
        "turn",
        "conversation",
        "transcript",
        "wav",
        "audio_s",
        "first_audio_ms",
        "resumed",
        "reconnects",
        "end_reason",
    }
    assert one["end_reason"] is None
    pcm, rate = read_wav(Path(two["wav"]))
    assert rate == 24_000
    assert len(pcm) == round(two["audio_s"] * 48_000)
    assert Path(two["wav"]).parent == out
    setups = [r.message["setup"] for r in emulator.log.client_messages("setup")]
    assert "handle" not in setups[0]["sessionResumption"]
    assert setups[1]["sessionResumption"]["handle"]


def test_turns_from_stdin_print_one_transcript_each(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = ask(
        emulator,
        tmp_path / "state",
        "--out-dir",
        str(tmp_path),
        "-",
        stdin="first question\n\nsecond question\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("turn 1:")
    assert "second question" in lines[1]
    assert len(list(tmp_path.glob("talkbox-*.wav"))) == 2


def test_a_misspelled_setting_is_logged_as_a_warning_and_the_turn_still_answered(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = ask(
        emulator, tmp_path / "state", "--out-dir", str(tmp_path), "hello", TALKBOX_VOCIE="Kore"
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert any("TALKBOX_VOCIE" in line and "TALKBOX_VOICE" in line for line in warnings)


def test_a_bad_key_exits_78_quickly_with_the_servers_reason(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = ask(emulator, tmp_path, "hello", key="AIzaWrongKeyForTheEmulator0000000000000")
    elapsed = time.monotonic() - started

    assert result.returncode == 78
    assert "API key not valid" in result.stderr
    assert elapsed < 10
    assert len(emulator.log.connection_attempts()) <= 2


def test_an_unknown_model_exits_78_with_the_servers_reason(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = ask(emulator, tmp_path, "hello", TALKBOX_MODEL="gemini-0.1-nonexistent")

    assert result.returncode == 78
    assert "models/gemini-0.1-nonexistent is not found for API version" in result.stderr
    assert len(emulator.log.connection_attempts()) <= 2


def test_a_missing_key_is_a_config_error(emulator: EmulatorThread, tmp_path: Path) -> None:
    result = ask(emulator, tmp_path, "hello", key="")

    assert result.returncode == 78
    assert "config error" in result.stderr
    assert not emulator.log.connection_attempts()


def test_six_turns_with_rotation_every_two_seconds_and_two_drops(tmp_path: Path) -> None:
    options = EmulatorOptions(realtime=True, connection_lifetime_s=2.0, go_away_lead_s=0.5)
    with EmulatorThread(options) as emu:
        emu.arm("abort@turn=2")
        emu.arm("abort@turn=5")
        questions = [f"question {n}" for n in range(1, 7)]
        result = ask(emu, tmp_path / "state", "--json", "--out-dir", str(tmp_path), *questions)
        aborts = emu.log.events("abort")
        goaways = emu.log.server_messages("goAway")

    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["turn"] for a in answers] == [1, 2, 3, 4, 5, 6]
    for n, answer in enumerate(answers, start=1):
        assert answer["transcript"].startswith(f"turn {n}:")
        assert f"question {n}" in answer["transcript"]
    assert len(aborts) == 2
    assert goaways
    assert sum(a["reconnects"] for a in answers) >= 3


@pytest.mark.parametrize(
    "texts",
    [("",), ("   ",), ("hello", "")],
)
def test_an_empty_turn_is_a_usage_error_before_anything_connects(
    tmp_path: Path, texts: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", "--out-dir", str(tmp_path), *texts],
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "is empty" in done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"hello\n\xff\xfe broken\n", "stdin line 2 is not UTF-8 text"),
        (b"\n   \n\n", "nothing to ask"),
    ],
)
def test_stdin_that_is_not_text_is_a_usage_error(
    tmp_path: Path, stdin: bytes, message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", "--out-dir", str(tmp_path), "-"],
        env={**offline_env(tmp_path), "LC_ALL": "C.UTF-8"},
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_an_undecodable_argument_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"talkbox",
            b"ask",
            b"--out-dir",
            bytes(tmp_path),
            b"\xe9t\xe9",
        ],
        env={**offline_env(tmp_path), "LC_ALL": "C.UTF-8"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"TEXT 1 is not UTF-8 text" in done.stderr


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        ("file", "is a file, not a directory"),
        ("under_a_file", "cannot be created: Not a directory"),
    ],
)
def test_an_unusable_out_dir_is_refused_before_connecting(
    tmp_path: Path, make: str, problem: str
) -> None:
    blocker = tmp_path / "answers"
    blocker.write_text("not a directory")
    target = blocker if make == "file" else blocker / "sub"
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", "--out-dir", str(target), "hello"],
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 78
    assert f"--out-dir {target} {problem}" in done.stderr
    assert "Traceback" not in done.stderr
    # Refused before connecting: the unreachable service was never tried.
    assert "connect" not in done.stderr.lower()


def test_on_gemini_3_8_live_ask_saves_complete_answers_that_arrived_faster_than_real_time(
    tmp_path: Path,
) -> None:
    question = "tell me about the tides of the northern sea, please"
    with EmulatorThread(EmulatorOptions(realtime=True, fast_audio_factor=4.0)) as emu:
        result = ask(emu, tmp_path / "state", "--json", "--out-dir", str(tmp_path), question)
        chunks = [
            r
            for r in emu.log.server_messages("serverContent.")
            if "modelTurn" in r.message["serverContent"]
        ]
        sent = sum(
            len(part["inlineData"]["data"]) * 3 // 4
            for r in chunks
            for part in r.message["serverContent"]["modelTurn"]["parts"]
        )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    pcm, _ = read_wav(Path(answer["wav"]))
    # Complete: every byte the service sent is in the file, and it is the whole answer.
    assert abs(len(pcm) - sent) <= 4 * len(chunks)
    assert answer["audio_s"] > 3.0
    arrival = chunks[-1].t - chunks[0].t
    assert arrival < answer["audio_s"] / 2
    assert answer["end_reason"] is None


def test_on_extended_thinking_ask_gets_the_filler_and_the_answer_as_one_turn(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = ask(
        emulator,
        tmp_path / "state",
        "--json",
        "--out-dir",
        str(tmp_path),
        "why is the sky blue",
        "and at night?",
        TALKBOX_MODEL="gemini-3.8-live-extended-thinking",
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["turn"], second["turn"]) == (1, 2)
    assert first["transcript"].startswith("Let me think.")
    assert "turn 1:" in first["transcript"]
    assert "turn 2:" in second["transcript"]
    assert len(list(tmp_path.glob("talkbox-*.wav"))) == 2


def test_a_turn_the_service_blocked_is_saved_said_and_exits_1(
    tmp_path: Path,
) -> None:
    with EmulatorThread(EmulatorOptions(realtime=False)) as emu:
        emu.arm("turn_complete_reason:reason=GENERATED_CONTENT_SAFETY@turn=1")
        result = ask(emu, tmp_path / "state", "--json", "--out-dir", str(tmp_path), "hello")
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["end_reason"] == "GENERATED_CONTENT_SAFETY"
    assert "talkbox: turn 'hello' ended abnormally: GENERATED_CONTENT_SAFETY" in result.stderr
    assert "ended abnormally: GENERATED_CONTENT_SAFETY" in result.stderr.split("WARNING", 1)[1]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TALKBOX_MODEL": "gemini-live-2.5-flash-preview"}, "use gemini-3.8-live"),
        ({"TALKBOX_AFFECTIVE_DIALOG": "true"}, "TALKBOX_AFFECTIVE_DIALOG"),
    ],
)
def test_ask_refuses_a_retired_model_or_refused_option_before_anything_connects(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "ask", "--out-dir", str(tmp_path), "hello"],
        env={**offline_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 78, done.stderr
    assert named in done.stderr
    assert done.stdout == ""
