"""A local stand-in for Home Assistant's REST conversation API, as its documentation describes.

`POST /api/conversation/process` with `Authorization: Bearer TOKEN` and `{"text", "language"?,
"conversation_id"?}` answers `{"response": {"response_type", "language", "data", "speech":
{"plain": {"speech"}}}, "conversation_id"}`; a wrong token is 401. It knows one light, the
kitchen light: "turn on/off the kitchen light" acts on it, "is the kitchen light on" asks
about it, anything else is HA's `no_intent_match` error. `delay_s` makes it slow.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "ha-test-token"


class HomeAssistantStandIn:
    """The stand-in server on loopback, in a thread; `requests` lists what it was asked."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.kitchen_light = False
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                standin.authorizations.append(self.headers.get("Authorization", ""))
                if self.path != "/api/conversation/process":
                    self._send(404, {"message": "Not found"})
                    return
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"message": "Unauthorized"})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                standin.requests.append(body)
                if standin.delay_s:
                    time.sleep(standin.delay_s)
                self._send(200, standin.process(body))

            def _send(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the slow case)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HomeAssistantStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def process(self, body: dict[str, Any]) -> dict[str, Any]:
        """HA's conversation response to one request."""
        text = str(body.get("text", "")).lower()
        target = [{"type": "entity", "name": "Kitchen light", "id": "light.kitchen"}]
        switch = re.search(r"\bturn (on|off) the kitchen light\b", text)
        if switch:
            self.kitchen_light = switch.group(1) == "on"
            kind, data = "action_done", {"targets": [], "success": target, "failed": []}
            speech = f"Turned {switch.group(1)} the light"
        elif re.search(r"\bis the kitchen light on\b", text):
            kind, data = "query_answer", {"targets": [], "success": target, "failed": []}
            speech = "Kitchen light is on" if self.kitchen_light else "Kitchen light is off"
        else:
            kind, data = "error", {"code": "no_intent_match"}
            speech = "Sorry, I couldn't understand that"
        return {
            "response": {
                "response_type": kind,
                "language": body.get("language", "en"),
                "data": data,
                "speech": {"plain": {"speech": speech, "extra_data": None}},
            },
            "conversation_id": body.get("conversation_id") or "01JTESTCONVERSATION",
        }
