"""The event log: every frame both ways and every connection event, with monotonic times.

Directions: ``in`` (a client frame; kind like ``setup``, ``realtime_input.activityEnd``,
``client_content``, ``tool_response``, ``malformed``), ``out`` (a server frame; kind like
``setupComplete``, ``serverContent.modelTurn``, ``serverContent.turnComplete``, ``goAway``,
``sessionResumptionUpdate``, ``toolCall``, ``malformed.non_json``) and ``event``:

* ``handshake`` / ``upgrade_refused`` -- one per upgrade request (path, headers, status):
  ``handshake`` only once websockets answered 101; ``upgrade_refused`` for every other answer
  (the emulator's own, or websockets' 426 for a request that is not an upgrade), with a
  ``problem`` when the request itself was wrong (a credential header sent twice);
* ``session`` / ``resumed`` / ``handle_rejected`` -- what setup did with the conversation;
* ``close`` (``by`` server or client, ``code``, ``reason``) / ``abort`` -- how it ended;
* ``fault_armed`` / ``fault`` -- a fault was armed / fired;
* ``compression`` (dropped turns, tokens before and after), ``session_limit``,
  ``unknown_tool_response``;
* ``emulator_error`` -- a bug in the emulator (the test fixtures fail on these).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

Direction = Literal["in", "out", "event"]


@dataclass(frozen=True)
class Record:
    """One logged thing: a client frame (`in`), a server frame (`out`) or an `event`.

    For client frames `message` is the normal (camelCase at every depth) form and `sent` the
    frame exactly as the client sent it; `index` counts client frames per connection from 1.
    For server frames `t` is taken once the frame was handed to the socket and `t_send` just
    before the send began, the moment to measure delivery from.
    """

    t: float
    conn: int
    direction: Direction
    kind: str
    message: dict[str, Any]
    index: int | None = None
    sent: dict[str, Any] | None = None
    t_send: float | None = None


class EventLog:
    """In-memory records (and JSON lines on request) that tests and benchmarks query."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        keep_audio: bool = True,
        max_records: int | None = None,
    ) -> None:
        """Log in memory (the newest `max_records`, if set) and to `path` as JSON lines.

        Without `keep_audio`, base64 media payloads are replaced by their length, so long
        runs (soaks, benchmarks) keep a small log.
        """
        self.records: list[Record] = []
        self.keep_audio = keep_audio
        self.max_records = max_records
        self._changed = threading.Condition()
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path else None

    def add(
        self,
        conn: int,
        direction: Direction,
        kind: str,
        message: dict[str, Any],
        index: int | None = None,
        sent: dict[str, Any] | None = None,
        t_send: float | None = None,
    ) -> Record:
        """Append one record (thread-safe; wakes anyone waiting)."""
        if not self.keep_audio:
            message = _without_media(message)
            sent = None if sent is None else _without_media(sent)
        record = Record(time.monotonic(), conn, direction, kind, message, index, sent, t_send)
        with self._changed:
            self.records.append(record)
            if self.max_records is not None and len(self.records) > 2 * self.max_records:
                # Trimmed in batches so appending stays cheap.
                del self.records[: len(self.records) - self.max_records]
            self._changed.notify_all()
        if self._file is not None:
            # The record's own fields, not asdict(): that deep-copies message and sent (audio).
            self._file.write(json.dumps(vars(record), default=str) + "\n")
            self._file.flush()
        return record

    def close(self) -> None:
        """Close the JSON-lines file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def select(
        self,
        direction: Direction | None = None,
        kind: str | None = None,
        conn: int | None = None,
    ) -> list[Record]:
        """Records filtered by direction, kind (exact, or a prefix ending in '.') and conn."""
        return [
            r
            for r in list(self.records)
            if (direction is None or r.direction == direction)
            and (kind is None or _kind_matches(r.kind, kind))
            and (conn is None or r.conn == conn)
        ]

    def client_messages(self, kind: str | None = None, conn: int | None = None) -> list[Record]:
        """What clients sent, e.g. `client_messages("realtime_input.activityEnd")`."""
        return self.select("in", kind, conn)

    def server_messages(self, kind: str | None = None, conn: int | None = None) -> list[Record]:
        """What the emulator sent, e.g. `server_messages("serverContent.")`."""
        return self.select("out", kind, conn)

    def events(self, kind: str | None = None, conn: int | None = None) -> list[Record]:
        """Connection events: handshake, upgrade_refused, close, abort, compression..."""
        return self.select("event", kind, conn)

    def connection_attempts(self) -> list[Record]:
        """One record per upgrade request, accepted (`handshake`) or not (`upgrade_refused`)."""
        return [r for r in self.events() if r.kind in ("handshake", "upgrade_refused")]

    def closes(self, conn: int | None = None) -> list[Record]:
        """How connections ended: `close` (code, reason, by) and `abort` events."""
        return [r for r in self.events(conn=conn) if r.kind in ("close", "abort")]

    def kinds(self, direction: Direction | None = None, conn: int | None = None) -> list[str]:
        """The kinds of the selected records, in order."""
        return [r.kind for r in self.select(direction, None, conn)]

    def wait_for_sync(self, predicate: Callable[[EventLog], bool], timeout: float) -> None:
        """Block until `predicate(log)` holds; TimeoutError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError(f"event log condition not met within {timeout} s")

    async def wait_for(self, predicate: Callable[[EventLog], bool]) -> None:
        """Wait until `predicate(log)` holds; bound it with `asyncio.timeout`."""
        # Records may be added from another thread (EmulatorThread), so poll briefly.
        while True:
            if predicate(self):
                return
            await asyncio.sleep(0.005)


def _without_media(value: Any) -> Any:
    if isinstance(value, dict):
        is_blob = "data" in value and ("mimeType" in value or "mime_type" in value)
        return {
            k: (
                f"<{len(v)} base64 chars>"
                if is_blob and k == "data" and isinstance(v, str)
                else _without_media(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_media(item) for item in value]
    return value


def _kind_matches(kind: str, wanted: str) -> bool:
    return kind.startswith(wanted) if wanted.endswith(".") else kind == wanted
