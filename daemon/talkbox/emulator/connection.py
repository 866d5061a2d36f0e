"""One Live connection: setup, the user-turn segmenter, the answer script, lifetime, faults.

A user turn ends at ``activityEnd`` (activity detection disabled), at ``audioStreamEnd`` or
after ``silence_ms`` of quiet audio (automatic detection), at a realtime ``text``, or at
``clientContent`` with ``turnComplete``. Each answer goes, as in the recorded sessions:

1. ``sessionResumptionUpdate {}`` (resumption on), ``inputTranscription`` (if asked for);
2. ``toolCall`` when the turn names a declared function (or a ``tool_call`` fault says so);
   a blocking call waits for its ``toolResponse``, a NON_BLOCKING one does not, and its late
   result starts a turn of its own (``scheduling``: INTERRUPT, WHEN_IDLE, or SILENT: none);
3. ``modelTurn`` audio chunks (the echo, or a tone phrase for text), paced at real time,
   with ``outputTranscription`` ``turn N: ...`` after the first;
4. ``generationComplete``; ``turnComplete`` with ``usageMetadata``; then a resumable
   ``sessionResumptionUpdate`` with a fresh handle.

A barge-in (``activityStart``, speech, ``text`` or ``clientContent`` during 1-3) stops the
audio and sends ``toolCallCancellation`` (pending calls), ``interrupted``, ``turnComplete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from talkbox.emulator import model
from talkbox.emulator.faults import CLOSE_PRESETS, GOAWAY_IGNORED_REASON, Fault, Point
from talkbox.emulator.protocol import (
    JsonDict,
    ProtocolError,
    audio_rate,
    client_kind,
    decode_b64,
    duration_text,
    encode_b64,
    normalise,
    parse_frame,
    server_kind,
    shape_problem,
    truncate_reason,
)
from talkbox.emulator.session import (
    Conversation,
    Session,
    Tokens,
    TurnRecord,
    audio_tokens,
    setup_tokens,
)
from talkbox.emulator.session import text_tokens as count_text

if TYPE_CHECKING:
    from talkbox.emulator.server import Emulator, UpgradeInfo

logger = logging.getLogger(__name__)

INVALID_ARGUMENT = CLOSE_PRESETS["invalid_argument"][1]
NOT_FOUND = CLOSE_PRESETS["not_found"][1]
UNAVAILABLE = CLOSE_PRESETS["unavailable"][1]
_MAX_IDLE_S = 60


class SessionEnded(Exception):
    """The emulator closed or aborted the connection; the current coroutine stops."""


@dataclass
class TurnState:
    """The answer being produced: enough to finish it properly if it is interrupted."""

    number: int
    user: Tokens
    sent_seconds: float = 0.0
    reply_text_tokens: int = 0
    pending_calls: dict[str, asyncio.Future[JsonDict]] = field(default_factory=dict)
    interruptible: bool = True
    interrupted: bool = False
    finished: bool = False
    text_reply: bool = False
    faults: list[Fault] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def has(self, kind: str) -> Fault | None:
        """The shape fault of that kind armed for this turn, if any."""
        return next((f for f in self.faults if f.kind == kind), None)


class Connection:
    """Runs one accepted websocket from setup to close, as the Live service would."""

    def __init__(self, emulator: Emulator, ws: ServerConnection, info: UpgradeInfo) -> None:
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
        self.ended = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._turns: asyncio.Queue[model.UserTurn] = asyncio.Queue()
        self._current: TurnState | None = None
        #: Calls of NON_BLOCKING functions still waiting for their response: id -> name.
        self._async_calls: dict[str, str] = {}
        self._activity: model.UserTurn | None = None
        #: Audio outside any activity, kept for TURN_INCLUDES_ALL_INPUT.
        self._idle_audio = model.UserTurn("audio")
        self._silence_s = 0.0
        self._stall_until = 0.0
        self._pong_delay = 0.0
        self._silent = False
        self._text_frames = False
        self._urlsafe = False
        self._no_goaway = False
        self._voice_activity = False
        #: Seconds of client audio received, the clock of voiceActivity offsets.
        self._audio_s = 0.0
        self._speech_end_s = 0.0
        self._install_pong_hook()

    # ---- configuration read from setup ------------------------------------------------

    @property
    def manual_activity(self) -> bool:
        """True when automatic activity detection is disabled in setup."""
        detection = self._realtime_config().get("automaticActivityDetection", {})
        return bool(isinstance(detection, dict) and detection.get("disabled"))

    @property
    def interrupts(self) -> bool:
        """Whether a new activity interrupts the answer (START_OF_ACTIVITY_INTERRUPTS)."""
        handling = str(self._realtime_config().get("activityHandling", ""))
        return handling.upper() != "NO_INTERRUPTION"

    @property
    def resumption(self) -> bool:
        """Whether setup asked for session resumption updates."""
        return "sessionResumption" in self.setup

    @property
    def text_modality(self) -> bool:
        """True when setup asked for TEXT answers only."""
        config = self.setup.get("generationConfig") or {}
        modalities = config.get("responseModalities") or []
        upper = [str(m).upper() for m in modalities]
        return "TEXT" in upper and "AUDIO" not in upper

    def _realtime_config(self) -> JsonDict:
        config = self.setup.get("realtimeInputConfig")
        return config if isinstance(config, dict) else {}

    def _declarations(self) -> dict[str, JsonDict]:
        found: dict[str, JsonDict] = {}
        for tool in self.setup.get("tools") or []:
            if isinstance(tool, dict):
                for declaration in tool.get("functionDeclarations") or []:
                    if isinstance(declaration, dict) and declaration.get("name"):
                        found[str(declaration["name"])] = declaration
        return found

    def _non_blocking(self, name: str) -> bool:
        declaration = self._declarations().get(name, {})
        return str(declaration.get("behavior", "")).upper() == "NON_BLOCKING"

    def _silence_limit_s(self) -> float:
        detection = self._realtime_config().get("automaticActivityDetection", {})
        ms = detection.get("silenceDurationMs") if isinstance(detection, dict) else None
        return float(ms if ms is not None else self.options.silence_ms) / 1000

    # ---- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        for fault in self.emu.faults_for(self.id, timed=True):
            self._spawn(self._timed_fault(fault))
        try:
            await self._setup_phase()
            self._spawn(self._lifetime())
            if self.options.session_limit_s is not None and not self._compression():
                self._spawn(self._session_limit(self.options.session_limit_s))
            self._spawn(self._answerer())
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

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
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
        rcvd = self.ws.protocol.close_rcvd
        if rcvd is None:
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
        if self._silent:
            return
        data = json.dumps(message, separators=(",", ":"))
        self.emu.log.add(self.id, "out", server_kind(message), message)
        if self._text_frames:
            await self.ws.send(data)
        else:
            await self.ws.send(data.encode())

    async def send_raw(self, kind: str, payload: bytes, shown: JsonDict) -> None:
        """Send a frame that is not a well-formed server message (malformed-output faults)."""
        self.emu.log.add(self.id, "out", kind, shown)
        await self.ws.send(payload.decode() if self._text_frames else payload)

    async def _wait_stall(self) -> None:
        left = self._stall_until - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)
            # A stall armed while this one ran extends it.
            await self._wait_stall()

    def _install_pong_hook(self) -> None:
        # websockets answers pings inside its protocol object; delaying a pong means holding
        # the frame and writing it later, which is how a slow real server looks to a client.
        protocol = self.ws.protocol
        original = protocol.send_frame
        loop = asyncio.get_running_loop()

        def late(frame: Frame) -> None:
            if protocol.state is State.OPEN:
                original(frame)
                self.ws.send_data()

        def send_frame(frame: Frame) -> None:
            delay = max(self._pong_delay, self._stall_until - time.monotonic())
            if frame.opcode is Opcode.PONG and delay > 0:
                loop.call_later(delay, late, frame)
            else:
                original(frame)

        protocol.send_frame = send_frame  # type: ignore[method-assign]

    # ---- setup -------------------------------------------------------------------------

    async def _recv(self) -> JsonDict:
        frame = await self.ws.recv()
        self.index += 1
        try:
            sent = parse_frame(frame)
        except ProtocolError as exc:
            shown = {"raw": frame[:200] if isinstance(frame, str) else repr(frame[:200])}
            self.emu.log.add(self.id, "in", "malformed", shown, self.index)
            await self.close(1007, str(exc))
        message: JsonDict = normalise(sent)
        self.emu.log.add(self.id, "in", client_kind(message), message, self.index, sent)
        problem = shape_problem(message)
        if problem is not None:
            await self.close(1007, f"Invalid value at '{problem}'. {INVALID_ARGUMENT}")
        await self._wait_stall()
        return message

    async def _setup_phase(self) -> None:
        try:
            async with asyncio.timeout(self.options.setup_timeout_s):
                message = await self._recv()
        except TimeoutError:
            await self.close(1007, INVALID_ARGUMENT)
        setup = message.get("setup")
        if not isinstance(setup, dict):
            await self.close(1007, INVALID_ARGUMENT)
        self.setup = setup
        model_name = str(setup.get("model", ""))
        bare = model_name.removeprefix("models/")
        if bare not in self.options.models:
            await self.close(
                1008,
                f"models/{bare} is not found for API version {self.info.version}, "
                "or is not supported for bidiGenerateContent.",
            )
        await self._attach_session(bare)
        for fault in self.emu.faults_for(self.id, point=Point.CONNECTION):
            await self.fire(fault)
        setup_faults = self.emu.faults_for(self.id, point=Point.SETUP)
        for fault in setup_faults:
            if fault.kind in ("delay_setup", "no_setup_complete", "setup_first"):
                continue
            await self.fire(fault)
        await self._message_faults()
        if not self.info.key_ok:
            # The "accept, then refuse" variant seen for an expired key.
            await self.send({"setupComplete": {}})
            await self.close(*CLOSE_PRESETS["key_invalid"])
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
            conversation = Conversation(base=setup_tokens(self.setup))
            session = self.emu.new_session(key, model_name, conversation)
            self.emu.log.add(self.id, "event", "session", {"session": session.id})
        session.open_connections.add(self.id)
        self.attached = time.monotonic()
        self.session = session

    # ---- faults ------------------------------------------------------------------------

    async def fire(self, fault: Fault) -> None:
        """Act out an instant or connection fault now."""
        if self.ended:
            return
        self.emu.fired(fault, self.id)
        p = fault.params
        if fault.kind == "close":
            await self.close(*fault.close_code_reason())
        elif fault.kind == "abort":
            self.abort()
        elif fault.kind == "goaway":
            left = float(p["time_left"])
            await self.send({"goAway": {"timeLeft": p["text"] or duration_text(left)}})
            if p["then"] != "nothing":
                self._spawn(self._after_goaway(left, silent=p["then"] == "silence"))
        elif fault.kind == "stall":
            self._stall_until = time.monotonic() + float(p["s"])
        elif fault.kind == "delay_pong":
            self._pong_delay = float(p["s"])
        elif fault.kind == "malformed":
            await self._send_malformed(str(p["shape"]))
        elif fault.kind == "expire_handles":
            self.emu.handles.expire_all()
        elif fault.kind == "text_frames":
            self._text_frames = True
        elif fault.kind == "urlsafe_b64":
            self._urlsafe = True
        elif fault.kind == "no_goaway":
            self._no_goaway = True
        elif fault.kind == "periodic_handles":
            self._spawn(self._periodic_handles(float(p["s"])))
        elif fault.kind == "voice_activity":
            self._voice_activity = True

    async def _periodic_handles(self, every: float) -> None:
        assert self.session is not None
        while True:
            await asyncio.sleep(every)
            handle = self.emu.handles.issue(self.session)
            await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    async def _voice_activity_signal(self, kind: str, at_s: float) -> None:
        if self._voice_activity:
            offset = duration_text(round(at_s, 3))
            await self.send({"voiceActivity": {"type": kind, "audioOffset": offset}})

    async def _after_goaway(self, left: float, *, silent: bool) -> None:
        self._silent = silent
        await asyncio.sleep(left)
        await self.close(1008, GOAWAY_IGNORED_REASON)

    async def _timed_fault(self, fault: Fault) -> None:
        assert fault.trigger.t is not None
        await asyncio.sleep(max(0.0, fault.trigger.t - (time.monotonic() - self.opened)))
        if not fault.exhausted:
            await self.fire(fault)

    async def _message_faults(self) -> None:
        for fault in self.emu.faults_for(self.id, msg=self.index):
            await self.fire(fault)

    async def _send_malformed(self, shape: str) -> None:
        payloads: dict[str, JsonDict] = {
            "empty": {},
            "snake_case": {"server_content": {"turn_complete": True}},
            "unknown_only": {"somethingNew": {"value": 1}},
            "error_body": {
                "error": {
                    "code": 500,
                    "message": "Internal error encountered.",
                    "status": "INTERNAL",
                }
            },
            "code_only": {"code": 503, "message": UNAVAILABLE},
        }
        if shape == "non_json":
            await self.send_raw("malformed.non_json", b"<html>not json", {"raw": "<html>not json"})
        elif shape == "oversize":
            data = encode_b64(bytes(1_100_000))
            message = {
                "serverContent": {
                    "modelTurn": {
                        "parts": [{"inlineData": {"mimeType": model.OUTPUT_MIME, "data": data}}]
                    }
                }
            }
            shown = {"oversize": len(data)}
            await self.send_raw("malformed.oversize", json.dumps(message).encode(), shown)
        else:
            payload = payloads[shape]
            await self.send_raw(f"malformed.{shape}", json.dumps(payload).encode(), payload)

    # ---- lifetime ----------------------------------------------------------------------

    async def _lifetime(self) -> None:
        lifetime = self.options.connection_lifetime_s
        lead = min(self.options.go_away_lead_s, lifetime)
        await asyncio.sleep(max(0.0, lifetime - lead - (time.monotonic() - self.opened)))
        if not self._no_goaway:
            await self.send({"goAway": {"timeLeft": duration_text(lead)}})
        await asyncio.sleep(max(0.0, lifetime - (time.monotonic() - self.opened)))
        await self.close(1008, GOAWAY_IGNORED_REASON)

    async def _session_limit(self, limit: float) -> None:
        assert self.session is not None
        left = limit - self.session.connected_s
        await asyncio.sleep(max(0.0, left - (time.monotonic() - self.attached)))
        self.emu.log.add(self.id, "event", "session_limit", {"limit_s": limit})
        await self.close(*self.options.session_limit_close)

    def _compression(self) -> JsonDict | None:
        compression = self.setup.get("contextWindowCompression")
        return compression if isinstance(compression, dict) else None

    # ---- reading -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            message = await self._recv()
            await self._dispatch(message)
            await self._message_faults()

    async def _dispatch(self, message: JsonDict) -> None:
        if "realtimeInput" in message:
            await self._realtime_input(message["realtimeInput"])
        elif "clientContent" in message:
            await self._client_content(message["clientContent"])
        elif "toolResponse" in message:
            await self._tool_response(message["toolResponse"])
        elif "setup" in message or "contextUpdate" not in message:
            # A second setup, or a message the service does not know: an invalid argument.
            await self.close(1007, INVALID_ARGUMENT)

    async def _realtime_input(self, body: Any) -> None:
        if not isinstance(body, dict):
            await self.close(1007, INVALID_ARGUMENT)
        if "audio" in body or "mediaChunks" in body:
            blob = body.get("audio") or (body.get("mediaChunks") or [{}])[0]
            mime = str(blob.get("mimeType", ""))
            if mime.startswith("audio/"):
                try:
                    pcm = decode_b64(str(blob.get("data", "")))
                except ProtocolError as exc:
                    await self.close(1007, str(exc))
                await self._audio(pcm, audio_rate(mime))
        elif "activityStart" in body:
            if not self.manual_activity:
                await self._activity_outside_manual_mode()
                return
            self._barge_in()
            self._activity = self._new_activity()
        elif "activityEnd" in body:
            if not self.manual_activity:
                await self._activity_outside_manual_mode()
                return
            if self._activity is not None:
                self._end_turn(self._activity)
                self._activity = None
        elif "audioStreamEnd" in body:
            if self.manual_activity:
                if self.options.stream_end_under_manual_vad == "close":
                    await self.close(1007, INVALID_ARGUMENT)
            elif self._activity is not None:
                self._end_turn(self._activity)
                self._activity = None
                await self._voice_activity_signal("ACTIVITY_END", self._speech_end_s)
        elif "text" in body:
            self._barge_in()
            text = str(body["text"])
            self._end_turn(model.UserTurn("text", text=text))

    async def _activity_outside_manual_mode(self) -> None:
        if self.options.activity_under_auto_vad == "close":
            await self.close(1007, INVALID_ARGUMENT)

    async def _audio(self, pcm: bytes, rate: int) -> None:
        if self.manual_activity:
            if self._activity is not None:
                self._append(self._activity, pcm, rate)
            else:
                self._keep_idle(pcm, rate)
            return
        loud = model.rms(pcm) >= self.options.silence_rms
        seconds = len(pcm) / 2 / rate
        started_at = self._audio_s
        self._audio_s += seconds
        if loud:
            self._speech_end_s = self._audio_s
        if self._activity is None:
            if not loud:
                self._keep_idle(pcm, rate)
                return
            self._barge_in()
            self._activity = self._new_activity()
            self._silence_s = 0.0
            await self._voice_activity_signal("ACTIVITY_START", started_at)
        self._append(self._activity, pcm, rate)
        self._silence_s = 0.0 if loud else self._silence_s + seconds
        if self._silence_s >= self._silence_limit_s():
            self._end_turn(self._activity)
            self._activity = None
            await self._voice_activity_signal("ACTIVITY_END", self._speech_end_s)

    @property
    def all_input(self) -> bool:
        """Whether setup asked for TURN_INCLUDES_ALL_INPUT (inactivity is part of the turn)."""
        coverage = str(self._realtime_config().get("turnCoverage", ""))
        return coverage.upper() == "TURN_INCLUDES_ALL_INPUT"

    def _keep_idle(self, pcm: bytes, rate: int) -> None:
        # TURN_INCLUDES_ONLY_ACTIVITY (the default) drops audio outside an activity.
        if self.all_input:
            idle = self._idle_audio
            self._append(idle, pcm, rate)
            # A client streaming with no activity for long must not grow memory forever.
            excess = len(idle.audio) - _MAX_IDLE_S * idle.rate * 2
            if excess > 0:
                del idle.audio[:excess]

    def _new_activity(self) -> model.UserTurn:
        turn, self._idle_audio = self._idle_audio, model.UserTurn("audio")
        return turn

    @staticmethod
    def _append(turn: model.UserTurn, pcm: bytes, rate: int) -> None:
        if not turn.audio:
            turn.rate = rate
        elif rate != turn.rate:
            pcm = model.resample(pcm, rate, turn.rate)
        turn.audio.extend(pcm)

    async def _client_content(self, body: Any) -> None:
        if not isinstance(body, dict):
            await self.close(1007, INVALID_ARGUMENT)
        self._barge_in()
        tokens = Tokens()
        texts: list[str] = []
        for turn in body.get("turns") or []:
            for part in turn.get("parts") or [] if isinstance(turn, dict) else []:
                if isinstance(part, dict) and "text" in part:
                    tokens = tokens + Tokens(text=count_text(str(part["text"])))
                    if turn.get("role", "user") == "user":
                        texts.append(str(part["text"]))
        if body.get("turnComplete"):
            self._end_turn(model.UserTurn("text", text=" ".join(texts), tokens=tokens))
        elif self.session is not None:
            self.session.conversation.pending = self.session.conversation.pending + tokens

    async def _tool_response(self, body: Any) -> None:
        responses = body.get("functionResponses") if isinstance(body, dict) else None
        state = self._current
        for response in responses or []:
            call_id = str(response.get("id", "")) if isinstance(response, dict) else ""
            if call_id in self._async_calls:
                self._late_tool_result(self._async_calls.pop(call_id), response)
                continue
            future = state.pending_calls.get(call_id) if state is not None else None
            if future is None or future.done():
                self.emu.log.add(self.id, "event", "unknown_tool_response", {"id": call_id})
                if self.options.unknown_tool_response == "close":
                    await self.close(1008, NOT_FOUND)
                continue
            future.set_result(response)

    def _late_tool_result(self, name: str, response: JsonDict) -> None:
        """A NON_BLOCKING function answered: its `scheduling` says what the model does."""
        tokens = Tokens(text=count_text(json.dumps(response.get("response", {}), sort_keys=True)))
        scheduling = str(response.get("scheduling") or "WHEN_IDLE").upper()
        if scheduling == "SILENT":
            if self.session is not None:
                conversation = self.session.conversation
                conversation.pending = conversation.pending + tokens
            return
        if scheduling == "INTERRUPT":
            self._barge_in()
        turn = model.UserTurn("text", text=f"result of {name}", tokens=tokens, tool_result=name)
        self._turns.put_nowait(turn)

    # ---- turns -------------------------------------------------------------------------

    def _end_turn(self, turn: model.UserTurn) -> None:
        if turn.kind == "audio":
            turn.tokens = Tokens(audio=audio_tokens(turn.seconds, self.options.audio_tokens_per_s))
        elif not turn.tokens.total:
            turn.tokens = Tokens(text=count_text(turn.text))
        self._turns.put_nowait(turn)

    def _barge_in(self) -> None:
        state = self._current
        if state is None or not state.interruptible or not self.interrupts:
            return
        state.interrupted = True
        state.interruptible = False
        if state.task is not None:
            state.task.cancel()

    async def _answerer(self) -> None:
        while True:
            turn = await self._turns.get()
            assert self.session is not None
            conversation = self.session.conversation
            conversation.turns += 1
            state = TurnState(conversation.turns, turn.tokens + conversation.pending)
            conversation.pending = Tokens()
            state.faults = self.emu.turn_faults(self.id, state.number)
            state.text_reply = self.text_modality
            self._current = state
            state.task = self._spawn(self._answer(turn, state))
            await asyncio.wait([state.task])
            self._current = None
            if state.task.cancelled() and state.interrupted:
                await self._interrupted_tail(state)

    async def _answer(self, turn: model.UserTurn, state: TurnState) -> None:
        assert self.session is not None
        conversation = self.session.conversation
        await self._fit_context(state)
        if self.resumption and not state.has("withhold_updates"):
            await self.send({"sessionResumptionUpdate": {}})
        if "inputAudioTranscription" in self.setup and turn.tool_result is None:
            transcript = model.input_transcript(turn)
            await self.send({"serverContent": {"inputTranscription": {"text": transcript}}})
        reply = model.answer(turn)
        called = await self._maybe_call_tool(turn, state)
        if called:
            reply = model.Answer(reply.pcm, f"{reply.description} after calling {called}")
        delay = state.has("first_audio_delay")
        if delay is not None:
            await asyncio.sleep(float(delay.params["s"]))
        await self._stream(reply, state)
        if state.finished:
            return
        state.interruptible = False
        if not state.has("omit_generation_complete"):
            await self.send({"serverContent": {"generationComplete": True}})
        await self._complete(state, model_tokens=self._model_tokens(state))
        conversation.history.append(TurnRecord(state.number, state.user, self._model_tokens(state)))
        await self._handle_update(state)

    async def _fit_context(self, state: TurnState) -> None:
        assert self.session is not None
        conversation = self.session.conversation
        window = self.options.context_window
        compression = self._compression()
        if compression is not None:
            trigger = int(compression.get("triggerTokens") or int(window * 0.8))
            sliding = compression.get("slidingWindow") or {}
            target = int(sliding.get("targetTokens") or trigger // 2)
            before = (conversation.context() + state.user).total
            dropped = conversation.compress(state.user, trigger, target)
            if dropped:
                after = (conversation.context() + state.user).total
                data = {"dropped_turns": dropped, "before": before, "after": after}
                self.emu.log.add(self.id, "event", "compression", data)
        elif (conversation.context() + state.user).total > window:
            await self.close(1007, INVALID_ARGUMENT)

    async def _maybe_call_tool(self, turn: model.UserTurn, state: TurnState) -> str | None:
        scripted = state.has("tool_call")
        if turn.tool_result is not None:
            return None
        if scripted is not None:
            name, args = str(scripted.params["name"]), scripted.args
        else:
            found = model.named_function(model.input_transcript(turn), list(self._declarations()))
            if found is None:
                return None
            name, args = found, {}
        call_id = f"function-call-{self.emu.rng.getrandbits(64)}"
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        state.pending_calls[call_id] = future
        call = {"id": call_id, "name": name, "args": args}
        await self.send({"toolCall": {"functionCalls": [call]}})
        if self._non_blocking(name):
            # The model goes on talking; the response, when it comes, starts its own turn.
            del state.pending_calls[call_id]
            self._async_calls[call_id] = name
            return None
        if state.has("tool_call_cancellation"):
            del state.pending_calls[call_id]
            await self.send({"toolCallCancellation": {"ids": [call_id]}})
            return None
        response = await future
        del state.pending_calls[call_id]
        payload = json.dumps(response.get("response", {}), sort_keys=True)
        state.user = state.user + Tokens(text=count_text(payload))
        return name

    async def _stream(self, reply: model.Answer, state: TurnState) -> None:
        interrupt = state.has("interrupt")
        if state.text_reply:
            text = model.output_transcript(state.number, reply)
            await self.send({"serverContent": {"modelTurn": {"parts": [{"text": text}]}}})
            state.reply_text_tokens = count_text(text)
            await self._turn_instant_faults(state)
            return
        pieces = model.chunks(reply.pcm, self.options.chunk_ms)
        start = time.monotonic()
        for i, piece in enumerate(pieces):
            if self.options.realtime:
                await asyncio.sleep(max(0.0, start + state.sent_seconds - time.monotonic()))
            data = encode_b64(piece, urlsafe=self._urlsafe)
            part = {"inlineData": {"mimeType": model.OUTPUT_MIME, "data": data}}
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            state.sent_seconds += len(piece) / 2 / model.OUTPUT_RATE
            if i == 0:
                if "outputAudioTranscription" in self.setup:
                    text = model.output_transcript(state.number, reply)
                    await self.send({"serverContent": {"outputTranscription": {"text": text}}})
                await self._turn_instant_faults(state)
            if interrupt is not None and state.sent_seconds * 1000 >= interrupt.params["after_ms"]:
                state.interruptible = False
                await self._interrupted_tail(state)
                state.finished = True
                return

    async def _turn_instant_faults(self, state: TurnState) -> None:
        for fault in self.emu.faults_for(self.id, turn=state.number):
            await self.fire(fault)

    def _model_tokens(self, state: TurnState) -> Tokens:
        count = audio_tokens(state.sent_seconds, self.options.audio_tokens_per_s)
        if state.text_reply:
            return Tokens(text=state.reply_text_tokens)
        return Tokens(audio=count)

    async def _complete(
        self, state: TurnState, *, model_tokens: Tokens, interrupted: bool = False
    ) -> None:
        """Send turnComplete with usageMetadata in the same message, as every recording does."""
        assert self.session is not None
        prompt = self.session.conversation.context() + state.user
        usage = {
            "promptTokenCount": prompt.total,
            "responseTokenCount": model_tokens.total,
            "totalTokenCount": prompt.total + model_tokens.total,
            "promptTokensDetails": prompt.details(),
            "responseTokensDetails": model_tokens.details(),
        }
        content: JsonDict = {}
        if interrupted and state.has("interrupted_with_turn_complete"):
            content["interrupted"] = True
        if not state.has("no_turn_complete"):
            content["turnComplete"] = True
        reason = state.has("turn_complete_reason")
        if reason is not None:
            content["turnCompleteReason"] = reason.params["reason"]
        if state.has("waiting_for_input"):
            content["waitingForInput"] = True
        status = state.has("interaction_status")
        if status is not None:
            content["interactionStatus"] = status.params["status"]
        message: JsonDict = {"serverContent": content} if content else {}
        if not state.has("omit_usage"):
            if message and state.has("usage_separate"):
                await self.send(message)
                message = {}
            message["usageMetadata"] = usage
        if message:
            await self.send(message)

    async def _interrupted_tail(self, state: TurnState) -> None:
        assert self.session is not None
        if state.pending_calls:
            ids = list(state.pending_calls)
            state.pending_calls.clear()
            await self.send({"toolCallCancellation": {"ids": ids}})
        if not state.has("interrupted_with_turn_complete"):
            await self.send({"serverContent": {"interrupted": True}})
        model_tokens = self._model_tokens(state)
        await self._complete(state, model_tokens=model_tokens, interrupted=True)
        self.session.conversation.history.append(TurnRecord(state.number, state.user, model_tokens))
        await self._handle_update(state)

    async def _handle_update(self, state: TurnState) -> None:
        if not self.resumption or state.has("withhold_updates"):
            return
        if state.has("unresumable"):
            await self.send({"sessionResumptionUpdate": {}})
            return
        assert self.session is not None
        handle = self.emu.handles.issue(self.session)
        await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})
