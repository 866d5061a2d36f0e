"""The Emulator: TLS listener, the HTTP upgrade (path, version, key) and the shared state."""

from __future__ import annotations

import json
import logging
import random
import re
import ssl
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State

from talkbox.emulator.connection import Connection
from talkbox.emulator.faults import CLOSE_PRESETS, INSTANT_KINDS, Fault, Point
from talkbox.emulator.log import EventLog
from talkbox.emulator.options import EmulatorOptions
from talkbox.emulator.protocol import INVALID_ARGUMENT, UNAVAILABLE
from talkbox.emulator.session import HandleStore, Session, SessionMemory
from talkbox.emulator.side import UpgradeInfo
from talkbox.emulator.tls import Certificates, make_certificates

logger = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(?P<version>v1(?:alpha|beta)?)\.GenerativeService\."
    r"(?P<method>BidiGenerateContent(?:Constrained)?)$"
)
_KEY_INVALID = CLOSE_PRESETS["key_invalid"][1]


class Emulator:
    """A local, protocol-faithful Gemini Live API server (BidiGenerateContent over wss)."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        """Prepare an emulator; `start()` (or `async with`) makes it listen."""
        self.options = options or EmulatorOptions()
        self.log = EventLog(
            self.options.event_log_path,
            keep_audio=self.options.log_audio,
            max_records=self.options.log_max_records,
        )
        self.rng = random.Random(self.options.seed)
        self.handles = HandleStore(self.rng, self.options.handle_lifetime_s)
        self.faults: list[Fault] = [Fault.parse(spec) for spec in self.options.faults]
        self.sessions: dict[int, Session] = {}
        self.connections: dict[int, Connection] = {}
        self._attempts = 0
        self._session_ids = 0
        #: Upgrades that passed process_request, until websockets says 101 or not.
        #: With each, the handshake's log data (path, redacted headers).
        self._pending: dict[ServerConnection, tuple[UpgradeInfo, dict[str, object]]] = {}
        #: Upgrades answered 101 whose handler has not started yet.
        self._upgrades: dict[ServerConnection, UpgradeInfo] = {}
        #: Accepted (101) connections still open, by attempt number: the http quota counts
        #: these, so concurrent connects are limited before any of them reaches setup.
        self._accepted: dict[int, UpgradeInfo] = {}
        self._server: Server | None = None
        self._certs: Certificates | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Make the CA and certificate and start listening."""
        self._certs = make_certificates(self.options.ca_out)
        try:
            self._server = await self._listen(self._certs)
        except OSError:
            self._certs.cleanup()
            self._certs = None
            self.log.close()
            raise

    async def _listen(self, certs: Certificates) -> Server:
        return await serve(
            self._handle,
            self.options.host,
            self.options.port,
            ssl=certs.server_context,
            process_request=self._process_request,
            process_response=self._process_response,
            # The client pings (every 20 s by default); the service itself never does.
            ping_interval=None,
            # A bigger client frame is closed 1009 by websockets (see EmulatorOptions).
            max_size=self.options.max_client_frame_bytes,
            server_header=None,
        )

    async def stop(self) -> None:
        """Close every connection (1001) and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._certs is not None:
            self._certs.cleanup()
        self.log.close()

    async def __aenter__(self) -> Emulator:
        """Start; stopped when the block ends."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    # ---- what clients need -------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the emulator listens on."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def host(self) -> str:
        """The host name clients should use."""
        return self.options.host

    @property
    def base_url(self) -> str:
        """`https://HOST:PORT`, for `HttpOptions(base_url=...)`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The CA PEM a client must trust (as an SSL context or `SSL_CERT_FILE`)."""
        if self._certs is None:
            raise RuntimeError("the emulator is not started")
        return self._certs.ca_file

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts the emulator's CA."""
        if self._certs is None:
            raise RuntimeError("the emulator is not started")
        return self._certs.client_context()

    # ---- faults ------------------------------------------------------------------------

    def arm(self, fault: Fault | str) -> Fault:
        """Arm a fault (a `Fault` or its spec string); returns it, to inspect `fired` later."""
        armed = Fault.parse(fault) if isinstance(fault, str) else fault
        self.faults.append(armed)
        self.log.add(0, "event", "fault_armed", {"spec": str(armed)})
        return armed

    def disarm_all(self) -> None:
        """Forget every armed fault."""
        self.faults.clear()

    def fired(self, fault: Fault, conn: int) -> None:
        """Count and log one firing of a fault."""
        fault.fired += 1
        self.log.add(conn, "event", "fault", {"spec": str(fault), "kind": fault.kind})

    def faults_for(
        self,
        conn: int,
        *,
        point: Point | None = None,
        timed: bool = False,
        msg: int | None = None,
        turn: int | None = None,
        moment: str = "first_audio",
    ) -> list[Fault]:
        """The live faults that act on connection `conn` at the given moment."""
        selected = []
        for fault in self._live(conn):
            trigger = fault.trigger
            untimed = trigger.t is None and trigger.msg is None and trigger.turn is None
            if timed:
                wanted = trigger.t is not None
            elif point is not None:
                # quota's point is UPGRADE, which is never asked for here.
                wanted = untimed and fault.point is point
            elif msg is not None:
                wanted = trigger.msg is not None and msg in trigger.msg
            elif turn is not None:
                wanted = (
                    trigger.turn is not None
                    and turn in trigger.turn
                    and fault.kind in INSTANT_KINDS
                    and trigger.moment == moment
                )
            else:
                wanted = False
            if wanted:
                selected.append(fault)
        return selected

    def turn_faults(self, conn: int, number: int) -> list[Fault]:
        """The turn-shape faults for turn `number` (counted as fired)."""
        selected = []
        for fault in self._live(conn):
            trigger = fault.trigger
            if fault.point is not Point.TURN:
                continue
            if trigger.turn is None or number in trigger.turn:
                self.fired(fault, conn)
                selected.append(fault)
        return selected

    def quota_fault(self, conn: int, via: str) -> Fault | None:
        """The armed per-key session quota for this connection, if any."""
        for fault in self._live(conn):
            if fault.kind == "quota" and fault.params["via"] == via:
                return fault
        return None

    def _live(self, conn: int) -> Iterator[Fault]:
        """The armed faults not yet exhausted that act on connection `conn`."""
        for fault in self.faults:
            if not fault.exhausted and fault.matches_connection(conn):
                yield fault

    # ---- sessions ----------------------------------------------------------------------

    def new_session(self, key: str, model: str, conversation: SessionMemory) -> Session:
        """Start a new logical session (and forget sessions that can no longer be resumed)."""
        self.prune_sessions()
        self._session_ids += 1
        session = Session(self._session_ids, key, model, conversation)
        self.sessions[session.id] = session
        return session

    def prune_sessions(self, now: float | None = None) -> int:
        """Forget sessions with no open connection whose handles have expired; how many."""
        now = time.monotonic() if now is None else now
        lifetime = self.options.handle_lifetime_s
        dead = [s for s in self.sessions.values() if not s.handle_valid(now, lifetime)]
        for session in dead:
            del self.sessions[session.id]
            self.handles.forget(session)
        return len(dead)

    def active_sessions(self, key: str) -> int:
        """How many sessions of this key have an open connection."""
        return sum(1 for s in self.sessions.values() if s.key == key and s.open_connections)

    def open_upgrades(self, key: str) -> int:
        """How many accepted (101) connections of this key are still open."""
        return sum(1 for info in self._accepted.values() if info.key == key)

    def session_has_open_socket(self, session: Session, other_than: int) -> bool:
        """Whether another connection of the session still has an open socket."""
        for conn_id in session.open_connections:
            conn = self.connections.get(conn_id)
            if conn_id != other_than and conn is not None and conn.ws.state is State.OPEN:
                return True
        return False

    # ---- the upgrade -------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self._attempts += 1
        conn = self._attempts
        # Not urlsplit: it would read the `//ws` of `//ws/...` as a host name. The SDK requests
        # `//ws/...` when the base URL ends in a slash, and Google accepts it.
        raw_path, _, raw_query = request.path.partition("?")
        path = re.sub("/+", "/", raw_path)
        query = parse_qs(raw_query)
        headers = dict(request.headers.raw_items())
        shown: dict[str, object] = {"path": request.path, "headers": _redact(headers)}
        match = _PATH.match(path)
        if match is None or match["version"] not in self.options.api_versions:
            return self._refuse(connection, conn, 404, _not_found_body(path), shown)
        try:
            key = _request_key(request.headers, query)
        except ValueError as exc:
            shown["problem"] = str(exc)
            return self._refuse(connection, conn, 400, _status_body(400), shown)
        key_ok = bool(key) and (self.options.api_key is None or key == self.options.api_key)
        for fault in self._live(conn):
            if fault.kind == "reject_upgrade":
                self.fired(fault, conn)
                status = int(fault.params["status"])
                body = str(fault.params["body"]) or _status_body(status)
                retry = float(fault.params["retry_after"])
                extra = {"Retry-After": f"{retry:g}"} if retry else {}
                return self._refuse(connection, conn, status, body, shown, extra)
        quota = self.quota_fault(conn, via="http")
        if quota is not None and self.open_upgrades(key) >= int(quota.params["max"]):
            self.fired(quota, conn)
            return self._refuse(connection, conn, 429, _status_body(429), shown)
        if not key_ok and self.options.bad_key_mode != "close1007":
            status = int(self.options.bad_key_mode.removeprefix("http"))
            return self._refuse(connection, conn, status, _key_body(status), shown)
        info = UpgradeInfo(conn, path, match["version"], match["method"], key, key_ok)
        # Not accepted yet: websockets may still refuse it (426 for a plain HTTPS GET).
        self._pending[connection] = (info, shown)
        return None

    def _process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        pending = self._pending.pop(connection, None)
        if pending is None:
            return  # refused by _process_request, which logged it
        info, shown = pending
        status = response.status_code
        if status == HTTPStatus.SWITCHING_PROTOCOLS and not (
            self._server is not None and self._server.is_serving()
        ):
            # Stopping: websockets turns this 101 into a 503 after this hook returns.
            status = HTTPStatus.SERVICE_UNAVAILABLE
        if status != HTTPStatus.SWITCHING_PROTOCOLS:
            body = response.body.decode("utf-8", errors="replace")
            data = {**shown, "status": int(status), "body": body}
            self.log.add(info.conn, "event", "upgrade_refused", data)
            return
        self._upgrades[connection] = info
        self._accepted[info.conn] = info
        shown.update(version=info.version, method=info.method, key_ok=info.key_ok)
        self.log.add(info.conn, "event", "handshake", shown)

    def _refuse(
        self,
        connection: ServerConnection,
        conn: int,
        status: int,
        body: str,
        shown: dict[str, object],
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = connection.respond(status, body)
        if body.startswith("{"):
            response.headers["Content-Type"] = "application/json; charset=UTF-8"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        self.log.add(conn, "event", "upgrade_refused", {**shown, "status": status, "body": body})
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        info = self._upgrades.pop(ws)
        connection = Connection(self, ws, info)
        self.connections[info.conn] = connection
        try:
            await connection.run()
        except Exception as exc:
            # An emulator bug: make it visible to tests (the fixtures check for these records).
            self.log.add(info.conn, "event", "emulator_error", {"error": repr(exc)})
            raise
        finally:
            self.connections.pop(info.conn, None)
            self._accepted.pop(info.conn, None)


def _request_key(headers: Headers, query: dict[str, list[str]]) -> str:
    """The API key of an upgrade request; ValueError when a credential is given twice."""
    for name in ("x-goog-api-key", "Authorization"):
        if len(headers.get_all(name)) > 1:
            raise ValueError(f"the {name} header was sent more than once")
    key = headers.get("x-goog-api-key") or ""
    if not key and query.get("key"):
        key = query["key"][0]
    if not key and query.get("access_token"):
        key = query["access_token"][0]
    authorization = headers.get("Authorization") or ""
    if not key and authorization.startswith("Token "):
        key = authorization.removeprefix("Token ")
    return key


def _redact(headers: dict[str, str]) -> dict[str, str]:
    # The key is test data, but a log file may be shared: keep only a hint of it.
    return {
        k: (v[:4] + "…" if k.lower() in ("x-goog-api-key", "authorization") else v)
        for k, v in headers.items()
    }


def _google_error(status: int, message: str, reason: str) -> str:
    return (
        json.dumps({"error": {"code": status, "message": message, "status": reason}}, indent=2)
        + "\n"
    )


def _status_body(status: int) -> str:
    reasons = {
        400: (INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        401: ("Request is missing required authentication credential.", "UNAUTHENTICATED"),
        403: ("The caller does not have permission", "PERMISSION_DENIED"),
        404: ("Requested entity was not found.", "NOT_FOUND"),
        429: ("Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED"),
        500: ("Internal error encountered.", "INTERNAL"),
        503: (UNAVAILABLE, "UNAVAILABLE"),
    }
    message, reason = reasons.get(status, (HTTPStatus(status).phrase, "UNKNOWN"))
    return _google_error(status, message, reason)


def _key_body(status: int) -> str:
    reason = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED"}.get(status, "PERMISSION_DENIED")
    return _google_error(status, _KEY_INVALID, reason)


def _not_found_body(path: str) -> str:
    return _google_error(
        404, f"The requested URL {path} was not found on this server.", "NOT_FOUND"
    )
