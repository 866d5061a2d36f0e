"""The local control socket: `talkbox ctl` talks to the running daemon over it.

One JSON object a line each way, one request per connection:

    {"command": "status"}                 → {"ok": true, "state": "idle", "link": {...}, ...}
    {"command": "press"} / "release" / "mute" / "unmute" / "new"
    {"command": "say", "text": "what time is it"}
    {"command": "volume", "percent": 40}
    {"command": "timers"} / "stop"        → the timers and alarms; stop the ring
    anything else                         → {"ok": false, "error": "..."}

The socket lives in the runtime dir (`$RUNTIME_DIRECTORY`, which systemd's
`RuntimeDirectory=talkbox` makes `/run/talkbox`; else `$XDG_RUNTIME_DIR/talkbox`; else
`/run/talkbox`) as `control.sock`, mode 0660: the service's user and group may use it.
`talkbox ctl` looks where the service puts it first (`candidates`): a login session has an
XDG_RUNTIME_DIR of its own, root's included, and the service's socket is not in it.

One socket, one daemon: a socket that a live daemon answers on is never taken over (a second
daemon refuses to start), only a stale one is replaced, and a daemon removes only the socket
it made. The server bounds what a client can cost: a request line of 64 KiB nested at most
`MAX_NESTING` deep, at most `MAX_CLIENTS` connections at once (the others wait in the
kernel's backlog), and a flood of them is logged once, not per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import re
import socket
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

from talkbox.conversation import (
    ApplianceEvent,
    ButtonPressed,
    ButtonReleased,
    MuteRequested,
    NewConversationRequested,
    RingStopRequested,
    UnmuteRequested,
)
from talkbox.errors import ConfigError, DaemonUnreachableError, StateBusyError, TalkboxError

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
SOCKET_MODE = 0o660
MAX_REQUEST_BYTES = 64 * 1024
"""A request line longer than this is refused."""
REQUEST_TIMEOUT_S = 5.0
"""A client that sends no whole line within this long is dropped."""
MAX_NESTING = 8
"""A request is one flat object; deeper nesting is refused before the JSON parser recurses."""
MAX_CLIENTS = 8
"""Connections served at once; more wait in the listen backlog (their descriptors unopened)."""
BACKLOG = 64
"""The kernel's queue of connections not yet accepted; a client beyond it is refused."""
ACCEPT_RETRY_S = 1.0
"""After accept() found the process out of descriptors, the next try waits this long."""
FLOOD_QUIET_S = 5.0
"""A flood is over once the clients have stayed under MAX_CLIENTS for this long."""
PROBE_TIMEOUT_S = 1.0
"""How long a connect to an existing socket may take before its daemon counts as alive."""
SERVICE_RUNTIME_DIR = Path("/run/talkbox")
"""Where systemd's `RuntimeDirectory=talkbox` puts the service's runtime dir."""
EVENTS: Final[Mapping[str, ApplianceEvent]] = {
    "press": ButtonPressed(),
    "release": ButtonReleased(),
    "mute": MuteRequested(source="ctl"),
    "unmute": UnmuteRequested(source="ctl"),
    "new": NewConversationRequested(source="ctl"),
    "stop": RingStopRequested(source="ctl"),
}
"""The commands that are events for the conversation, as a person's button would be."""


@dataclass(frozen=True, slots=True)
class Verb:
    """One `talkbox ctl` verb: what it does, and the request field its argument fills."""

    help: str
    argument: Literal["text", "percent"] | None = None
    """`text`: the words after the verb; `percent`: one whole number."""


VERBS: Final[Mapping[str, Verb]] = {
    "status": Verb("the state, the link and the last turn, as JSON"),
    "press": Verb("press the button"),
    "release": Verb("release the button"),
    "mute": Verb("privacy mute: the microphone is not read into the uplink"),
    "unmute": Verb("end the privacy mute"),
    "new": Verb("start a new conversation"),
    "say": Verb("ask a text question; the answer is spoken", argument="text"),
    "volume": Verb("set the speaker volume, 0 to 100", argument="percent"),
    "timers": Verb("the timers and alarms set, and those missed while off, as JSON"),
    "stop": Verb("stop a ringing timer or alarm"),
}
"""Every verb, in the order `talkbox ctl --help` lists them: the one list of them."""
COMMANDS: Final = tuple(VERBS)


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
    """Where the daemon listens."""
    return runtime_dir(environ) / SOCKET_NAME


