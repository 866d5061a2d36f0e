"""Issue 11 through the real command: the key is never printed, problems are one line and 78.

Each case runs `python -m talkbox check` or `ask` as a subprocess, as a new user would. `ask`
points at a loopback port nothing listens on (or an emulator that accepts any key and counts
connections), so a command that got past its checks would fail or connect visibly. The
suite-wide guard in tests/conftest.py also holds every output here against KEY.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from talkbox.emulator import EmulatorOptions, EmulatorThread

pytestmark = pytest.mark.slow

#: The distinctive key of these tests (also in tests/conftest.py TEST_KEYS).
KEY = "AIzaSyHardeningKey-0123456789ABCDEFGHIJ"
#: A loopback port nothing listens on.
OFFLINE_URL = "https://127.0.0.1:9"
LONG_PART = "x" * 300  # over the 255 bytes a path component may have


def unprivileged_prefix() -> list[str]:
    """A prefix under which root, too, is held to file permissions (no capabilities).

    A parent directory that cannot be searched is what a non-root user meets; root passes
    every permission check while it keeps CAP_DAC_OVERRIDE.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and without setpriv no capability can be dropped")
    return [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


def talkbox(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    unprivileged: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m talkbox ARGS` with `env` added to the environment the conftest cleaned."""
    prefix = unprivileged_prefix() if unprivileged else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "talkbox", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        # Every command here ends before it connects; 60 s only bounds a regression.
        timeout=60,
        check=False,
    )


def check(config: Path | None, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`talkbox check` with the state kept in tmp_path."""
    args = ["check", "--config", str(config)] if config is not None else ["check"]
    return talkbox(*args, env={"STATE_DIRECTORY": str(tmp_path / "state"), **env})


def ask(config: Path | None, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`talkbox ask hello` against a closed port, the answers kept in tmp_path."""
    args = ["--config", str(config)] if config is not None else []
    defaults = {"STATE_DIRECTORY": str(tmp_path / "state"), "TALKBOX_BASE_URL": OFFLINE_URL}
    return talkbox(
        "ask", *args, "--out-dir", str(tmp_path / "out"), "hello", env={**defaults, **env}
    )


def config_errors(stderr: str) -> list[str]:
    """The `talkbox: config error: ...` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("talkbox: config error: ")]


def assert_one_line_problem(result: subprocess.CompletedProcess[str], variable: str) -> None:
    """Exit 78, no traceback, every stderr line talkbox's own, a problem naming `variable`."""
    assert result.returncode == 78, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("talkbox: ") for line in lines), result.stderr
    assert any(line.startswith(f"talkbox: config error: {variable}") for line in lines), lines


def assert_no_key(result: subprocess.CompletedProcess[str], key: str = KEY) -> None:
    """Neither the key nor a long piece of it is in the command's output."""
    output = result.stdout + result.stderr
    assert key not in output
    # 34 of 39 characters were shown once: no 16 consecutive characters of it may appear.
    assert not any(key[i : i + 16] in output for i in range(len(key) - 15))


def write(path: Path, text: str) -> Path:
    """`text` written to `path` as UTF-8 (bytes as given, NUL included)."""
    path.write_bytes(text.encode("utf-8"))
    return path


# --- 1. a key that cannot be sent as a header is a config error ---

UNSENDABLE = {
    "typographic double quotes from a paste": f"\u201c{KEY}\u201d",
    "typographic single quotes": f"\u2018{KEY}\u2019",
    "a non-breaking space inside": f"{KEY[:10]}\u00a0{KEY[10:]}",
    "a control character": f"{KEY[:20]}\x7f{KEY[20:]}",
    "an escape sequence": f"\x1b[31m{KEY}",
    "60,000 characters": KEY * 1540,
    "just over the bound": (KEY * 27)[:1025],
}


@pytest.mark.parametrize("key", UNSENDABLE.values(), ids=UNSENDABLE.keys())
def test_a_key_that_cannot_be_a_header_fails_check_without_showing_it(
    tmp_path: Path, key: str
) -> None:
    config = write(tmp_path / "talkbox.env", f'GEMINI_API_KEY="{key}"\n')
    result = check(config, tmp_path)
    assert_one_line_problem(result, "GEMINI_API_KEY")
    assert_no_key(result)
    assert len(config_errors(result.stderr)) == 1


@pytest.mark.parametrize(
    "where", ["environment", "key file", "systemd credential", "GOOGLE_API_KEY"]
)
def test_ask_refuses_an_unsendable_key_from_anywhere_before_it_connects(
    tmp_path: Path, where: str
) -> None:
    key = f"\u201c{KEY}\u201d"
    env: dict[str, str] = {}
    variable = "GEMINI_API_KEY"
    if where == "environment":
        env["GEMINI_API_KEY"] = key
    elif where == "GOOGLE_API_KEY":
        env["GOOGLE_API_KEY"] = key
    elif where == "key file":
        env["TALKBOX_API_KEY_FILE"] = str(write(tmp_path / "key", key + "\n"))
        variable = "TALKBOX_API_KEY_FILE"
    else:
        (tmp_path / "creds").mkdir()
        write(tmp_path / "creds" / "gemini_api_key", key)
        env["CREDENTIALS_DIRECTORY"] = str(tmp_path / "creds")
        variable = "$CREDENTIALS_DIRECTORY/gemini_api_key"
    result = ask(None, tmp_path, **env)
    assert_one_line_problem(result, variable)
    assert_no_key(result)


def test_a_loaded_key_is_masked_in_every_later_line_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process, to see the one redactor itself: `check` registers the key as it loads it.
    from talkbox.cli import dispatch
    from talkbox.logs import MASK, REDACTOR

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert dispatch(["check"]) == 0
    assert REDACTOR(f"handshake failed: invalid x-goog-api-key header: {KEY}").endswith(MASK)
    assert KEY not in capsys.readouterr().out


# --- 2. env-file notes name the line, never its text ---

NOT_ASSIGNMENTS = {
    "a colon for the equals sign": f"GEMINI_API_KEY: {KEY}",
    "the key alone": KEY,
    "a space for the equals sign": f"GEMINI_API_KEY {KEY}",
    "a bad name": f"1GEMINI_API_KEY={KEY}",
    "shell export": f"export GEMINI_API_KEY={KEY}",
    "a name with a space": f"GEMINI API KEY={KEY}",
}


# Every line through `check`; `ask` (which logs the notes as WARNINGs) with two of them, as
# each subprocess costs a second or two on a loaded machine.
NOTE_CASES = [
    *(pytest.param(line, "check", id=f"check-{name}") for name, line in NOT_ASSIGNMENTS.items()),
    pytest.param(NOT_ASSIGNMENTS["a colon for the equals sign"], "ask", id="ask-colon"),
    pytest.param(NOT_ASSIGNMENTS["the key alone"], "ask", id="ask-key-alone"),
]


@pytest.mark.parametrize(("line", "command"), NOTE_CASES)
def test_an_env_file_line_systemd_ignores_is_noted_by_number_without_its_text(
    tmp_path: Path, line: str, command: str
) -> None:
    config = write(tmp_path / "talkbox.env", f"TALKBOX_VOICE=Kore\n{line}\n")
    result = (check if command == "check" else ask)(config, tmp_path)
    # Item 7: the note stays beside the problem it explains (the key is not set).
    assert result.returncode == 78, result.stderr
    assert "GEMINI_API_KEY is not set" in result.stderr
    assert f"{config}: line 2: " in result.stderr
    assert_no_key(result)


def test_check_keeps_the_env_file_notes_beside_problems_of_other_settings(tmp_path: Path) -> None:
    config = write(
        tmp_path / "talkbox.env",
        f"export GEMINI_API_KEY={KEY}\nTALKBOX_VOICE=Kore!\nTALKBOX_LANGUAGE=english\n",
    )
    result = check(config, tmp_path)
    assert result.returncode == 78
    assert len(config_errors(result.stderr)) == 2
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert warnings == [
        f"talkbox: warning: {config}: line 1: 'export' is shell syntax systemd does not read, "
        "so it ignores the line and GEMINI_API_KEY is not set by it (write GEMINI_API_KEY=... "
        "without 'export')"
    ]
    assert_no_key(result)


# --- 3. a quote left open swallows the lines after it ---

OPEN_QUOTES = {
    "voice, double quote": ('TALKBOX_VOICE="Kore', "TALKBOX_VOICE"),
    "instruction, double quote": ('TALKBOX_SYSTEM_INSTRUCTION="Be brief.', "TALKBOX_SYSTEM_"),
    "instruction, single quote": ("TALKBOX_SYSTEM_INSTRUCTION='Be brief.", "TALKBOX_SYSTEM_"),
    # systemd skips blanks before a value, so this quote opens too (inside a value it would not).
    "language, blank before the quote": ('TALKBOX_LANGUAGE= "en-GB', "TALKBOX_LANGUAGE"),
}


@pytest.mark.parametrize(("opener", "variable"), OPEN_QUOTES.values(), ids=OPEN_QUOTES.keys())
@pytest.mark.parametrize("after", ["end of file", "closed later"])
def test_an_open_quote_swallowing_the_key_line_is_a_problem_that_never_shows_the_key(
    tmp_path: Path, opener: str, variable: str, after: str
) -> None:
    quote = '"' if '"' in opener else "'"
    tail = "" if after == "end of file" else f"TALKBOX_MODEL=x{quote}\n"
    config = write(
        tmp_path / "talkbox.env",
        f"TALKBOX_IDLE_DISCONNECT_S=0\n{opener}\nGEMINI_API_KEY={KEY}\n{tail}",
    )
    result = check(config, tmp_path)
    assert result.returncode == 78
    problems = config_errors(result.stderr)
    assert any(f"{config}: line 2: " in p and variable in p for p in problems), problems
    assert any(
        "swallowing lines that look like settings of their own (GEMINI_API_KEY" in p
        for p in problems
    )
    assert_no_key(result)


def test_ask_never_sends_a_swallowed_key_line_as_the_system_instruction(tmp_path: Path) -> None:
    # This emulator takes any key, so an ask that got past its checks would be answered.
    with EmulatorThread(EmulatorOptions(realtime=False, api_key=None)) as emu:
        config = write(
            tmp_path / "talkbox.env",
            f'TALKBOX_SYSTEM_INSTRUCTION="Be brief.\nGEMINI_API_KEY={KEY}\n'
            f"TALKBOX_CA_FILE={emu.ca_file}\n",
        )
        result = ask(config, tmp_path, TALKBOX_BASE_URL=emu.base_url, GEMINI_API_KEY="k-2")
        assert not emu.emulator.connections
    assert_one_line_problem(result, f"{config}: line 1")
    assert_no_key(result)


def test_a_closed_multi_line_instruction_is_kept_with_a_note(tmp_path: Path) -> None:
    config = write(
        tmp_path / "talkbox.env",
        f'GEMINI_API_KEY={KEY}\nTALKBOX_SYSTEM_INSTRUCTION="Be brief.\nBe kind."\n',
    )
    result = check(config, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "TALKBOX_SYSTEM_INSTRUCTION" in result.stdout
    assert "Be brief. ... (2 lines, the rest not shown)" in result.stdout
    assert f"{config}: line 2: the quoted value of TALKBOX_SYSTEM_INSTRUCTION spans" in (
        result.stderr
    )
    assert_no_key(result)


def test_check_never_shows_a_key_line_inside_a_closed_multi_line_value(tmp_path: Path) -> None:
    # No line looks like a setting, so it loads; only the first line is the person's own.
    config = write(
        tmp_path / "talkbox.env",
        f'GEMINI_API_KEY=k-1234\nTALKBOX_SYSTEM_INSTRUCTION="Be brief.\n{KEY}\n"\n',
    )
    result = check(config, tmp_path)
    assert result.returncode == 0, result.stderr
    assert_no_key(result)


def test_a_bad_value_spanning_lines_is_not_quoted_in_its_problem(tmp_path: Path) -> None:
    # Closed, no line looks like a setting: systemd's value, refused but never shown.
    config = write(tmp_path / "talkbox.env", f'TALKBOX_VOICE="Kore\n{KEY}"\n')
    result = check(config, tmp_path)
    assert_one_line_problem(result, "TALKBOX_VOICE: (a value spanning lines")
    assert_no_key(result)


# --- 4, 6. every filesystem problem of a setting: one line, exit 78, the setting named ---

PATH_SETTINGS = [
    "TALKBOX_CA_FILE",
    "TALKBOX_API_KEY_FILE",
    "TALKBOX_SYSTEM_INSTRUCTION_FILE",
    "TALKBOX_STATE_DIR",
]


def _environment(variable: str, value: str) -> dict[str, str]:
    env = {variable: value, "TALKBOX_BASE_URL": OFFLINE_URL}
    if variable != "TALKBOX_API_KEY_FILE":
        env["GEMINI_API_KEY"] = KEY
    return env


# Every path setting through `check`; `ask` with the two whose tracebacks were reported.
PATH_CASES = [
    *(pytest.param(variable, "check", id=f"check-{variable}") for variable in PATH_SETTINGS),
    pytest.param("TALKBOX_API_KEY_FILE", "ask", id="ask-TALKBOX_API_KEY_FILE"),
    pytest.param("TALKBOX_STATE_DIR", "ask", id="ask-TALKBOX_STATE_DIR"),
]


@pytest.mark.parametrize(("variable", "command"), PATH_CASES)
def test_a_path_component_over_255_bytes_is_a_problem_of_its_setting(
    tmp_path: Path, variable: str, command: str
) -> None:
    env = _environment(variable, f"{tmp_path}/{LONG_PART}/file")
    result = (check if command == "check" else ask)(None, tmp_path, **env)
    assert_one_line_problem(result, variable)
    assert "too long" in result.stderr
    assert_no_key(result)


@pytest.mark.parametrize("variable", PATH_SETTINGS)
def test_a_nul_byte_in_a_path_in_the_env_file_is_refused_by_check_and_ask(
    tmp_path: Path, variable: str
) -> None:
    lines = [f"{variable}={tmp_path}/a\x00b", f"TALKBOX_BASE_URL={OFFLINE_URL}"]
    if variable != "TALKBOX_API_KEY_FILE":
        lines.append(f"GEMINI_API_KEY={KEY}")
    config = write(tmp_path / "talkbox.env", "\n".join(lines) + "\n")
    for result in (check(config, tmp_path), ask(config, tmp_path)):
        assert_one_line_problem(result, variable)
        assert "NUL" in result.stderr
        assert "\\x00" in result.stderr


@pytest.mark.parametrize(("variable", "command"), PATH_CASES)
def test_a_relative_path_is_refused_even_when_it_exists_here(
    tmp_path: Path, variable: str, command: str
) -> None:
    # The file is right here, but systemd runs the daemon from /.
    (tmp_path / "here").mkdir()
    write(tmp_path / "here" / "thing", f"{KEY}\n")
    env = {"STATE_DIRECTORY": str(tmp_path / "state"), **_environment(variable, "here/thing")}
    args = ["check"] if command == "check" else ["ask", "--out-dir", str(tmp_path / "o"), "hi"]
    result = talkbox(*args, env=env, cwd=tmp_path)
    assert_one_line_problem(result, variable)
    assert "absolute path" in result.stderr
    assert_no_key(result)


@pytest.mark.parametrize("value", ["a\nb", "/nowhere/a\nb", "/nowhere/\x1b[2Jx", "/no/\u2028x"])
def test_a_path_with_control_characters_is_shown_escaped_on_one_line(
    tmp_path: Path, value: str
) -> None:
    result = check(None, tmp_path, **_environment("TALKBOX_CA_FILE", value))
    assert_one_line_problem(result, "TALKBOX_CA_FILE")
    (problem,) = config_errors(result.stderr)
    assert "\x1b" not in problem
    assert "\\n" in problem or "\\x1b" in problem or "\\u2028" in problem


def test_a_very_long_value_is_cut_in_its_problem(tmp_path: Path) -> None:
    result = check(None, tmp_path, GEMINI_API_KEY=KEY, TALKBOX_VOICE="K" * 5000)
    assert_one_line_problem(result, "TALKBOX_VOICE")
    assert len(result.stderr) < 400
    assert "(5000 characters)" in result.stderr


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody may search (mode 000), restored for tmp_path's cleanup."""
    path = tmp_path / "locked"
    (path / "inner").mkdir(parents=True)
    path.chmod(0)
    yield path
    path.chmod(0o700)


@pytest.mark.parametrize("variable", ["TALKBOX_STATE_DIR", "STATE_DIRECTORY"])
@pytest.mark.parametrize("command", ["check", "ask"])
def test_a_state_dir_under_a_directory_that_cannot_be_searched_is_a_problem(
    tmp_path: Path, locked: Path, variable: str, command: str
) -> None:
    env = {variable: str(locked / "inner" / "talkbox"), "GEMINI_API_KEY": KEY}
    env.setdefault("STATE_DIRECTORY", str(tmp_path / "state"))
    env["TALKBOX_BASE_URL"] = OFFLINE_URL
    out = tmp_path / "out"
    args = ["check"] if command == "check" else ["ask", "--out-dir", str(out), "hi"]
    result = talkbox(*args, env=env, unprivileged=True)
    assert_one_line_problem(result, "TALKBOX_STATE_DIR")
    assert "permission denied" in result.stderr


def test_an_unreadable_credentials_directory_is_a_problem_naming_it(
    tmp_path: Path, locked: Path
) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(locked), "STATE_DIRECTORY": str(tmp_path / "state")}
    result = talkbox("check", env=env, unprivileged=True)
    assert_one_line_problem(result, "$CREDENTIALS_DIRECTORY/gemini_api_key")
    assert "permission denied" in result.stderr


@pytest.mark.parametrize("variable", ["TALKBOX_API_KEY_FILE", "TALKBOX_CA_FILE"])
def test_a_file_under_a_directory_that_cannot_be_searched_is_a_problem(
    tmp_path: Path, locked: Path, variable: str
) -> None:
    env = {"STATE_DIRECTORY": str(tmp_path / "state")}
    env.update(_environment(variable, str(locked / "inner" / "file")))
    result = talkbox("check", env=env, unprivileged=True)
    assert_one_line_problem(result, variable)
    assert "permission denied" in result.stderr


# --- 8. Vertex without application default credentials ---


def _vertex(tmp_path: Path, **env: str) -> dict[str, str]:
    # No gcloud configuration of the machine's user, and no metadata server lookup.
    return {
        "TALKBOX_BACKEND": "vertex",
        "TALKBOX_VERTEX_PROJECT": "my-project",
        "HOME": str(tmp_path / "home"),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "NO_GCE_CHECK": "true",
        **env,
    }


@pytest.mark.parametrize("credentials", ["none", "a missing file", "not JSON"])
@pytest.mark.parametrize("command", ["check", "ask"])
def test_vertex_without_usable_credentials_is_a_config_error(
    tmp_path: Path, credentials: str, command: str
) -> None:
    env = _vertex(tmp_path)
    if credentials == "a missing file":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "adc.json")
    elif credentials == "not JSON":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(write(tmp_path / "adc.json", "{oops"))
    result = (check if command == "check" else ask)(None, tmp_path, **env)
    assert_one_line_problem(result, "TALKBOX_BACKEND=vertex needs application default")
    assert len(config_errors(result.stderr)) == 1


def test_vertex_with_application_default_credentials_passes_check(tmp_path: Path) -> None:
    adc = write(
        tmp_path / "adc.json",
        '{"type": "authorized_user", "client_id": "i", "client_secret": "s", "refresh_token": "r"}',
    )
    result = check(None, tmp_path, **_vertex(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=str(adc)))
    assert result.returncode == 0, result.stderr
    assert "config error" not in result.stderr
