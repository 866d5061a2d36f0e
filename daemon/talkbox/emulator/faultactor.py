"""Acting out faults on one connection: a table from fault kind to what the connection does.

Flag faults switch connection state (text frames, URL-safe base64, pong delay...) that the
connection's send path reads; instant faults act at once (close, abort, goAway, a broken
frame). `Connection.fire` hands every fault here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from talkbox.emulator import model
from talkbox.emulator.faults import CLOSE_PRESETS, Fault
from talkbox.emulator.protocol import UNAVAILABLE, JsonDict, duration_text, encode_b64
from talkbox.emulator.side import ConnectionSide

#: Frames of the malformed-output fault that are JSON (non_json and oversize are built apart).
_MALFORMED_JSON: dict[str, JsonDict] = {
    "empty": {},
    "snake_case": {"server_content": {"turn_complete": True}},
    "unknown_only": {"somethingNew": {"value": 1}},
    "error_body": {
        "error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}
    },
    "code_only": {"code": 503, "message": UNAVAILABLE},
}


class FaultActor:
    """Acts out the instant and connection faults of one connection."""

    def __init__(self, conn: ConnectionSide) -> None:
        """Act on `conn` (its socket, flags and tasks)."""
        self.conn = conn
        self._actions: dict[str, Callable[[Fault], Awaitable[None]]] = {
            "close": self._close,
            "abort": self._abort,
            "goaway": self._goaway,
            "stall": self._stall,
            "delay_pong": self._delay_pong,
            "malformed": self._malformed,
            "expire_handles": self._expire_handles,
            "text_frames": self._text_frames,
            "urlsafe_b64": self._urlsafe_b64,
            "no_goaway": self._no_goaway,
            "periodic_handles": self._periodic_handles,
            "voice_activity": self._voice_activity,
        }

    async def fire(self, fault: Fault) -> None:
        """Act out an instant or connection fault now (counted as fired)."""
        conn = self.conn
        if conn.ended:
            return
        conn.emu.fired(fault, conn.id)
        await self._actions[fault.kind](fault)

    async def timed(self, fault: Fault) -> None:
        """Fire a `t=` fault that long after the connection opened (if still live then)."""
        assert fault.trigger.t is not None
        elapsed = time.monotonic() - self.conn.opened
        await asyncio.sleep(max(0.0, fault.trigger.t - elapsed))
        if not fault.exhausted:
            await self.fire(fault)

    async def after_message(self) -> None:
        """Fire the `msg=` faults of the client message just read."""
        for fault in self.conn.emu.faults_for(self.conn.id, msg=self.conn.index):
            await self.fire(fault)

    # ---- one action per kind ------------------------------------------------------------

    async def _close(self, fault: Fault) -> None:
        await self.conn.close(*fault.close_code_reason())

    async def _abort(self, _: Fault) -> None:
        self.conn.abort()

    async def _goaway(self, fault: Fault) -> None:
        p = fault.params
        left = float(p["time_left"])
        await self.conn.send({"goAway": {"timeLeft": p["text"] or duration_text(left)}})
        # Silent from the GoAway on (not from when the timer task first runs).
        self.conn.switches.silent = p["then"] == "silence"
        if p["then"] != "nothing":
            self.conn.spawn(self._close_after(left))

    async def _close_after(self, left: float) -> None:
        await asyncio.sleep(left)
        await self.conn.close(*CLOSE_PRESETS["goaway_ignored"])

    async def _stall(self, fault: Fault) -> None:
        p = fault.params
        self.conn.switches.stall_until = time.monotonic() + float(p["s"])

    async def _delay_pong(self, fault: Fault) -> None:
        p = fault.params
        if not self.conn.pong_hook:
            raise RuntimeError(
                "delay_pong needs websockets' Protocol.send_frame and Connection.send_data, "
                "which this websockets version lacks"
            )
        self.conn.switches.pong_delay = float(p["s"])

    async def _malformed(self, fault: Fault) -> None:
        p = fault.params
        shape = str(p["shape"])
        if shape == "non_json":
            raw = b"<html>not json"
            await self.conn.send_raw("malformed.non_json", raw, {"raw": raw.decode()})
        elif shape == "oversize":
            data = encode_b64(bytes(1_100_000))
            blob = {"inlineData": {"mimeType": model.OUTPUT_MIME, "data": data}}
            message = {"serverContent": {"modelTurn": {"parts": [blob]}}}
            shown = {"oversize": len(data)}
            await self.conn.send_raw("malformed.oversize", json.dumps(message).encode(), shown)
        else:
            payload = _MALFORMED_JSON[shape]
            await self.conn.send_raw(f"malformed.{shape}", json.dumps(payload).encode(), payload)

    async def _expire_handles(self, _: Fault) -> None:
        self.conn.emu.handles.expire_all()

    async def _text_frames(self, _: Fault) -> None:
        self.conn.switches.text_frames = True

    async def _urlsafe_b64(self, _: Fault) -> None:
        self.conn.switches.urlsafe = True

    async def _no_goaway(self, _: Fault) -> None:
        self.conn.switches.no_goaway = True

    async def _periodic_handles(self, fault: Fault) -> None:
        p = fault.params
        self.conn.spawn(self._issue_handles(float(p["s"])))

    async def _issue_handles(self, every: float) -> None:
        conn = self.conn
        # Armed before setup (a t= trigger), it waits for the session it issues handles of.
        await conn.attached_event.wait()
        while True:
            await asyncio.sleep(every)
            assert conn.session is not None
            handle = conn.emu.handles.issue(conn.session)
            await conn.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    async def _voice_activity(self, _: Fault) -> None:
        self.conn.switches.voice_activity = True
