"""`talkbox check` against the model table, and `check --online` against the strict emulator.

`check` refuses what the model refuses before any connection (the service is a closed port
there); `check --online` opens one setup and prints the service's own words.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.emulator import DEFAULT_MODELS, EmulatorOptions, EmulatorThread

pytestmark = pytest.mark.slow

# Served by the emulator, unknown to the client's table: the client builds it like 3.8 Live
# (no thinking level), the emulator like extended thinking (a level required).
LOOKALIKE = "gemini-3.8-live-extended"
# A 2.5 preview neither table knows and the emulator does not serve: what a retired model is.
GONE = "gemini-2.5-flash-native-audio-preview-01-2026"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(
        EmulatorOptions(realtime=False, models=(*DEFAULT_MODELS, LOOKALIKE))
    ) as emu:
        yield emu


def check(
    tmp_path: Path, *args: str, emu: EmulatorThread | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    # The conftest already cleared TALKBOX_* and key variables from os.environ.
    service = (
        {"TALKBOX_BASE_URL": emu.base_url, "TALKBOX_CA_FILE": str(emu.ca_file)}
        if emu is not None
        # A closed loopback port: any connection would fail.
        else {"TALKBOX_BASE_URL": "https://127.0.0.1:9"}
    )
    environment = {
        **os.environ,
        "GEMINI_API_KEY": "emu-test-key",
        "TALKBOX_STATE_DIR": str(tmp_path / "state"),
        **service,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "talkbox", "check", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        (
            {"TALKBOX_MODEL": "gemini-2.5-flash-native-audio-preview-09-2025"},
            ["TALKBOX_MODEL:", "is retired", "use gemini-3.8-live"],
        ),
        ({"TALKBOX_AFFECTIVE_DIALOG": "true"}, ["TALKBOX_AFFECTIVE_DIALOG:", "not offered"]),
        ({"TALKBOX_PROACTIVE_AUDIO": "true"}, ["TALKBOX_PROACTIVE_AUDIO:", "always on"]),
        ({"TALKBOX_THINKING_LEVEL": "medium"}, ["TALKBOX_THINKING_LEVEL:", "not offered"]),
        ({"TALKBOX_API_VERSION": "v1alpha"}, ["TALKBOX_API_VERSION:", "served on v1beta"]),
        ({"TALKBOX_API_VERSION": "v1"}, ["TALKBOX_API_VERSION:", "served on v1beta"]),
        (
            {
                "TALKBOX_MODEL": "gemini-2.5-flash-native-audio-latest",
                "TALKBOX_PROACTIVE_AUDIO": "true",
            },
            ["TALKBOX_PROACTIVE_AUDIO:", "needs TALKBOX_API_VERSION=v1alpha"],
        ),
        (
            {
                "TALKBOX_BACKEND": "vertex",
                "TALKBOX_VERTEX_PROJECT": "kitchen",
                "TALKBOX_VERTEX_LOCATION": "global",
                "TALKBOX_MODEL": "gemini-live-2.5-flash-native-audio",
            },
            ["TALKBOX_VERTEX_LOCATION:", "not served on the global location"],
        ),
    ],
)
def test_check_refuses_what_the_model_refuses_before_any_connection(
    tmp_path: Path, env: dict[str, str], words: list[str]
) -> None:
    for args in ((), ("--online",)):
        result = check(tmp_path, *args, **env)
        assert result.returncode == 78, result.stderr
        assert result.stdout == ""
        problems = [line for line in result.stderr.splitlines() if "config error" in line]
        assert len(problems) == 1, result.stderr
        for word in words:
            assert word in problems[0]


def test_check_online_reports_the_setup_answered(emulator: EmulatorThread, tmp_path: Path) -> None:
    result = check(tmp_path, "--online", emu=emulator)
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"key accepted, gemini-3\.8-live answered setup in \d+ ms", last), last
    conn = emulator.log.client_messages("setup")[-1].conn
    # One setup and nothing else: no audio, no turn; then the client closed.
    assert [r.kind for r in emulator.log.client_messages(conn=conn)] == ["setup"]
    (setup,) = emulator.log.client_messages("setup", conn=conn)
    declared = setup.message["setup"]["tools"][0]["functionDeclarations"]
    # Every tool the running box declares, the device tools included.
    assert {(d["name"], d["behavior"]) for d in declared} == {
        ("get_time", "BLOCKING"),
        ("end_conversation", "BLOCKING"),
        ("set_volume", "BLOCKING"),
        ("get_volume", "BLOCKING"),
        ("mute_microphone", "BLOCKING"),
        ("set_timer", "BLOCKING"),
        ("set_alarm", "BLOCKING"),
        ("list_timers", "BLOCKING"),
        ("change_timer", "BLOCKING"),
        ("cancel_timer", "BLOCKING"),
    }


def test_check_online_reports_a_wrong_key_as_a_config_refusal(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = check(tmp_path, "--online", emu=emulator, GEMINI_API_KEY="wrong-key")
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines()[-1].startswith("talkbox: gemini-3.8-live refused: HTTP 400")


def test_check_online_reports_a_model_the_service_no_longer_serves(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = check(tmp_path, "--online", emu=emulator, TALKBOX_MODEL=GONE)
    assert result.returncode == 78, result.stderr
    assert "is not in talkbox's model table" in result.stderr
    last = result.stderr.splitlines()[-1]
    # The service cuts close reasons at 123 bytes, mid-word (docs/live-protocol.md §3.2).
    assert last.startswith(
        f"talkbox: {GONE} refused: 1008 models/{GONE} is not found for API version v1beta"
    )
    assert last.endswith(
        ": the model is retired or the API version is wrong: set TALKBOX_MODEL (default "
        "gemini-3.8-live)"
    )


def test_check_online_reports_an_option_the_model_refuses_in_its_words(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    result = check(tmp_path, "--online", emu=emulator, TALKBOX_MODEL=LOOKALIKE)
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"talkbox: {LOOKALIKE} refused: 1007 Thinking level must be specified for this "
        "model (the setup was refused: check TALKBOX_THINKING_LEVEL or TALKBOX_MODEL)"
    )


def test_check_online_without_a_service_is_a_network_failure(tmp_path: Path) -> None:
    result = check(tmp_path, "--online")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("talkbox: gemini-3.8-live refused: network")
