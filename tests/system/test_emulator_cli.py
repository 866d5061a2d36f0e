"""`talkbox emulator` as a subprocess: the ready line, a real SDK turn, clean signal exit."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types

from talkbox.emulator import EmulatorOptions, EmulatorThread

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
READY = re.compile(r"^talkbox emulator listening on (https://127\.0\.0\.1:\d+) ca=(\S+)$")

pytestmark = pytest.mark.slow


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "talkbox", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_command_prints_one_ready_line_serves_a_turn_and_exits_0_on_sigterm(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca.pem"
    log = tmp_path / "events.jsonl"
    process = start("--ca-out", str(ca), "--event-log", str(log), "--fast")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().rstrip("\n")
        match = READY.match(line)
        assert match, line
        assert Path(match[2]) == ca
        assert ca.is_file()
        client = genai.Client(
            api_key="emu-test-key",
            http_options=types.HttpOptions(
                base_url=match[1],
                api_version="v1beta",
                async_client_args={"ssl": ssl.create_default_context(cafile=str(ca))},
            ),
        )

        async def talk() -> list[types.LiveServerMessage]:
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_realtime_input(text="hello from a subprocess test")
                async with asyncio.timeout(10):
                    return [m async for m in session.receive()]

        messages = asyncio.run(talk())
        assert messages[-1].server_content is not None
        assert messages[-1].server_content.turn_complete
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out == ""
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert "setup" in kinds
    assert "serverContent.turnComplete" in kinds


def test_a_fault_armed_on_the_command_line_reaches_a_real_sdk_turn() -> None:
    process = start("--fast", "--fault", "close:preset=internal@turn=1")
    try:
        assert process.stdout is not None
        match = READY.match(process.stdout.readline().rstrip("\n"))
        assert match
        client = genai.Client(
            api_key="emu-test-key",
            http_options=types.HttpOptions(
                base_url=match[1],
                api_version="v1beta",
                async_client_args={"ssl": ssl.create_default_context(cafile=match[2])},
            ),
        )

        async def talk() -> None:
            async with client.aio.live.connect(model=MODEL) as session:
                await session.send_realtime_input(text="hello")
                async with asyncio.timeout(10):
                    while True:
                        async for _ in session.receive():
                            pass

        with pytest.raises(errors.APIError) as caught:
            asyncio.run(talk())
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert caught.value.code == 1011
    assert caught.value.details == "Internal error occurred."
    assert process.returncode == 0, err


def test_sigint_also_stops_it_with_exit_0() -> None:
    process = start("--fault", "close:preset=internal@turn=1")
    try:
        assert process.stdout is not None
        assert READY.match(process.stdout.readline().rstrip("\n"))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["--fault", "explode@turn=1"],
        ["--fault", "close:code=abc"],
        ["--fault", "close@when=3"],
        ["--connection-lifetime", "-1"],
        ["--connection-lifetime", "nan"],
        ["--context-window", "-5"],
        ["--no-such-option"],
    ],
)
def test_a_bad_option_gets_one_line_and_exit_2(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "talkbox", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("talkbox emulator: error: ")


def test_help_documents_the_fault_grammar() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "talkbox", "emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "KIND[:key=value,...][@TRIGGER]" in result.stdout
    assert "reject_upgrade" in result.stdout
    assert "turn=N" in result.stdout


def test_python_dash_m_talkbox_emulator_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "talkbox.emulator", "--fault", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "bad --fault 'nope': unknown fault kind" in result.stderr


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with EmulatorThread(EmulatorOptions()) as taken:
        result = subprocess.run(
            [sys.executable, "-m", "talkbox", "emulator", "--port", str(taken.port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "address already in use" in result.stderr
