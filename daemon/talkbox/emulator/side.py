"""What each part of the emulator may use of the others: narrow sides, so nothing imports back.

The server makes connections; a connection runs its helpers (`Responder`, `Listener`,
`FaultActor`). Each is typed against a side here, not against the class that serves it, as
`talkbox.live` does with its `LinkSide`: the server → connection → helpers order holds, and a
helper that needs more of the connection must say so here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from talkbox.emulator import catalog, model
from talkbox.emulator.facts import SetupFacts
from talkbox.emulator.faults import Fault, Point
from talkbox.emulator.log import EventLog
from talkbox.emulator.options import EmulatorOptions
from talkbox.emulator.protocol import JsonDict
from talkbox.emulator.session import HandleStore, Session, SessionMemory


@dataclass(frozen=True)
class UpgradeInfo:
    """What the upgrade request said: attempt number, API version, method and key."""

    conn: int
    path: str
    version: str
    method: str
    key: str
    key_ok: bool


@dataclass
class FaultSwitches:
    """Connection state that flag faults switch (see `FaultActor`) and the send path reads."""

    stall_until: float = 0.0
    pong_delay: float = 0.0
    silent: bool = False
    text_frames: bool = False
    urlsafe: bool = False
    no_goaway: bool = False
    voice_activity: bool = False


class EmulatorSide(Protocol):
    """What a connection uses of the emulator that accepted it."""

    options: EmulatorOptions
    log: EventLog
    rng: random.Random
    handles: HandleStore

    def fired(self, fault: Fault, conn: int) -> None:
        """Record that `fault` acted on connection `conn`."""
        ...

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
        ...

    def turn_faults(self, conn: int, number: int) -> list[Fault]:
        """The faults armed for turn `number` of connection `conn`."""
        ...

    def quota_fault(self, conn: int, via: str) -> Fault | None:
        """A quota fault that refuses connection `conn` at `via`, if one is armed."""
        ...

    def new_session(self, key: str, model: str, conversation: SessionMemory) -> Session:
        """Open a session for `key`."""
        ...

    def active_sessions(self, key: str) -> int:
        """How many sessions of `key` are open."""
        ...

    def session_has_open_socket(self, session: Session, other_than: int) -> bool:
        """Whether another connection than `other_than` serves `session`."""
        ...


class Answering(Protocol):
    """What the listener asks of the responder."""

    def end_turn(self, turn: model.UserTurn) -> None:
        """The user's turn ended: answer it."""
        ...

    def barge_in(self) -> None:
        """New user activity: stop the current answer (unless setup said otherwise)."""
        ...


class Hearing(Protocol):
    """What the responder reads of the listener."""

    @property
    def activity(self) -> model.UserTurn | None:
        """The user's activity under way, if any."""
        ...


class ConnectionSide(Protocol):
    """What the connection's helpers may use of it."""

    emu: EmulatorSide
    options: EmulatorOptions
    id: int
    index: int
    opened: float
    ended: bool
    session: Session | None
    facts: SetupFacts
    row: catalog.ModelRow
    switches: FaultSwitches
    attached_event: asyncio.Event
    pong_hook: bool

    @property
    def responder(self) -> Answering:
        """The connection's responder."""
        ...

    @property
    def listener(self) -> Hearing:
        """The connection's listener (made once setup is read)."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `coro` as a task of the connection."""
        ...

    async def send(self, message: JsonDict) -> None:
        """Send one server message."""
        ...

    async def send_raw(self, kind: str, payload: bytes, shown: JsonDict) -> None:
        """Send a frame as it is (a broken one, for a fault)."""
        ...

    async def close(self, code: int, reason: str) -> NoReturn:
        """Close with `code` and `reason`, and end the connection."""
        ...

    def abort(self) -> NoReturn:
        """Drop the TCP connection without a close frame."""
        ...

    async def fire(self, fault: Fault) -> None:
        """Act out `fault` now."""
        ...
