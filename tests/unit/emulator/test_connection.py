"""A connection on a stand-in socket: what it logs for sends, and the pong hook guard."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from talkbox.emulator import Emulator, EmulatorOptions, Fault
from talkbox.emulator.connection import Connection
from talkbox.emulator.side import UpgradeInfo


class GoneSocket:
    """A socket whose peer has gone, from a websockets without the internals the hook needs."""

    protocol = SimpleNamespace()

    async def send(self, data: Any) -> None:
        raise ConnectionClosed(None, None)


class TimingSocket:
    """A socket that notes when each send was handed to it."""

    protocol = SimpleNamespace()

    def __init__(self) -> None:
        self.sent_at: list[float] = []

    async def send(self, data: Any) -> None:
        self.sent_at.append(time.monotonic())


def connection(socket: object | None = None) -> Connection:
    emulator = Emulator(EmulatorOptions())
    info = UpgradeInfo(1, "/ws", "v1beta", "BidiGenerateContent", "emu-test-key", True)
    return Connection(emulator, socket or GoneSocket(), info)  # type: ignore[arg-type]


async def test_a_send_that_fails_is_not_logged_as_sent() -> None:
    conn = connection()
    with pytest.raises(ConnectionClosed):
        await conn.send({"setupComplete": {}})
    with pytest.raises(ConnectionClosed):
        await conn.send_raw("malformed.empty", b"{}", {})
    assert conn.emu.log.server_messages() == []
    conn.emu.log.close()


async def test_a_sent_frame_is_stamped_before_its_send_began_and_logged_after_it() -> None:
    socket = TimingSocket()
    conn = connection(socket)
    await conn.send({"setupComplete": {}})
    await conn.send_raw("malformed.empty", b"{}", {})
    records = conn.emu.log.server_messages()
    assert [r.kind for r in records] == ["setupComplete", "malformed.empty"]
    for record, handed in zip(records, socket.sent_at, strict=True):
        assert record.t_send is not None
        assert record.t_send <= handed <= record.t
    conn.emu.log.close()


async def test_without_the_websockets_internals_delay_pong_says_it_cannot_work() -> None:
    conn = connection()
    assert conn.pong_hook is False
    with pytest.raises(RuntimeError, match="delay_pong needs websockets"):
        await conn.fire(Fault.parse("delay_pong:s=1"))
    conn.emu.log.close()
