"""A connection on a stand-in socket: what it logs when sends fail, and the pong hook guard."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from talkbox.emulator import Emulator, EmulatorOptions, Fault
from talkbox.emulator.connection import Connection
from talkbox.emulator.server import UpgradeInfo


class GoneSocket:
    """A socket whose peer has gone, from a websockets without the internals the hook needs."""

    protocol = SimpleNamespace()

    async def send(self, data: Any) -> None:
        raise ConnectionClosed(None, None)


def connection() -> Connection:
    emulator = Emulator(EmulatorOptions())
    info = UpgradeInfo(1, "/ws", "v1beta", "BidiGenerateContent", "emu-test-key", True)
    return Connection(emulator, GoneSocket(), info)  # type: ignore[arg-type]


async def test_a_send_that_fails_is_not_logged_as_sent() -> None:
    conn = connection()
    with pytest.raises(ConnectionClosed):
        await conn.send({"setupComplete": {}})
    with pytest.raises(ConnectionClosed):
        await conn.send_raw("malformed.empty", b"{}", {})
    assert conn.emu.log.server_messages() == []
    conn.emu.log.close()


async def test_without_the_websockets_internals_delay_pong_says_it_cannot_work() -> None:
    conn = connection()
    assert conn.pong_hook is False
    with pytest.raises(RuntimeError, match="delay_pong needs websockets"):
        await conn.fire(Fault.parse("delay_pong:s=1"))
    conn.emu.log.close()