def candidates(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where `talkbox ctl` looks for the daemon, in order, when no --socket is given.

    $RUNTIME_DIRECTORY (set by systemd, or by hand) is taken as given, alone. Otherwise the
    service's /run/talkbox comes first, then the per-user dir a daemon started by hand in a
    login session uses.
    """
    env = os.environ if environ is None else environ
    if env.get("RUNTIME_DIRECTORY", "").split(":")[0]:
        return [socket_path(env)]
    found = [SERVICE_RUNTIME_DIR / SOCKET_NAME, socket_path(env)]
    return list(dict.fromkeys(found))


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
        """The conversation event of press, release, mute, unmute, new and stop."""
        return EVENTS[self.command]


_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def nesting(line: bytes) -> int:
    """How deeply `line`'s JSON arrays and objects nest (brackets inside strings not counted)."""
    depth = deepest = 0
    for byte in _JSON_STRINGS.sub(b"", line).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_request(line: bytes) -> Request:
    """The request in one JSON line; RequestError saying what is wrong."""
    # json.loads recurses once per level: 64 KiB of brackets would raise RecursionError.
    if nesting(line) > MAX_NESTING:
        raise RequestError(f"the request nests deeper than {MAX_NESTING} levels")
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
        self._sock: socket.socket | None = None
        self._made: tuple[int, int] | None = None
        """The (device, inode) of the socket file this server made: the only one it removes."""
        self._slots = asyncio.Semaphore(MAX_CLIENTS)
        self._active = 0
        self._flood = 0
        """Connections accepted since all slots were first taken (0: no flood)."""
        self._last_full = 0.0
        self._flood_end: asyncio.TimerHandle | None = None
        self._starved = False

    async def __aenter__(self) -> Self:
        """Bind the socket with mode 0660, replacing only a stale one (StateBusyError if not)."""
        shown = ascii(str(self.path))[1:-1]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _clear_stale(self.path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError([f"the control socket {shown} cannot be made: {reason}"]) from None
        try:
            sock.bind(str(self.path))
            made = os.stat(self.path)
            self._made = (made.st_dev, made.st_ino)
            os.chmod(self.path, SOCKET_MODE)
            # Listening from here on: a second daemon's probe finds this one alive at once.
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            self._remove()
            reason = exc.strerror or str(exc)
            raise ConfigError([f"the control socket {shown} cannot be made: {reason}"]) from None
        self._sock = sock
        log.debug("control socket at %s", self.path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop listening and remove the socket, if it is still the one made here."""
        if self._flood_end is not None:
            self._flood_end.cancel()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._remove()

    def _remove(self) -> None:
        made, self._made = self._made, None
        if made is None:
            return
        with contextlib.suppress(FileNotFoundError):
            now = os.lstat(self.path)
            # Another daemon may have replaced it (a stale socket of ours): theirs stays.
            if (now.st_dev, now.st_ino) == made:
                self.path.unlink()

    async def serve(self) -> None:
        """Serve until cancelled, at most MAX_CLIENTS connections at a time."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as clients:
            while True:
                if self._slots.locked():
                    self._last_full = loop.time()
                    if not self._flood:
                        log.warning(
                            "control socket: %d clients at once; further connections wait "
                            "(a flood of `talkbox ctl`?)",
                            MAX_CLIENTS,
                        )
                        self._flood = 1
                await self._slots.acquire()
                try:
                    conn, _ = await loop.sock_accept(self._sock)
                except OSError as exc:
                    self._slots.release()
                    if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        raise
                    if not self._starved:
                        log.warning("control socket: cannot accept a connection: %s", exc)
                        self._starved = True
                    await asyncio.sleep(ACCEPT_RETRY_S)
                    continue
                if self._starved:
                    log.info("control socket: accepting connections again")
                    self._starved = False
                self._active += 1
                if self._flood:
                    self._flood += 1
                clients.create_task(self._serve_client(conn), name="control-client")

    async def _serve_client(self, conn: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=conn, limit=MAX_REQUEST_BYTES)
        except OSError as exc:
            conn.close()
            log.debug("control client went away: %s", exc)
            self._done()
            return
        try:
            await self._client(reader, writer)
        except Exception:  # a handler's bug; the daemon and the other clients go on
            log.exception("a control request failed")
        finally:
            writer.close()
            self._done()
            # A client gone before its answer leaves the write's error in the stream's closing
            # future; retrieving it keeps asyncio from logging it as never retrieved (at stop
            # too, when this task is being cancelled).
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _done(self) -> None:
        self._active -= 1
        self._slots.release()
        if self._flood and self._active == 0 and self._flood_end is None:
            self._flood_end = asyncio.get_running_loop().call_later(FLOOD_QUIET_S, self._end_flood)

    def _end_flood(self) -> None:
        # One line for the flood's end, not one each time the clients drain for a moment.
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_full
        if quiet < FLOOD_QUIET_S:
            self._flood_end = loop.call_later(FLOOD_QUIET_S - quiet, self._end_flood)
            return
        self._flood_end = None
        log.info("control socket: the flood is over (%d connections)", self._flood - 1)
        self._flood = 0

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                line = await reader.readline()
            answer = self._requests.answer(line)
        except (ValueError, asyncio.LimitOverrunError):
            answer = {"ok": False, "error": f"the request is longer than {MAX_REQUEST_BYTES} bytes"}
        except TimeoutError:
            answer = {"ok": False, "error": "no request line within the time allowed"}
        except OSError as exc:
            log.debug("control client went away: %s", exc)
            return
        try:
            writer.write(json.dumps(answer).encode("utf-8") + b"\n")
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                await writer.drain()
        except (OSError, TimeoutError) as exc:
            log.debug("control client went away: %s", exc)


def _clear_stale(path: Path) -> None:
    """Remove a socket at `path` that no daemon answers on; refuse to touch anything else."""
    shown = ascii(str(path))[1:-1]
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(found.st_mode):
        raise ConfigError([f"{shown} is in the way of the control socket: it is not a socket"])
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT_S)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        # Nothing listens: the socket of a daemon that died without removing it.
        with contextlib.suppress(FileNotFoundError):
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) == (found.st_dev, found.st_ino):
                path.unlink()
        return
    except (TimeoutError, BlockingIOError):
        pass  # a full backlog: a daemon is there, only busy
    finally:
        probe.close()
    raise StateBusyError(
        f"a talkbox daemon already answers at {shown}: stop it first, or give this one a "
        "runtime dir of its own (RUNTIME_DIRECTORY)"
    )


def _reason(exc: BaseException) -> str:
    """Why a connect to a control socket failed, for a person."""
    match exc:
        case FileNotFoundError():
            return "no socket"
        case ConnectionRefusedError():
            return "a stale socket: nothing listens"
        case PermissionError():
            return "permission denied: run as root or as a member of group talkbox"
        case TimeoutError():
            return "no answer in time"
        case OSError(strerror=str(text)):
            return text
    return str(exc) or type(exc).__name__


async def ask_daemon(
    path: Path | Sequence[Path], request: Mapping[str, Any], *, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Send one request to the first daemon that accepts a connection and return its answer.

    `path` is one socket or the sockets to try in turn (`candidates()`). Only a connection
    that fails moves on to the next: a request sent is never sent to a second daemon.
    DaemonUnreachableError says which sockets were tried and why none answered.
    """
    paths: Iterable[Path] = [path] if isinstance(path, Path) else path
    tried: list[str] = []
    for each in paths:
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_unix_connection(
                    each, limit=MAX_REQUEST_BYTES * 16
                )
        except (OSError, TimeoutError) as exc:
            tried.append(f"{ascii(str(each))[1:-1]} ({_reason(exc)})")
            continue
        try:
            async with asyncio.timeout(timeout_s):
                writer.write(json.dumps(dict(request)).encode("utf-8") + b"\n")
                await writer.drain()
                line = await reader.readline()
        except (OSError, TimeoutError) as exc:
            raise DaemonUnreachableError(
                f"the talkbox daemon at {ascii(str(each))[1:-1]} did not answer: {_reason(exc)}"
            ) from None
        finally:
            writer.close()
        try:
            answer = json.loads(line) if line else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise DaemonUnreachableError(
                f"the talkbox daemon at {ascii(str(each))[1:-1]} gave no answer"
            )
        return answer
    raise DaemonUnreachableError(f"no talkbox daemon answers; tried {'; '.join(tried)}")
