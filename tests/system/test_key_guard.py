"""The suite-wide key guard (tests/conftest.py) fails a test that leaks a key, however it leaks.

Each case runs a small pytest session in a subprocess with a copy of the suite's conftest and
one test that leaks a test key one way, and holds that session's outcome and output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFTEST = Path(__file__).parents[1] / "conftest.py"
#: A key the guard knows from TEST_KEYS.
KNOWN = "emu-test-key"

LEAKS = {
    "print": f"print({KNOWN!r})",
    "stderr": f"sys.stderr.write({KNOWN!r})",
    "a log record nobody formats": f"logging.getLogger('talkbox.x').warning({KNOWN!r})",
    "a logged traceback": (
        "try:\n"
        f"        raise ValueError({KNOWN!r})\n"
        "    except ValueError:\n"
        "        logging.getLogger('talkbox').exception('failed')"
    ),
    "a subprocess's output": (
        f"subprocess.run([sys.executable, '-c', 'print(\"{KNOWN}\")'], capture_output=True)"
    ),
    "a key handed to a subprocess": (
        "subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"GEMINI_API_KEY\"])'],"
        " capture_output=True, env={**os.environ, 'GEMINI_API_KEY': 'AIzaFreshKeyOfThisTest-000'})"
    ),
    "a failing assertion's message": f"assert False, {KNOWN!r}",
    "a thread's log line": (
        "t = threading.Thread(target=lambda: logging.getLogger('x').warning("
        f"{KNOWN!r}))\n    t.start()\n    t.join()"
    ),
}


def run_session(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """A pytest session of one test whose body is `body`, under the suite's conftest."""
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    test = f"import logging, os, subprocess, sys, threading\n\n\ndef test_it():\n    {body}\n"
    (tmp_path / "test_it.py").write_text(test, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("body", LEAKS.values(), ids=LEAKS.keys())
def test_a_test_that_leaks_a_key_fails_and_the_key_is_masked_in_its_report(
    tmp_path: Path, body: str
) -> None:
    result = run_session(tmp_path, body)
    assert result.returncode == 1, result.stdout
    assert "a test key leaked into" in result.stdout
    assert "1 failed" in result.stdout
    # The outer guard holds this session's output too: it must show no key either.
    assert KNOWN not in result.stdout + result.stderr
    assert "AIzaFreshKeyOfThisTest-000" not in result.stdout + result.stderr


def test_a_test_that_shows_no_key_passes(tmp_path: Path) -> None:
    result = run_session(tmp_path, "print('emu-test-k' + 'ay'); logging.getLogger('x').error('x')")
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout
