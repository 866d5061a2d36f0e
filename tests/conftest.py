"""Test-wide environment and the suite-wide key guard.

Environment: no proxy for loopback, no inherited CA bundle, API keys or credentials.

Key guard (issue 11, "the key must never be printed"): every output of every test, that is
what pytest captured (stdout, stderr, log sections), every log record emitted at any level,
the output of every subprocess a test ran with `communicate()` (so `subprocess.run`), and a
failure's report, must be free of the keys the tests use: those in TEST_KEYS and any key a
test hands a subprocess in GEMINI_API_KEY or GOOGLE_API_KEY. A test that leaks one fails with
a report naming where, and the key is masked in what pytest then prints.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Generator, Iterable, Mapping
from typing import Any

import pytest

#: The distinctive keys the suite uses; a new distinctive test key belongs here.
TEST_KEYS: frozenset[str] = frozenset(
    {
        "emu-test-key",
        "AIzaSySystemTestKey-0123456789abcdefghi",
        "AIzaWrongKeyForTheEmulator0000000000000",
        "AIzaSyINSTALLTESTKEYxxxxxxxxxxxxxxxxxxx",
        "AIzaSyCheckKey-abcdefghijklmnopqrstuvwx",
        "AIzaSyTestKey-0123456789abcdefghijklmn",
        "AIzaSyHardeningKey-0123456789ABCDEFGHIJ",
    }
)
#: Tests whose output shows a test key on purpose, with the reason it is no leak.
SHOWN_ON_PURPOSE: dict[str, str] = {
    "tests/system/test_emulator_cli.py::test_help_documents_the_fault_grammar": (
        "the emulator's --help names its default key emu-test-key, which is public by design"
    ),
}
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
# Shorter "keys" given to subprocesses are placeholders ("x", "whatever") whose letters
# appear in ordinary output; guarding them would only make noise.
MIN_GUARDED_LENGTH = 12
LEAK_MASK = "<test key>"


class _Seen:
    """What the running test phase has output beyond pytest's own capture."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.keys: set[str] = set(TEST_KEYS)

    def add(self, where: str, text: object) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if isinstance(text, str) and text:
            self.texts.append((where, text))

    def take(self) -> list[tuple[str, str]]:
        texts, self.texts = self.texts, []
        return texts


SEEN = _Seen()


class _RecordEveryLine(logging.Handler):
    """Keeps every log record a test emits, formatted with its traceback, for the guard."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            SEEN.add("a log record", self.format(record))
        # As logging's own handlers do: a record that cannot be formatted is logging's report.
        except Exception:  # noqa: BLE001
            self.handleError(record)


_HANDLER = _RecordEveryLine()
_communicate = subprocess.Popen.communicate
_popen_init = subprocess.Popen.__init__


def _guarded_communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    out, err = _communicate(self, *args, **kwargs)
    SEEN.add("a subprocess's stdout", out)
    SEEN.add("a subprocess's stderr", err)
    return out, err


def _guarded_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    env: Mapping[str, str] | None = kwargs.get("env")
    for name in KEY_VARIABLES:
        key = (env or {}).get(name, "").strip()
        if len(key) >= MIN_GUARDED_LENGTH:
            SEEN.keys.add(key)
    _popen_init(self, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """Install the guard's log handler and subprocess hooks for the whole session."""
    logging.getLogger().addHandler(_HANDLER)
    subprocess.Popen.communicate = _guarded_communicate  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _guarded_init  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove what pytest_configure installed."""
    logging.getLogger().removeHandler(_HANDLER)
    subprocess.Popen.communicate = _communicate  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _popen_init  # type: ignore[method-assign]


def _mask(text: str, keys: Iterable[str]) -> str:
    for key in sorted(keys, key=len, reverse=True):
        text = text.replace(key, LEAK_MASK)
    return text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Fail the phase whose output holds a test key, and mask the key in its report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    texts = [*SEEN.take(), *((f"captured {title}", body) for title, body in report.sections)]
    if report.longrepr is not None:
        texts.append(("the failure report", str(report.longrepr)))
    if item.nodeid in SHOWN_ON_PURPOSE:
        return
    keys = SEEN.keys
    leaks = sorted({where for where, text in texts if any(key in text for key in keys)})
    if not leaks:
        return
    report.sections = [(title, _mask(body, keys)) for title, body in report.sections]
    earlier = _mask(str(report.longrepr), keys) + "\n\n" if report.failed else ""
    report.outcome = "failed"
    report.longrepr = f"{earlier}a test key leaked into {', '.join(leaks)} (issue 11)"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine exports SSL_CERT_FILE; the SDK builds its TLS context from it, so a test
    # that forgets to pass the emulator's CA must fail rather than silently use the system one.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    # websockets honours HTTPS_PROXY; loopback must never go through a proxy.
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,::1")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1,::1")
    # google.auth would ask the GCE metadata server (not loopback) for Vertex credentials.
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    for name in (
        *KEY_VARIABLES,
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_GENAI_API_VERSION",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "RUNTIME_DIRECTORY",
        "NOTIFY_SOCKET",
        "JOURNAL_STREAM",
    ):
        monkeypatch.delenv(name, raising=False)
    # No TALKBOX_* setting of the developer's shell may leak into a test.
    for name in list(os.environ):
        if name.startswith("TALKBOX_"):
            monkeypatch.delenv(name, raising=False)
