"""One Live connection: reading and checking client frames, setup, lifetime, sending.

A user turn ends at ``activityEnd`` (activity detection disabled), at ``audioStreamEnd`` or
after ``silence_ms`` of quiet audio (automatic detection; both in `Listener`), at a realtime
``text``, or at ``clientContent`` with ``turnComplete``; the `Responder` answers it, and the
`FaultActor` acts out faults. A frame the service would refuse is closed 1007.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any, NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from talkbox.emulator import catalog, model, schema
from talkbox.emulator.facts import SetupFacts
from talkbox.emulator.faultactor import FaultActor
from talkbox.emulator.faults import CLOSE_PRESETS, Fault, Point
from talkbox.emulator.listening import Listener
from talkbox.emulator.protocol import (
    CLIENT_MESSAGES,
    INVALID_ARGUMENT,
    NOT_FOUND,
    UNAVAILABLE,
    JsonDict,
    ProtocolError,
    audio_rate,
    client_kind,
    decode_b64,
    duration_text,
    message_name,
    normalise,
    parse_frame,
    realtime_field,
    server_kind,
    truncate_reason,
)
from talkbox.emulator.responder import Responder
from talkbox.emulator.session import (
    Session,
    SessionMemory,
    Tokens,
    setup_tokens,
)
from talkbox.emulator.session import text_tokens as count_text
from talkbox.emulator.side import EmulatorSide, FaultSwitches, UpgradeInfo

logger = logging.getLogger(__name__)


class SessionEnded(Exception):
    """The emulator closed or aborted the connection; the current coroutine stops."""


class Connection:
    """Runs one accepted websocket from setup to close, as the Live service would."""

    def __init__(self, emulator: EmulatorSide, ws: ServerConnection, info: UpgradeInfo) -> None:
        """Serve `ws`, which passed the upgrade described by `info`."""
        self.emu = emulator
        self.options = emulator.options
        self.ws = ws
        self.info = info
        self.id = info.conn
        self.opened = time.monotonic()
        self.index = 0
        self.session: Session | None = None
        self.attached = self.opened
        self.setup: JsonDict = {}
        self.facts = SetupFacts()
        #: The served model's row, known once setup named it.
        self.row = catalog.row_for("")
        self.ended = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.responder = Responder(self)
        #: Made by _setup_phase, once the silence limit is known (nothing listens before).
        self.listener: Listener
        self.actor = FaultActor(self)
        # Switched by faults (see FaultActor); read by the send path.
        self.switches = FaultSwitches()
        #: Set once setup attached the connection to a session.
        self.attached_event = asyncio.Event()
        self.pong_hook = False
        self._install_pong_hook()

    # ---- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        for fault in self.emu.faults_for(self.id, timed=True):
            self.spawn(self.actor.timed(fault))
        try:
            await self._setup_phase()
            self.spawn(self._lifetime())
            if self.options.session_limit_s is not None and not self.facts.compression:
                self.spawn(self._session_limit(self.options.session_limit_s))
            self.spawn(self.responder.run())
            await self._read_loop()
        except SessionEnded:
            pass
        except ConnectionClosed:
            self._log_client_close()
        finally:
            self.ended = True
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.session is not None:
                now = time.monotonic()
                self.session.open_connections.discard(self.id)
                self.session.connected_s += now - self.attached
                if not self.session.open_connections:
                    self.session.last_closed = now

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `coro` as a task of this connection (cancelled when it ends; errors logged)."""
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        # A task cancelled before its first step (the connection ended at once) never
        # awaits `coro`; closing it then is what keeps Python from warning about it.
        task.add_done_callback(lambda _: coro.close())
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # An emulator bug: make it visible to tests (the fixtures check for these records).
        error = task.exception()
        self.emu.log.add(self.id, "event", "emulator_error", {"error": repr(error)})
        logger.error("emulator connection %d failed", self.id, exc_info=error)

    async def _guard(self, coro: Coroutine[Any, Any, None]) -> None:
        # A background task that finds the socket gone just stops; the reader logs why.
        with contextlib.suppress(ConnectionClosed, SessionEnded):
            await coro

    def _log_client_close(self) -> None:
        if self.ended:
            return
        self.ended = True
        protocol = self.ws.protocol
        rcvd = protocol.close_rcvd
        sent = protocol.close_sent
        if sent is not None and (rcvd is None or protocol.close_rcvd_then_sent is False):
            # websockets itself closed (a frame over max_size: 1009); the server spoke first.
            data = {"by": "server", "code": sent.code, "reason": sent.reason}
            self.emu.log.add(self.id, "event", "close", data)
        elif rcvd is None:
            self.emu.log.add(self.id, "event", "close", {"by": "client", "code": 1006})
        else:
            data = {"by": "client", "code": rcvd.code, "reason": rcvd.reason}
            self.emu.log.add(self.id, "event", "close", data)

    async def close(self, code: int, reason: str) -> NoReturn:
        """Close with a code and reason (truncated to 123 bytes), then stop this coroutine."""
        reason = truncate_reason(reason)
        if not self.ended:
            self.ended = True
            data = {"by": "server", "code": code, "reason": reason}
            self.emu.log.add(self.id, "event", "close", data)
            await self.ws.close(code, reason)
        raise SessionEnded

    def abort(self) -> NoReturn:
        """Drop the TCP connection without a close frame, then stop this coroutine."""
        if not self.ended:
            self.ended = True
            self.emu.log.add(self.id, "event", "abort", {"by": "server"})
            self.ws.transport.abort()
        raise SessionEnded

    # ---- sending -----------------------------------------------------------------------

    async def send(self, message: JsonDict) -> None:
        """Send one server message as the service does: compact JSON in a binary frame."""
        await self._wait_stall()
        if self.switches.silent:
            return
        data = json.dumps(message, separators=(",", ":"))
        started = time.monotonic()
        await self.ws.send(data if self.switches.text_frames else data.encode())
        # Logged once sent: a send that fails (socket gone) must not look delivered.
        self.emu.log.add(self.id, "out", server_kind(message), message, t_send=started)

    async def send_raw(self, kind: str, payload: bytes, shown: JsonDict) -> None:
        """Send a frame that is not a well-formed server message (malformed-output faults)."""
        await self._wait_stall()
        if self.switches.silent:
            return
        started = time.monotonic()
        await self.ws.send(payload.decode() if self.switches.text_frames else payload)
        self.emu.log.add(self.id, "out", kind, shown, t_send=started)

    async def _wait_stall(self) -> None:
        left = self.switches.stall_until - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)
            # A stall armed while this one ran extends it.
            await self._wait_stall()

    def _install_pong_hook(self) -> None:
        # websockets answers pings inside its protocol object; delaying a pong means holding
        # the frame and writing it later, which is how a slow real server looks to a client.
        # This reaches into websockets internals (Protocol.send_frame, Connection.send_data;
        # present in 13-17, tested with 17.4), so it is feature-detected: without them the
        # emulator still serves, and only delay_pong and stall (pong part) say they cannot.
        protocol = self.ws.protocol
        original = getattr(protocol, "send_frame", None)
        if not callable(original) or not callable(getattr(self.ws, "send_data", None)):
            self.pong_hook = False
            return
        self.pong_hook = True
        loop = asyncio.get_running_loop()

        def late(frame: Frame) -> None:
            if protocol.state is State.OPEN:
                original(frame)
                self.ws.send_data()

        def send_frame(frame: Frame) -> None:
            delay = max(self.switches.pong_delay, self.switches.stall_until - time.monotonic())
            if frame.opcode is Opcode.PONG and delay > 0:
                loop.call_later(delay, late, frame)
            else:
                original(frame)

        protocol.send_frame = send_frame  # type: ignore[method-assign]

    # ---- setup -------------------------------------------------------------------------

    async def _recv(self) -> tuple[str, str | None, JsonDict]:
        """The next client frame: message name, realtime field and normalised message.

        The field is None unless a realtimeInput sets exactly one; 1007 on a refused frame.
        """
        frame = await self.ws.recv()
        self.index += 1
        try:
            sent = parse_frame(frame)
            message: JsonDict = normalise(sent)
        except ProtocolError as exc:
            shown = {"raw": frame[:200] if isinstance(frame, str) else repr(frame[:200])}
            self.emu.log.add(self.id, "in", "malformed", shown, self.index)
            await self.close(1007, str(exc))
        name: str | None = None
        field: str | None = None
        error: ProtocolError | None = None
        try:
            name = message_name(message)
        except ProtocolError as exc:
            error = exc
        else:
            body = message[name]
            if name == "realtimeInput" and isinstance(body, dict):
                # Checked (1007) in _realtime_input, after the shape, as before.
                with contextlib.suppress(ProtocolError):
                    field = realtime_field(body)
        kind = client_kind(message, name, field)
        self.emu.log.add(self.id, "in", kind, message, self.index, sent)
        if name is None:
            await self.close(1007, str(error))
        body_sent = next(v for k, v in sent.items() if k in (name, CLIENT_MESSAGES[name]))
        problem = schema.problem(name, body_sent, self.info.version)
        if problem is not None:
            await self.close(1007, problem)
        await self._wait_stall()
        return name, field, message

    async def _setup_phase(self) -> None:
        try:
            async with asyncio.timeout(self.options.setup_timeout_s):
                _, _, message = await self._recv()
        except TimeoutError:
            await self.close(1007, INVALID_ARGUMENT)
        if not self.info.key_ok:
            # The "accept, then refuse during setup" variant seen for an expired key
            # (live-protocol §4.6): before anything else is looked at, and no setupComplete.
            await self.close(*CLOSE_PRESETS["key_invalid"])
        setup = message.get("setup")
        if not isinstance(setup, dict):
            await self.close(1007, INVALID_ARGUMENT)
        self.setup = setup
        model_name = str(setup.get("model", ""))
        bare = model_name.removeprefix("models/")
        await self._check_model(bare)
        self.facts = SetupFacts.read(setup, self.options.silence_ms, self.row.default_behavior)
        # The model's own voiceActivity messages, under automatic detection (or a fault's).
        self.switches.voice_activity |= self.row.voice_activity and not self.facts.manual_activity
        self.listener = Listener(self, self.facts.silence_limit_s)
        await self._attach_session(bare)
        for fault in self.emu.faults_for(self.id, point=Point.CONNECTION):
            await self.fire(fault)
        setup_faults = self.emu.faults_for(self.id, point=Point.SETUP)
        for fault in setup_faults:
            if fault.kind in ("delay_setup", "no_setup_complete", "setup_first"):
                continue
            await self.fire(fault)
        await self.actor.after_message()
        shaped = {f.kind: f for f in setup_faults}
        if "setup_first" in shaped:
            self.emu.fired(shaped["setup_first"], self.id)
            await self.send({"sessionResumptionUpdate": {}})
        if "delay_setup" in shaped:
            self.emu.fired(shaped["delay_setup"], self.id)
            await asyncio.sleep(float(shaped["delay_setup"].params["s"]))
        if "no_setup_complete" in shaped:
            self.emu.fired(shaped["no_setup_complete"], self.id)
        else:
            await self.send({"setupComplete": {}})

    async def _check_model(self, bare: str) -> None:
        """Close setup as the service does for a model not served, or a setup it refuses."""
        version = self.info.version
        if bare not in self.options.models:
            await self.close(1008, catalog.not_found(bare, version))
        self.row = row = catalog.row_for(bare)
        if row.retired:
            # Served by name: with the rules it had before it was shut down.
            row = self.row = dataclasses.replace(row, retired=False)
        served = set(row.api_versions)
        if self.options.v1_live == "serve" and "v1beta" in served:
            served.add("v1")
        if self.info.method.endswith("Constrained"):
            # Ephemeral tokens are a v1alpha feature, for every model.
            served.add("v1alpha")
        if version not in served:
            await self.close(1008, catalog.not_found(bare, version))
        refusal = catalog.setup_refusal(row, self.setup)
        if refusal is not None:
            await self.close(*refusal)

    async def _attach_session(self, model_name: str) -> None:
        resumption = self.setup.get("sessionResumption")
        handle = resumption.get("handle") if isinstance(resumption, dict) else None
        key = self.info.key
        quota = self.emu.quota_fault(self.id, via="close")
        if quota is not None and self.emu.active_sessions(key) >= int(quota.params["max"]):
            self.emu.fired(quota, self.id)
            await self.close(*CLOSE_PRESETS["resource_exhausted"])
        if handle:
            for fault in self.emu.faults_for(self.id, point=Point.RESUME):
                self.emu.fired(fault, self.id)
                if fault.kind == "reject_handle":
                    data = {"handle": handle, "fault": str(fault)}
                    self.emu.log.add(self.id, "event", "handle_rejected", data)
                    await self.close(*fault.close_code_reason())
                self.emu.handles.expire_all()
            found = self.emu.handles.lookup(str(handle))
            if found is None:
                self.emu.log.add(self.id, "event", "handle_rejected", {"handle": handle})
                await self.close(1008, NOT_FOUND)
            session, conversation = found
            if self.options.reject_resume_while_open and self.emu.session_has_open_socket(
                session, self.id
            ):
                await self.close(1011, UNAVAILABLE)
            if self.options.reject_model_change and session.model != model_name:
                await self.close(1007, INVALID_ARGUMENT)
            conversation.base = setup_tokens(self.setup)
            session.conversation = conversation
            self.emu.log.add(
                self.id,
                "event",
                "resumed",
                {"session": session.id, "turns": conversation.turns},
            )
        else:
            conversation = SessionMemory(base=setup_tokens(self.setup))
            session = self.emu.new_session(key, model_name, conversation)
            self.emu.log.add(self.id, "event", "session", {"session": session.id})
        session.open_connections.add(self.id)
        self.attached = time.monotonic()
        self.session = session
        self.attached_event.set()

    # ---- faults ------------------------------------------------------------------------

    async def fire(self, fault: Fault) -> None:
        """Act out an instant or connection fault now."""
        await self.actor.fire(fault)

    # ---- lifetime ----------------------------------------------------------------------

    async def _lifetime(self) -> None:
        lifetime = self.options.connection_lifetime_s
        lead = self.options.go_away_lead_s
        await asyncio.sleep(max(0.0, lifetime - lead - (time.monotonic() - self.opened)))
        if not self.switches.no_goaway:
            await self.send({"goAway": {"timeLeft": duration_text(lead)}})
        await asyncio.sleep(max(0.0, lifetime - (time.monotonic() - self.opened)))
        await self.close(*CLOSE_PRESETS["goaway_ignored"])

    async def _session_limit(self, limit: float) -> None:
        assert self.session is not None
        left = limit - self.session.connected_s
        await asyncio.sleep(max(0.0, left - (time.monotonic() - self.attached)))
        self.emu.log.add(self.id, "event", "session_limit", {"limit_s": limit})
        await self.close(*self.options.session_limit_close)

    # ---- reading -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            name, field, message = await self._recv()
            await self._dispatch(name, field, message)
            await self.actor.after_message()

    async def _dispatch(self, name: str, field: str | None, message: JsonDict) -> None:
        # _recv has checked the frame holds exactly one known message, `name`.
        if name == "realtimeInput":
            await self._realtime_input(message[name], field)
        elif name == "clientContent":
            await self._client_content(message[name])
        elif name == "toolResponse":
            await self.responder.tool_response(message[name])
        elif name == "setup":
            # Setup is only valid as the first message.
            await self.close(1007, INVALID_ARGUMENT)
        # contextUpdate (SDK 3.x) is logged and otherwise ignored.

    async def _realtime_input(self, body: Any, field: str | None) -> None:
        if field is None:
            # Not an object, or not exactly one known field set (see realtime_field).
            await self.close(1007, INVALID_ARGUMENT)
        if field in ("audio", "mediaChunks", "video"):
            await self._media(field, body[field])
        elif field == "activityStart":
            await self.listener.activity_start()
        elif field == "activityEnd":
            await self.listener.activity_end()
        elif field == "audioStreamEnd":
            # false is the proto default: nothing is said.
            if body[field]:
                await self.listener.stream_end()
        else:
            self.responder.barge_in()
            self.responder.end_turn(model.UserTurn("text", text=str(body["text"])))

    async def _media(self, field: str, value: Any) -> None:
        """One audio or video blob: audio is heard, video ignored; both must be well formed."""
        if field == "mediaChunks":
            # The deprecated form: only the first chunk is read (API reference).
            if not value:
                await self.close(1007, INVALID_ARGUMENT)
            blob = value[0]
        else:
            blob = value
        if not isinstance(blob, dict) or not blob.get("mimeType"):
            await self.close(1007, f"Invalid value at 'mime_type'. {INVALID_ARGUMENT}")
        mime = str(blob["mimeType"])
        try:
            pcm = decode_b64(str(blob.get("data") or ""))
            if field == "video" or (field == "mediaChunks" and not mime.startswith("audio/")):
                return
            rate = audio_rate(mime)
        except ProtocolError as exc:
            await self.close(1007, str(exc))
        await self.listener.audio(pcm, rate)

    async def _client_content(self, body: Any) -> None:
        if not isinstance(body, dict):
            await self.close(1007, INVALID_ARGUMENT)
        self.responder.barge_in()
        tokens = Tokens()
        texts: list[str] = []
        for turn in body.get("turns") or []:
            for part in turn.get("parts") or [] if isinstance(turn, dict) else []:
                if isinstance(part, dict) and "text" in part:
                    tokens = tokens + Tokens(text=count_text(str(part["text"])))
                    if turn.get("role", "user") == "user":
                        texts.append(str(part["text"]))
        if body.get("turnComplete"):
            self.responder.end_turn(model.UserTurn("text", text=" ".join(texts), tokens=tokens))
        elif self.session is not None:
            self.session.conversation.pending = self.session.conversation.pending + tokens
