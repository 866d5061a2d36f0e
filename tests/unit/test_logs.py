from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.logs import (
    MASK,
    Redactor,
    TalkboxFormatter,
    configure_logging,
    priority,
    under_journal,
)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks


def record(level: int, message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord("talkbox.x", level, __file__, 1, message, (), exc_info)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.DEBUG, 7),
        (logging.INFO, 6),
        (logging.WARNING, 4),
        (logging.ERROR, 3),
        (logging.CRITICAL, 2),
        (logging.INFO + 5, 6),
        (logging.WARNING + 1, 4),
        (1, 7),
    ],
)
def test_each_level_maps_to_its_syslog_priority(level: int, expected: int) -> None:
    assert priority(level) == expected


def test_under_the_journal_every_line_of_a_traceback_carries_the_priority() -> None:
    formatter = TalkboxFormatter(journal=True, redact=Redactor())
    lines = formatter.format(record(logging.ERROR, "it broke", exc=True)).splitlines()
    assert lines[0] == "<3>talkbox.x: it broke"
    assert len(lines) > 3
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>RuntimeError: boom"


def test_in_a_terminal_lines_are_plain_and_timestamped() -> None:
    formatter = TalkboxFormatter(journal=False, redact=Redactor())
    line = formatter.format(record(logging.WARNING, "careful"))
    assert not line.startswith("<")
    assert line.endswith("WARNING talkbox.x: careful")
    assert line[:4].isdigit()


def test_secrets_are_masked_in_messages_and_tracebacks() -> None:
    key = "AIzaSyTHISISAFAKEKEYFORTESTS123456789"
    formatter = TalkboxFormatter(journal=True, redact=Redactor([key]))
    text = formatter.format(record(logging.ERROR, f"header {key!r} refused", exc=True))
    assert key not in text
    assert MASK in text


def test_a_redactor_masks_the_longest_secret_first_and_ignores_tiny_values() -> None:
    redact = Redactor(["abcd", "abcdefgh", "x"])
    assert redact("key abcdefgh and abcd and x") == f"key {MASK} and {MASK} and x"


def test_the_journal_is_recognised_only_on_the_stream_systemd_named(tmp_path: Path) -> None:
    with (tmp_path / "stream").open("w") as stream:
        st = os.fstat(stream.fileno())
        assert under_journal(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not under_journal(stream, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not under_journal(stream, {"JOURNAL_STREAM": "garbage"})
        assert not under_journal(stream, {})
    assert not under_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def test_configure_logging_under_journald_prefixes_library_lines_too(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    with (tmp_path / "stream").open("w+") as stream:
        st = os.fstat(stream.fileno())
        configure_logging(
            "DEBUG", stream=stream, environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        )
        logging.getLogger("google_genai.live").warning("from a library")
        logging.getLogger("talkbox.link").debug("detail")
        stream.seek(0)
        assert stream.read().splitlines() == [
            "<4>google_genai.live: from a library",
            "<7>talkbox.link: detail",
        ]


def test_configuring_twice_does_not_double_lines(root_logger: logging.Logger) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    logging.getLogger("talkbox.x").info("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1


def test_an_uncaught_exception_in_a_thread_is_logged_critical(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, secrets=["SECRETSECRET"])
    worker = threading.Thread(name="capture")
    # pytest wraps threading.excepthook per test; call ours the way the thread machinery does.
    hook = threading.excepthook
    try:
        raise ValueError("bad SECRETSECRET")
    except ValueError as exc:
        hook(threading.ExceptHookArgs((ValueError, exc, exc.__traceback__, worker)))
    text = stream.getvalue()
    assert "CRITICAL talkbox: uncaught exception in thread capture" in text
    assert "ValueError: bad " + MASK in text
    assert "SECRETSECRET" not in text


def test_an_uncaught_exception_in_the_main_thread_is_logged_critical(
    root_logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        raise KeyError("lost")
    except KeyError as exc:
        sys.excepthook(KeyError, exc, exc.__traceback__)
    assert "CRITICAL talkbox: uncaught exception" in stream.getvalue()
    assert "KeyError: 'lost'" in stream.getvalue()
