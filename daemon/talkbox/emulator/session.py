"""Sessions: the conversation each one remembers, its token count, handles and compression."""

from __future__ import annotations

import base64
import copy
import json
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tokens:
    """A token count split by modality, as `usageMetadata` reports it."""

    text: int = 0
    audio: int = 0

    @property
    def total(self) -> int:
        """Both modalities together."""
        return self.text + self.audio

    def __add__(self, other: Tokens) -> Tokens:
        """The sum per modality."""
        return Tokens(self.text + other.text, self.audio + other.audio)

    def details(self) -> list[dict[str, Any]]:
        """`promptTokensDetails`-style entries, one per modality present (TEXT when empty)."""
        entries = [
            {"modality": name, "tokenCount": count}
            for name, count in (("TEXT", self.text), ("AUDIO", self.audio))
            if count
        ]
        return entries or [{"modality": "TEXT", "tokenCount": 0}]


def text_tokens(text: str) -> int:
    """About one token per four characters, as Gemini's tokenizer averages for English."""
    return math.ceil(len(text) / 4) if text else 0


def audio_tokens(seconds: float, per_second: float) -> int:
    """Audio tokens for `seconds` of sound at `per_second` tokens a second."""
    return math.ceil(seconds * per_second - 1e-9) if seconds > 0 else 0


def setup_tokens(setup: dict[str, Any]) -> Tokens:
    """What the system instruction and tools cost, counted once per session."""
    instruction = setup.get("systemInstruction")
    text = ""
    if isinstance(instruction, str):
        text = instruction
    elif isinstance(instruction, dict):
        text = " ".join(
            str(part.get("text", ""))
            for part in instruction.get("parts", [])
            if isinstance(part, dict)
        )
    tools = setup.get("tools")
    tool_text = json.dumps(tools, sort_keys=True) if tools else ""
    return Tokens(text=text_tokens(text) + text_tokens(tool_text))


@dataclass
class TurnRecord:
    """One exchange kept in the context: what the user said and what the model answered."""

    number: int
    user: Tokens
    model: Tokens


@dataclass
class SessionMemory:
    """What a session remembers: fixed prefix, kept turns, and the turn counter."""

    base: Tokens = field(default_factory=Tokens)
    history: list[TurnRecord] = field(default_factory=list)
    #: Content sent with clientContent turnComplete=false, waiting for the next turn.
    pending: Tokens = field(default_factory=Tokens)
    turns: int = 0
    dropped_turns: int = 0

    def context(self) -> Tokens:
        """Tokens in the context now: prefix, kept turns and pending content."""
        total = self.base + self.pending
        for turn in self.history:
            total = total + turn.user + turn.model
        return total

    def compress(self, current: Tokens, trigger: int, target: int) -> list[int]:
        """Drop the oldest whole turns when the context passes `trigger`, down to `target`.

        Returns the numbers of the dropped turns (none when under the trigger). The prefix
        (system instruction, tools) and the current turn are never dropped.
        """
        if (self.context() + current).total <= trigger:
            return []
        dropped: list[int] = []
        while self.history and (self.context() + current).total > target:
            dropped.append(self.history.pop(0).number)
        self.dropped_turns += len(dropped)
        return dropped

    def snapshot(self) -> SessionMemory:
        """An independent copy, for a resumption handle."""
        return copy.deepcopy(self)


@dataclass
class Session:
    """One logical Live session, possibly spread over several connections."""

    id: int
    key: str
    model: str
    conversation: SessionMemory
    open_connections: set[int] = field(default_factory=set)
    last_closed: float | None = None
    #: Seconds its closed connections were open (the session-time limit counts them all).
    connected_s: float = 0.0

    def handle_valid(self, now: float, lifetime: float) -> bool:
        """Handles live while a connection is open and `lifetime` seconds after the last one."""
        if self.open_connections or self.last_closed is None:
            return True
        return now - self.last_closed <= lifetime


class HandleStore:
    """Issues opaque resumption handles and finds the conversation each one snapshots."""

    def __init__(self, rng: random.Random, lifetime: float, per_session: int = 64) -> None:
        """Draw handles from `rng`; each is valid `lifetime` s after its session's last close.

        Only the newest `per_session` handles of a session are kept: each snapshots the whole
        conversation, and a soak issues one per turn.
        """
        self._rng = rng
        self.lifetime = lifetime
        self.per_session = per_session
        self._handles: dict[str, tuple[Session, SessionMemory]] = {}
        self._by_session: dict[int, deque[str]] = {}
        self._expired: set[str] = set()

    def issue(self, session: Session) -> str:
        """A fresh handle for the session's conversation as it is now."""
        # Shaped like the real ones: base64url, unpadded, of a small protobuf with field 1.
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        token = "".join(self._rng.choice(alphabet) for _ in range(40)).encode()
        handle = base64.urlsafe_b64encode(bytes([0x0A, len(token)]) + token).decode()
        handle = handle.rstrip("=")
        self._handles[handle] = (session, session.conversation.snapshot())
        issued = self._by_session.setdefault(session.id, deque())
        issued.append(handle)
        while len(issued) > self.per_session:
            old = issued.popleft()
            del self._handles[old]
            self._expired.discard(old)
        return handle

    def lookup(self, handle: str, now: float | None = None) -> tuple[Session, SessionMemory] | None:
        """The session and conversation of a live handle; None if unknown or expired."""
        entry = self._handles.get(handle)
        if entry is None or handle in self._expired:
            return None
        session, conversation = entry
        if not session.handle_valid(time.monotonic() if now is None else now, self.lifetime):
            return None
        return session, conversation.snapshot()

    def forget(self, session: Session) -> None:
        """Drop every handle of a session that is gone."""
        for handle in self._by_session.pop(session.id, deque()):
            self._handles.pop(handle, None)
            self._expired.discard(handle)

    def expire_all(self) -> int:
        """Expire every handle issued so far; returns how many."""
        fresh = set(self._handles) - self._expired
        self._expired |= fresh
        return len(fresh)

    def __len__(self) -> int:
        """How many handles are kept."""
        return len(self._handles)
