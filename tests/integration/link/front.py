"""A TCP front before the emulator: what a network can put between the box and the service.

Each connection the front accepts is answered by the next behaviour of its list, then by the
emulator itself: `PORTAL` answers the ClientHello with a captive portal's plain HTTP 302,
`NOT_YET_VALID` completes TLS with a certificate whose validity starts tomorrow (as a box
whose clock is not set sees every certificate), `PASS` hands the bytes to the emulator.
The certificates are real (trustme); the client trusts both CAs (`ca_file`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from enum import StrEnum
from pathlib import Path

import trustme

from talkbox.emulator import Emulator


class Behaviour(StrEnum):
    """How the front answers one connection."""

    PORTAL = "portal"
    NOT_YET_VALID = "not_yet_valid"
    PASS = "pass"


PORTAL = Behaviour.PORTAL
NOT_YET_VALID = Behaviour.NOT_YET_VALID
PASS = Behaviour.PASS

_REDIRECT = (
    b"HTTP/1.1 302 Found\r\nLocation: http://portal.example/login\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


class Front:
    """Listens on 127.0.0.1; `base_url` and `ca_file` are what the box is given."""

    def __init__(self, emulator: Emulator, first: list[Behaviour], workdir: Path) -> None:
        self.emulator = emulator
        self.plan = list(first)
        self.answered: list[Behaviour] = []
        """What each connection got, in order."""
        ca = trustme.CA()
        tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        cert = ca.issue_cert(
            "127.0.0.1",
            "localhost",
            not_before=tomorrow,
            not_after=tomorrow + datetime.timedelta(days=30),
        )
        self._early = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self._early)
        self.ca_file = workdir / "front-and-emulator-ca.pem"
        self.ca_file.write_bytes(emulator.ca_file.read_bytes() + ca.cert_pem.bytes())
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """`https://127.0.0.1:PORT` of the front."""
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.plan.pop(0) if self.plan else PASS
        self.answered.append(behaviour)
        try:
            match behaviour:
                case Behaviour.PORTAL:
                    await reader.read(4096)  # the ClientHello
                    writer.write(_REDIRECT)
                    await writer.drain()
                case Behaviour.NOT_YET_VALID:
                    # The client refuses the certificate and hangs up; nothing else to do.
                    with contextlib.suppress(ssl.SSLError, OSError, ConnectionError):
                        await writer.start_tls(self._early)
                        await reader.read(1)
                case Behaviour.PASS:
                    await self._pass(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, ConnectionError):
                await writer.wait_closed()

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.emulator.host, self.emulator.port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError, ConnectionError):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._answer(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Front]:
        """Listen for the block's duration."""
        self._server = await asyncio.start_server(self._track, "127.0.0.1", 0)
        try:
            yield self
        finally:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
