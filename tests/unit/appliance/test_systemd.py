from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.appliance.systemd import Notifier


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify")
    sock.bind(address)
    sock.settimeout(5)
    yield sock, address
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"talkbox-test-{uuid.uuid4().hex}"
    sock.bind("\0" + name)
    sock.settimeout(5)
    yield sock, "@" + name
    sock.close()


def test_ready_reaches_a_path_socket_with_its_status(
    path_socket: tuple[socket.socket, str],
) -> None:
    sock, address = path_socket
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    assert notifier.ready("idle")
    assert sock.recv(4096) == b"READY=1\nSTATUS=idle"


def test_messages_reach_an_abstract_socket(abstract_socket: tuple[socket.socket, str]) -> None:
    sock, address = abstract_socket
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": address})
    assert notifier.watchdog()
    assert notifier.stopping()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_a_status_is_kept_on_one_line(path_socket: tuple[socket.socket, str]) -> None:
    sock, address = path_socket
    Notifier.from_environ({"NOTIFY_SOCKET": address}).status("error:\nAPI key\trejected")
    assert sock.recv(4096) == b"STATUS=error: API key rejected"


def test_without_a_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.active
    assert not notifier.ready("idle")


def test_a_socket_that_is_gone_is_no_crash(tmp_path: Path) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "missing")})
    assert notifier.active
    assert not notifier.watchdog()


def test_the_watchdog_interval_is_half_of_watchdog_usec() -> None:
    env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_environ(env).watchdog_s == 15.0
    assert Notifier.from_environ({"WATCHDOG_USEC": "3000000"}).watchdog_s == 1.5


@pytest.mark.parametrize(
    "env",
    [
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "soon"},
        {},
    ],
)
def test_no_watchdog_for_another_process_or_a_bad_value(env: dict[str, str]) -> None:
    assert Notifier.from_environ(env).watchdog_s is None


def test_a_vsock_address_is_not_used() -> None:
    assert not Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}).active
