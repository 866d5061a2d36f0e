"""The local control socket: `talkbox ctl` talks to the running daemon over it.

One JSON object a line each way, one request per connection:

    {"command": "status"}                 → {"ok": true, "state": "idle", "link": {...}, ...}
    {"command": "press"} / "release" / "mute" / "unmute" / "new"
    {"command": "say", "text": "what time is it"}
    {"command": "volume", "percent": 40}
    anything else                         → {"ok": false, "error": "..."}

The socket lives in the runtime dir (`$RUNTIME_DIRECTORY`, which systemd's
`RuntimeDirectory=talkbox` makes `/run/talkbox`; else `$XDG_RUNTIME_DIR/talkbox`; else
`/run/talkbox`) as `control.sock`, mode 0660: the service's user and group may use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from talkbox.appliance_events import (
    ApplianceEvent,
    ButtonPressed,
    ButtonReleased,
    MuteRequested,
    NewConversationRequested,
    UnmuteRequested,
)
from talkbox.errors import TalkboxError

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
SOCKET_MODE = 0o660
MAX_REQUEST_BYTES = 64 * 1024
"""A request line longer than this is refused."""
REQUEST_TIMEOUT_S = 5.0
"""A client that sends no whole line within this long is dropped."""
EVENTS: Final[Mapping[str, ApplianceEvent]] = {
    "press": ButtonPressed(),
    "release": ButtonReleased(),
    "mute": MuteRequested(source="ctl"),
    "unmute": UnmuteRequested(source="ctl"),
    "new": NewConversationRequested(source="ctl"),
}
"""The commands that are events for the conversation, as a person's button would be."""
COMMANDS: Final = ("status", *EVENTS, "say", "volume")


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$RUNTIME_DIRECTORY (systemd), else $XDG_RUNTIME_DIR/talkbox, else /run/talkbox."""
    env = os.environ if environ is None else environ
    given = env.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "talkbox"
    return Path("/run/talkbox")


def socket_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the daemon listens and `talkbox ctl` connects."""
    return runtime_dir(environ) / SOCKET_NAME


class RequestError(TalkboxError):
    """A request the daemon cannot understand; the message goes back to the client."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One understood request."""

    command: str
    text: str | None = None
    """`say`: the text turn."""
    percent: int | None = None
    """`volume`: the new volume."""

    def event(self) -> ApplianceEvent:
        """The conversation event of press, release, mute, unmute and new."""
        return EVENTS[self.command]


def parse_request(line: bytes) -> Request:
    """The request in one JSON line; RequestError saying what is wrong."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise RequestError("the request is not a JSON object") from None
    if not isinstance(data, dict):
        raise RequestError("the request is not a JSON object")
    command = data.get("command")
    if command not in COMMANDS:
        raise RequestError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
    extra = set(data) - {"command", "text", "percent"}
    if extra:
        raise RequestError(f"unknown field(s) {', '.join(sorted(extra))}")
    if command == "say":
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RequestError("say needs a non-empty text")
        return Request(command=command, text=text.strip())
    if command == "volume":
        percent = data.get("percent")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise RequestError("volume needs a percent, an integer 0 to 100")
        return Request(command=command, percent=percent)
    return Request(command=command)


Handler = Callable[[Request], dict[str, Any]]


class Requests:
    """Turns request lines into answers with a handler; nothing a client sends raises."""

    def __init__(self, handler: Handler) -> None:
        """Answer understood requests with `handler` (called on the event loop)."""
        self._handler = handler

    def answer(self, line: bytes) -> dict[str, Any]:
        """The answer object to one request line."""
        try:
            request = parse_request(line)
            return {"ok": True, **self._handler(request)}
        except (TalkboxError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}


class ControlServer:
    """The UNIX socket server, bound on entering, removed on leaving; `serve()` is its task."""

    def __init__(self, path: Path, requests: Requests) -> None:
        """Listen on `path` (its directory is made if missing)."""
        self.path = path
        self._requests = requests
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        """Bind the socket (replacing a stale one) with mode 0660."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._client, path=self.path, limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.path, SOCKET_MODE)
        log.debug("control socket at %s", self.path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop listening and remove the socket."""
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def serve(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None
        await self._server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                line = await reader.readline()
            answer = self._requests.answer(line)
        except (ValueError, asyncio.LimitOverrunError):
            answer = {"ok": False, "error": f"the request is longer than {MAX_REQUEST_BYTES} bytes"}
        except TimeoutError:
            answer = {"ok": False, "error": "no request line within the time allowed"}
        try:
            writer.write(json.dumps(answer).encode("utf-8") + b"\n")
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                await writer.drain()
        except (OSError, TimeoutError) as exc:
            log.debug("control client went away: %s", exc)
        finally:
            writer.close()


async def ask_daemon(
    path: Path, request: Mapping[str, Any], *, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send one request to the daemon at `path` and return its answer (OSError if none)."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_REQUEST_BYTES * 16)
        try:
            writer.write(json.dumps(dict(request)).encode("utf-8") + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
    answer = json.loads(line) if line else None
    if not isinstance(answer, dict):
        raise OSError(f"the daemon at {path} gave no answer")
    return answer
