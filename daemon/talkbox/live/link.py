"""LiveLink: one Gemini Live conversation kept alive across connections.

The link connects, runs the receive loop, turns server messages into talkbox events, sends
what the rest of the daemon asks for, and survives the connection ending: GoAway rotation,
drops, quota, refused handles, idle disconnects. The policy for failures lives in
`talkbox.live.backoff`; this module applies it.

Use: `link = LiveLink(settings, emit)`, run `link.run()` as a task of the owner's TaskGroup,
and call the sending methods (`send_text`, `start_turn` / `send_audio` / `end_turn`,
`end_audio_stream`, `send_tool_response`, `new_conversation`) from the event loop at any
time, connected or not. `emit` receives every `talkbox.events.LinkEvent`; it is called from
the receive loop (and for a refused turn from the sending method), so it must neither block
nor raise (put the event on a queue).

Tools: by default the link offers `talkbox.live.tools.default_registry()`, with the model's
`end_conversation` wired to `new_conversation(after_turn=True)`; pass `tools=` another
runner, or `tools=None` to offer none (a call is then answered with an error).

Privacy: with TURN_DETECTION=local, audio is sent only between a turn's activityStart and
activityEnd; `send_audio` outside an open turn drops the frame (counted in
`audio_dropped_outside_turn`). Loose audio, streamed without a turn, exists only with
TURN_DETECTION=server.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from google import genai
from google.genai import types
from google.genai.live import AsyncSession

from talkbox.config import Settings
from talkbox.events import (
    ANSWER_RATE_HZ,
    AnswerAudioReceived,
    AnswerInterrupted,
    ContextCompressed,
    ConversationRestarted,
    GenerationCompleted,
    GoAwayReceived,
    LinkConnected,
    LinkDisconnected,
    LinkEvent,
    LinkFailed,
    ToolCall,
    ToolCallCancelled,
    ToolCallReceived,
    TranscriptReceived,
    TurnCompleted,
    TurnFailed,
    TurnResent,
    TurnSent,
    Usage,
    UsageReported,
)
from talkbox.live.backoff import Action, Backoff, Outcome, RetryPolicy, classify
from talkbox.live.handles import HandleStore, StoredHandle, handle_max_age, too_old
from talkbox.live.session_config import build_client, build_connect_config
from talkbox.live.tools import default_registry

log = logging.getLogger(__name__)

INPUT_RATE_HZ = 16_000
INPUT_MIME = f"audio/pcm;rate={INPUT_RATE_HZ}"
# A turn keeps its audio so it can be sent again after a lost connection; a minute of
# 16 kHz speech is 1.9 MB, longer than any sensible spoken question.
MAX_TURN_AUDIO_BYTES = 60 * INPUT_RATE_HZ * 2
# Audio streamed outside a turn (server turn detection) is only worth a few seconds of
# backlog while the connection is down or slow; older speech would be answered out of
# context, so the oldest frames go first.
MAX_LOOSE_AUDIO_FRAMES = 250
# More turns than this waiting for answers means the link has been down for a while. A new
# turn is refused rather than an old one dropped: the old ones may be on the wire already.
MAX_PENDING_TURNS = 8
# A turn that was cut this many times is reported as failed rather than sent again.
MAX_TURN_ATTEMPTS = 3
# After turnComplete the server sends the handle that includes the turn; a new turn (or a
# rotation) waits this long for it so the handle in hand never covers half a turn.
HANDLE_WAIT_S = 1.0


class ToolRunner(Protocol):
    """What the link needs from the local tools (talkbox.live.tools.ToolRegistry)."""

    def declarations(self) -> list[types.FunctionDeclaration]:
        """The function declarations offered to the model."""
        ...

    async def call(self, call: types.FunctionCall) -> types.FunctionResponse:
        """Run one call; never raises."""
        ...


_OpKind = Literal["start", "audio", "end", "text", "stream_end", "loose_audio", "tool"]


@dataclass(frozen=True, slots=True)
class _Op:
    """One message to send, in order."""

    kind: _OpKind
    turn_id: int | None = None
    pcm: bytes = b""
    text: str = ""
    responses: tuple[types.FunctionResponse, ...] = ()


@dataclass(eq=False)
class _Turn:
    """A user turn from the first byte sent until the server completed its answer."""

    id: int
    text: str | None
    # The server's own turn (server turn detection, unprompted answers): tracked for the
    # per-turn facts, reported with turn_id None.
    implicit: bool = False
    audio: list[bytes] = field(default_factory=list)
    audio_bytes: int = 0
    closed: bool = False
    # Fully written on the current connection (its answer may be arriving).
    sent: bool = False
    # Some of it was written on some connection (so another sending is a resend).
    attempts: int = 0
    # Its first message went out on the current connection (a GoAway rotation waits for it).
    on_wire: bool = False
    sent_at: float | None = None
    first_audio_at: float | None = None
    answer_bytes: int = 0
    interrupted: bool = False
    generated: bool = False
    transcript_in: list[str] = field(default_factory=list)
    transcript_out: list[str] = field(default_factory=list)
    usage: Usage | None = None
    dropped_frames: int = 0

    @property
    def report_id(self) -> int | None:
        """The id events carry: None for a turn the server opened itself."""
        return None if self.implicit else self.id

    @property
    def label(self) -> str:
        """How the log names this turn."""
        return "server turn" if self.implicit else f"turn {self.id}"

    def ops(self) -> list[_Op]:
        """Everything to send for this turn so far, in order."""
        if self.text is not None:
            return [_Op("text", self.id, text=self.text)]
        out = [_Op("start", self.id)]
        out.extend(_Op("audio", self.id, pcm=chunk) for chunk in self.audio)
        if self.closed:
            out.append(_Op("end", self.id))
        return out

    def reset_answer(self) -> None:
        """Forget a partial answer: the turn is being asked again."""
        self.sent = False
        self.sent_at = None
        self.first_audio_at = None
        self.answer_bytes = 0
        self.interrupted = False
        self.generated = False
        self.transcript_in.clear()
        self.transcript_out.clear()
        self.usage = None


class _EndConnection(Exception):
    """Raised inside a connection's TaskGroup to leave it on purpose (GoAway, idle)."""

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why)


@dataclass(eq=False)
class _Connection:
    """Bookkeeping of one websocket connection."""

    number: int
    handle: str | None
    opened_at: float
    setup_done: bool = False
    go_away_deadline: float | None = None
    tool_tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    tg: asyncio.TaskGroup | None = None


def parse_duration(text: str | None) -> float | None:
    """Seconds in a protobuf Duration string such as "50s" or "9.500s" (None if unparsable)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d*)?)s?\s*", text)
    return float(match.group(1)) if match else None


async def _wait(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait for `event` at most `timeout_s` seconds (None: no limit); True when it was set."""
    if timeout_s is None:
        await event.wait()
        return True
    if timeout_s <= 0:
        return event.is_set()
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


def _leaf(exc: BaseException) -> BaseException:
    """The first real cause inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class LiveLink:
    """One Live conversation over a sequence of connections; run() until cancelled."""

    def __init__(
        self,
        settings: Settings,
        emit: Callable[[LinkEvent], None],
        *,
        client: genai.Client | None = None,
        store: HandleStore | None = None,
        tools: ToolRunner | Literal["default"] | None = "default",
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._emit = emit
        self._client = client
        if tools == "default":
            tools = default_registry(on_end_conversation=self._end_conversation_requested)
        self._tools: ToolRunner | None = tools
        self._policy = policy or RetryPolicy()
        self._backoff = Backoff(self._policy, rng or random.Random())
        self._clock = clock
        self._wall = wall_clock
        self._max_age_s = handle_max_age(settings.conversation_timeout_s)
        self._store = store if store is not None else self._default_store()

        self._handle: str | None = None
        self._handle_saved_at = 0.0
        self.conversation_id = uuid.uuid4().hex[:12]
        self.conversation_turns = 0
        self.reconnects = 0
        self.connected = False
        self.resumed = False
        self._connections = 0
        self._last_prompt_tokens: int | None = None
        self._last_completed: int | None = None

        self._local_turns = settings.turn_detection == "local"
        self._turns: dict[int, _Turn] = {}
        self._next_turn_id = 1
        self._open_turn: _Turn | None = None
        self._implicit: _Turn | None = None
        self._outbox: deque[_Op] = deque()
        # Server turn detection only: audio and stream ends outside any turn, in order.
        self._loose: deque[_Op] = deque(maxlen=MAX_LOOSE_AUDIO_FRAMES)
        self.loose_audio_dropped = 0
        self.audio_dropped_outside_turn = 0
        self._dropping = False
        self._awaiting_handle_since: float | None = None
        self._last_activity = clock()
        self._restart_requested = False
        # A new conversation asked for "after this turn": the turn, and why.
        self._restart_after: _Turn | None = None
        # While the link waits out a fatal failure, new turns fail at once with its reason.
        self._fatal_reason: str | None = None
        # Setup failures in a row while resuming, and whether the one probe without the
        # handle that they earn (live-protocol.md §5.1) is under way or spent.
        self._resume_failures = 0
        self._probe: Literal["none", "now", "spent"] = "none"

        self._changed = asyncio.Event()
        self._work = asyncio.Event()

    # ----------------------------------------------------------------- sending (public)

    def start_turn(self) -> int:
        """Open an audio turn (activityStart); returns its id."""
        self.end_turn()
        turn = self._new_turn(text=None)
        if turn is None:
            return self._next_turn_id - 1
        self._open_turn = turn
        self._queue(_Op("start", turn.id))
        return turn.id

    def send_audio(self, pcm: bytes) -> None:
        """Send 16 kHz mono S16_LE audio: into the open turn, or loose (server detection)."""
        turn = self._open_turn
        if turn is None:
            if self._local_turns:
                # The privacy invariant: with local turn detection audio leaves the device
                # only inside a turn the person opened. A caller still "listening" after the
                # link failed or ended its turn gets its frames dropped here.
                if not self._dropping:
                    # One line per run of dropped frames, not one per frame.
                    log.debug("dropping audio sent outside a turn (local turn detection)")
                    self._dropping = True
                self.audio_dropped_outside_turn += 1
                return
            self._queue_loose(_Op("loose_audio", pcm=pcm))
            return
        if turn.audio_bytes + len(pcm) > MAX_TURN_AUDIO_BYTES:
            turn.dropped_frames += 1
            if turn.dropped_frames == 1:
                log.warning("turn %d is longer than it can be kept; dropping audio", turn.id)
            return
        turn.audio.append(pcm)
        turn.audio_bytes += len(pcm)
        self._queue(_Op("audio", turn.id, pcm=pcm))

    def end_turn(self) -> int | None:
        """Close the open audio turn (activityEnd); returns its id, None if none was open."""
        turn = self._open_turn
        if turn is None:
            return None
        self._open_turn = None
        turn.closed = True
        self._queue(_Op("end", turn.id))
        return turn.id

    def end_audio_stream(self) -> None:
        """Tell the server the microphone paused (server turn detection only)."""
        if self._local_turns:
            # activityEnd ends local turns; audioStreamEnd under manual activity is an error.
            log.debug("end_audio_stream ignored: local turn detection")
            return
        # Queued behind the audio it ends, connected or not: the server's VAD waits for it.
        self._queue_loose(_Op("stream_end"))

    def send_text(self, text: str) -> int:
        """Send one complete text turn; returns its id."""
        self.end_turn()
        turn = self._new_turn(text=text)
        if turn is None:
            return self._next_turn_id - 1
        turn.closed = True
        self._queue(_Op("text", turn.id, text=text))
        return turn.id

    def send_tool_response(self, responses: Sequence[types.FunctionResponse]) -> None:
        """Answer function calls (only meaningful on the connection that asked)."""
        if self.connected:
            self._queue(_Op("tool", responses=tuple(responses)))

    def new_conversation(self, *, after_turn: bool = False) -> None:
        """Drop the handle and reconnect fresh; with `after_turn`, once the current turn ends.

        Without `after_turn` (or with no turn under way) pending turns fail at once: they
        belong to the conversation being left. With it, the newest turn being asked or
        answered finishes first, so its answer is heard in full.
        """
        current = self._turns[max(self._turns)] if self._turns else self._implicit
        if after_turn and current is not None:
            log.info("the conversation ends after %s", current.label)
            self._restart_after = current
            return
        self._restart_now("a new conversation was started")

    async def settled(self) -> None:
        """Return once no turn is pending and the newest handle has been stored."""
        while self._turns or self._awaiting_handle():
            self._changed.clear()
            left = None
            if not self._turns and self._awaiting_handle_since is not None:
                # Nothing may announce that the handle is not coming: wake when its wait ends.
                left = self._awaiting_handle_since + HANDLE_WAIT_S - self._clock()
            await _wait(self._changed, left)

    # ------------------------------------------------------------------- run loop

    async def run(self) -> None:
        """Keep the conversation connected until cancelled; never returns otherwise."""
        if self._client is None:
            self._client = build_client(self._settings)
        self._load_stored_handle()
        want_connection = True
        while True:
            if not want_connection:
                self._work.clear()
                if not self._outbox and not self._turns and not self._loose:
                    await self._work.wait()
            want_connection = True
            handle = None if self._probe == "now" else self._usable_handle()
            self._connections += 1
            conn = _Connection(self._connections, handle, self._clock())
            try:
                # A task of its own: on Python 3.11 a TaskGroup whose child failed leaves its
                # parent's cancel count raised, so only this way does cancelling() below
                # count the owner's cancels alone.
                await asyncio.create_task(self._serve(conn), name=f"live-connection-{conn.number}")
            except Exception as exc:  # the retry loop: every failure is judged here
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # The owner cancelled us while the connection's TaskGroup was failing:
                    # the TaskGroup raised the children's errors instead, and the cancel is
                    # lost unless raised again here. Stopping beats reconnecting.
                    raise asyncio.CancelledError from exc
                cause = _leaf(exc)
                self._after_connection(conn)
                if isinstance(cause, _EndConnection):
                    want_connection = self._ended_on_purpose(cause.why)
                    continue
                outcome = classify(
                    cause,
                    during_setup=not conn.setup_done,
                    sent_handle=handle is not None,
                    now=self._wall(),
                )
                delay, want_connection = self._judge(conn, outcome)
                if delay > 0:
                    await asyncio.sleep(delay)
                # Turns asked from now on wait for the next attempt instead of failing.
                self._fatal_reason = None

    async def _serve(self, conn: _Connection) -> None:
        assert self._client is not None
        functions = self._tools.declarations() if self._tools else []
        config = build_connect_config(self._settings, handle=conn.handle, functions=functions)
        try:
            async with self._client.aio.live.connect(
                model=self._settings.model, config=config
            ) as session:
                conn.setup_done = True
                self._on_connected(conn, session.setup_complete is not None)
                async with asyncio.TaskGroup() as tg:
                    conn.tg = tg
                    tg.create_task(self._receive_loop(session, conn), name="live-receive")
                    tg.create_task(self._send_loop(session, conn), name="live-send")
                    tg.create_task(self._watch(conn), name="live-watch")
        finally:
            # Also when cancelled: nothing may be sent on a socket that is gone.
            self.connected = False

    def _on_connected(self, conn: _Connection, setup_complete: bool) -> None:
        if self._probe == "now":
            # Resuming failed again and again, and without the handle the service answers:
            # the handle (or the session behind it) is what it cannot serve.
            log.warning(
                "the service failed %d times to resume conversation %s but accepts a fresh "
                "one; starting a fresh conversation",
                self._resume_failures,
                self.conversation_id,
            )
            self._forget_conversation()
            self._emit(ConversationRestarted("resuming kept failing", self.conversation_id))
        self._resume_failures = 0
        self._probe = "none"
        self._fatal_reason = None
        resumed = conn.handle is not None
        self.connected = True
        self.resumed = resumed
        if conn.handle is None:
            # A restart asked for while this connection was resuming stays pending: _watch
            # ends this connection and the next one starts fresh.
            self._restart_requested = False
        self._last_activity = self._clock()
        if not setup_complete:
            log.warning("the server's first message was not setupComplete; carrying on")
        if conn.number == 1:
            why = "start"
        else:
            why = "reconnect"
            self.reconnects += 1
        log.info(
            "connected (%s, %s conversation %s, %d turns so far)",
            why,
            "resumed" if resumed else "fresh",
            self.conversation_id,
            self.conversation_turns,
        )
        self._emit(LinkConnected(resumed, self.conversation_id, self.reconnects, why))
        # Everything a lost connection cut is sent again from the turns themselves, so the
        # outbox is rebuilt: pending turns first, in order, then nothing stale.
        #
        # Why resending cannot duplicate a turn: the handle in hand is the newest one the
        # server marked resumable, and the server marks nothing resumable between a turn's
        # start and the update that follows its turnComplete. So the handle we resumed
        # predates every unfinished turn, and the resumed conversation has not seen them.
        self._outbox.clear()
        for turn in list(self._turns.values()):
            if turn.id not in self._turns:
                continue  # failed meanwhile: a deferred restart took the turns after it
            if turn.attempts >= MAX_TURN_ATTEMPTS:
                self._fail_turn(turn, f"cut {turn.attempts} times by lost connections")
                continue
            if turn.attempts:
                log.info("sending turn %d again (attempt %d)", turn.id, turn.attempts + 1)
                turn.reset_answer()
                self._emit(TurnResent(turn.id))
            self._outbox.extend(turn.ops())
        # Loose audio (server turn detection) stays in its own bounded queue and follows.
        self._notify()

    def _after_connection(self, conn: _Connection) -> None:
        self.connected = False
        if self._awaiting_handle_since is not None and self._settings.resume:
            # The handle that would include the last answered turn never arrived; resuming
            # the one before it continues a conversation that lacks that turn.
            log.warning(
                "connection ended before the handle covering the last turn arrived; the "
                "resumed conversation may not remember it"
            )
        lived = self._clock() - conn.opened_at
        if conn.setup_done and lived >= self._policy.stable_after_s:
            self._backoff.reset()
        for turn in self._turns.values():
            turn.sent = False
            turn.on_wire = False
        self._awaiting_handle_since = None
        if self._implicit is not None:
            # The server's answer was cut; it will not be finished on another connection.
            cut, self._implicit = self._implicit, None
            self._turn_done(cut)

    def _ended_on_purpose(self, why: str) -> bool:
        """Log a deliberate end of connection; True when the link should reconnect now."""
        if why == "idle":
            log.info("closed the idle connection; the next turn reconnects")
            self._emit(LinkDisconnected("idle", 0.0, reconnecting=False, idle=True))
            return False
        log.info("reconnecting: %s", why)
        self._emit(LinkDisconnected(why, 0.0))
        return True

    def _judge(self, conn: _Connection, outcome: Outcome) -> tuple[float, bool]:
        """Apply the policy to a failure; returns (seconds to wait, reconnect at once?)."""
        delay = self._backoff.delay(outcome)
        self._count_resume_failure(conn, outcome)
        match outcome.action:
            case Action.FATAL:
                self._fatal_reason = outcome.reason
                log.error("the Live service refused the connection: %s", outcome.reason)
                self._emit(LinkFailed(outcome.reason, delay))
                self._drop_deferred_restart()
                # The ERROR line above already says why; one line per problem, not per turn.
                self._fail_pending(outcome.reason)
                return delay, True
            case Action.FRESH:
                log.warning(
                    "the service refused the resumption handle (%s); starting a fresh conversation",
                    outcome.reason,
                )
                self._forget_conversation()
                self._emit(ConversationRestarted(outcome.reason, self.conversation_id))
                return delay, True
            case Action.ENDED:
                log.warning(
                    "the service ended conversation %s (%s); the next turn starts a fresh one",
                    self.conversation_id,
                    outcome.reason,
                )
                # Forgotten just below anyway: no restart waits for a turn of this one.
                self._restart_after = None
                self._fail_pending(f"the service ended the conversation: {outcome.reason}")
                self._forget_conversation()
                self._emit(ConversationRestarted(outcome.reason, self.conversation_id))
                self._emit(LinkDisconnected(outcome.reason, 0.0, reconnecting=False))
                return 0.0, False
            case _:
                log.info(
                    "connection %s (%s); reconnecting in %.2fs",
                    "refused" if not conn.setup_done else "lost",
                    outcome.reason,
                    delay,
                )
                self._emit(LinkDisconnected(outcome.reason, delay))
                return delay, True

    def _count_resume_failure(self, conn: _Connection, outcome: Outcome) -> None:
        """After two transient setup failures while resuming, try once without the handle."""
        if self._probe == "now":
            # The service fails without the handle too: it is the service, keep the handle.
            self._probe = "spent"
            return
        if conn.setup_done or conn.handle is None or outcome.action is not Action.RESUME:
            return
        self._resume_failures += 1
        if self._resume_failures >= 2 and self._probe == "none":
            self._probe = "now"

    # ------------------------------------------------------------- connection tasks

    async def _receive_loop(self, session: AsyncSession, conn: _Connection) -> None:
        # receive() ends at every turnComplete; the conversation does not.
        while True:
            async for message in session.receive():
                self._on_message(message, conn)

    async def _send_loop(self, session: AsyncSession, conn: _Connection) -> None:
        while True:
            # Turns first; loose audio (server turn detection) when no turn has anything.
            queue = self._outbox or self._loose
            if not queue:
                self._changed.clear()
                await _wait(self._changed, None)
                continue
            op = queue[0]
            if op.kind in ("start", "text") and conn.go_away_deadline is not None:
                # This connection is ending: a new turn goes on the next one, so it is
                # neither cut at the deadline nor the reason the rotation waits.
                self._changed.clear()
                await _wait(self._changed, None)
                continue
            if op.kind in ("start", "text") and self._awaiting_handle():
                # The handle covering the previous turn is on its way; a new turn sent now
                # could end up inside it or outside it. Wait (briefly) to know which.
                assert self._awaiting_handle_since is not None
                left = HANDLE_WAIT_S - (self._clock() - self._awaiting_handle_since)
                self._changed.clear()
                await _wait(self._changed, left)
                continue
            # Booked before the write: the answer can arrive before the write returns (the
            # emulator shares the loop), and it must find its turn already sent. A failed
            # write ends the connection, and _after_connection undoes the booking.
            self._book_send(op)
            await self._send_op(session, op)
            # Only a written op leaves its queue; what a failed write carried is rebuilt
            # from its turn on the next connection. The queue may have changed meanwhile
            # (a failed turn purged, the oldest loose frame dropped).
            if self._outbox and self._outbox[0] is op:
                self._outbox.popleft()
            elif self._loose and self._loose[0] is op:
                self._loose.popleft()

    async def _send_op(self, session: AsyncSession, op: _Op) -> None:
        match op.kind:
            case "start":
                await session.send_realtime_input(activity_start=types.ActivityStart())
            case "audio" | "loose_audio":
                await session.send_realtime_input(
                    audio=types.Blob(data=op.pcm, mime_type=INPUT_MIME)
                )
            case "end":
                await session.send_realtime_input(activity_end=types.ActivityEnd())
            case "stream_end":
                await session.send_realtime_input(audio_stream_end=True)
            case "text":
                # client_content is the ordered path, and with automatic activity detection
                # disabled the service answers it at turnComplete=True without activity
                # signals; realtime text would need them.
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text=op.text)]),
                    turn_complete=True,
                )
            case "tool":
                await session.send_tool_response(function_responses=list(op.responses))
            case _:
                raise AssertionError(f"unknown op {op.kind!r}")

    def _book_send(self, op: _Op) -> None:
        if op.turn_id is None:
            return
        turn = self._turns.get(op.turn_id)
        if turn is None:
            return
        if op.kind in ("start", "text"):
            turn.attempts += 1
            turn.on_wire = True
        if op.kind in ("end", "text"):
            turn.sent = True
            turn.sent_at = self._clock()
            self._last_activity = turn.sent_at
            self._emit(TurnSent(turn.id))

    async def _watch(self, conn: _Connection) -> None:
        """End the connection on purpose: GoAway deadline, idle timeout, new conversation."""
        idle_s = self._settings.idle_disconnect_s
        while True:
            self._changed.clear()
            now = self._clock()
            if self._restart_requested:
                raise _EndConnection("new conversation requested")
            deadline = conn.go_away_deadline
            if deadline is not None:
                between = self._between_turns()
                if between or now >= deadline:
                    raise _EndConnection(
                        "GoAway" + ("" if between else " deadline reached mid-turn")
                    )
            wake: list[float] = []
            if deadline is not None:
                wake.append(deadline - now)
            # Checked per wake-up (every queued frame wakes this task): only when it matters.
            if idle_s > 0 and self._quiet():
                idle_left = self._last_activity + idle_s - now
                if idle_left <= 0:
                    raise _EndConnection("idle")
                wake.append(idle_left)
            if self._awaiting_handle_since is not None and self._awaiting_handle():
                wake.append(self._awaiting_handle_since + HANDLE_WAIT_S - now)
            await _wait(self._changed, max(0.0, min(wake)) + 0.001 if wake else None)

    # ------------------------------------------------------------- server messages

    def _on_message(self, msg: types.LiveServerMessage, conn: _Connection) -> None:
        if msg.go_away is not None:
            self._on_go_away(msg.go_away, conn)
        if msg.tool_call is not None:
            self._on_tool_call(msg.tool_call, conn)
        if msg.tool_call_cancellation is not None:
            ids = tuple(msg.tool_call_cancellation.ids or ())
            for call_id in ids:
                task = conn.tool_tasks.pop(call_id, None)
                if task is not None:
                    task.cancel()
            self._emit(ToolCallCancelled(ids))
        if msg.usage_metadata is not None:
            self._on_usage(msg.usage_metadata)
        if msg.server_content is not None:
            self._on_content(msg.server_content)
        # Last: a handle describes the conversation after everything else in the message.
        update = msg.session_resumption_update
        if update is not None and update.resumable and update.new_handle:
            answering = self._answering()
            if answering is not None and answering.generated:
                # Some models never send turnComplete. The server marks a point resumable
                # only when no turn is in progress, so the finished generation was the end
                # of the turn; without this the turn would be resent on top of a handle
                # that already holds it.
                self._complete(answering)
            self._new_handle(update.new_handle)

    def _answering(self) -> _Turn | None:
        """The turn the server is answering: the oldest fully sent one, else its own turn."""
        for turn in self._turns.values():
            if turn.sent:
                return turn
        return self._implicit

    def _on_content(self, content: types.LiveServerContent) -> None:
        turn = self._answering()
        if turn is None and _opens_turn(content):
            # The server decided a turn began (its own VAD, or an unprompted answer). The
            # person's end of speech is not known here, so its latency counts from now.
            turn = self._implicit = _Turn(0, None, implicit=True, sent=True)
            turn.sent_at = self._clock()
        turn_id = turn.report_id if turn else None
        self._on_transcript(turn, "input", content.input_transcription)
        if content.model_turn is not None:
            for part in content.model_turn.parts or ():
                blob = part.inline_data
                if blob is None or not blob.data:
                    continue
                if turn is not None:
                    if turn.first_audio_at is None:
                        turn.first_audio_at = self._clock()
                    turn.answer_bytes += len(blob.data)
                self._emit(AnswerAudioReceived(turn_id, blob.data))
        self._on_transcript(turn, "output", content.output_transcription)
        if content.generation_complete:
            if turn is not None:
                turn.generated = True
            self._emit(GenerationCompleted(turn_id))
        if content.interrupted:
            if turn is not None:
                turn.interrupted = True
            self._emit(AnswerInterrupted(turn_id))
        # The same rule as the SDK's receive() (google.genai.live._is_interaction_complete,
        # private, so copied): an interaction status, when present, decides.
        status = content.interaction_status
        if status is not None and status != types.InteractionStatus.INTERACTION_STATUS_UNSPECIFIED:
            ended = status == types.InteractionStatus.IDLE
        else:
            ended = bool(content.turn_complete)
        if ended:
            self._complete(turn)

    def _on_transcript(
        self,
        turn: _Turn | None,
        direction: Literal["input", "output"],
        transcription: types.Transcription | None,
    ) -> None:
        if transcription is None or not transcription.text:
            return
        if turn is not None:
            (turn.transcript_in if direction == "input" else turn.transcript_out).append(
                transcription.text
            )
        self._emit(
            TranscriptReceived(
                turn.report_id if turn else None,
                direction,
                transcription.text,
                bool(transcription.finished),
            )
        )

    def _complete(self, turn: _Turn | None) -> None:
        now = self._clock()
        self._last_activity = now
        if self._settings.resume:
            self._awaiting_handle_since = now
        if turn is None:
            # A bare end of turn with nothing said either way: nothing to count or log.
            self._emit(
                TurnCompleted(None, False, 0.0, None, 0.0, "", None, self.conversation_turns)
            )
            return
        if turn.implicit:
            self._implicit = None
        else:
            del self._turns[turn.id]
        self._last_completed = turn.report_id
        self.conversation_turns += 1
        sent_at = turn.sent_at if turn.sent_at is not None else now
        first = turn.first_audio_at - sent_at if turn.first_audio_at is not None else None
        audio_s = turn.answer_bytes / (2 * ANSWER_RATE_HZ)
        transcript = "".join(turn.transcript_out).strip()
        usage = turn.usage
        args: list[object] = [
            turn.label,
            self.conversation_turns,
            " (interrupted)" if turn.interrupted else "",
            now - sent_at,
            (first or 0.0) * 1000,
            audio_s,
            usage.prompt_tokens if usage else -1,
            usage.response_tokens if usage else -1,
            usage.total_tokens if usage else -1,
        ]
        line = (
            "%s (conversation turn %d) answered%s in %.2fs: first audio after %.0f ms, "
            "%.1fs of audio, tokens prompt=%d response=%d total=%d"
        )
        if self._settings.log_transcripts:
            line += ", heard %r, said %r"
            args += ["".join(turn.transcript_in).strip(), transcript]
        log.info(line, *args)
        self._emit(
            TurnCompleted(
                turn.report_id,
                turn.interrupted,
                audio_s,
                first,
                now - sent_at,
                transcript,
                usage,
                self.conversation_turns,
            )
        )
        self._notify()
        self._turn_done(turn)

    def _on_usage(self, meta: types.UsageMetadata) -> None:
        usage = Usage(
            meta.prompt_token_count or 0,
            meta.response_token_count or 0,
            meta.total_token_count or 0,
        )
        turn = self._answering()
        if turn is not None:
            turn.usage = usage
        previous = self._last_prompt_tokens
        self._last_prompt_tokens = usage.prompt_tokens
        if previous is not None and usage.prompt_tokens < previous:
            log.info("context compressed: %d -> %d prompt tokens", previous, usage.prompt_tokens)
            self._emit(ContextCompressed(previous, usage.prompt_tokens))
        # Usage sent after turnComplete (some models do) belongs to the turn just answered.
        self._emit(UsageReported(turn.report_id if turn else self._last_completed, usage))

    def _on_go_away(self, go_away: types.LiveServerGoAway, conn: _Connection) -> None:
        left = parse_duration(go_away.time_left)
        if left is None:
            left = 10.0
        # Leave a margin for closing and reconnecting before the server cuts us.
        margin = min(5.0, left * 0.25)
        conn.go_away_deadline = self._clock() + max(0.0, left - margin)
        log.info(
            "GoAway: connection ends in %.2fs; rotating %s",
            left,
            "now" if self._between_turns() else "after the current turn",
        )
        self._emit(GoAwayReceived(left))
        self._notify()

    def _on_tool_call(self, tool_call: types.LiveServerToolCall, conn: _Connection) -> None:
        calls = tuple(tool_call.function_calls or ())
        turn = self._answering()
        self._emit(
            ToolCallReceived(
                turn.report_id if turn else None,
                tuple(ToolCall(c.id or "", c.name or "", dict(c.args or {})) for c in calls),
            )
        )
        if self._tools is None:
            # The model waits for an answer to a blocking call; an error answer lets it
            # speak on instead of hanging.
            log.warning(
                "the model called %s, but no functions are offered",
                ", ".join(c.name or "?" for c in calls),
            )
            self._queue(_Op("tool", responses=tuple(_unknown_function(c) for c in calls)))
            return
        if conn.tg is None:
            return
        for call in calls:
            call_id = call.id or ""
            conn.tool_tasks[call_id] = conn.tg.create_task(
                self._run_tool(call, conn), name=f"tool-{call.name}"
            )

    async def _run_tool(self, call: types.FunctionCall, conn: _Connection) -> None:
        assert self._tools is not None
        response = await self._tools.call(call)
        conn.tool_tasks.pop(call.id or "", None)
        if self.connected:
            self._queue(_Op("tool", responses=(response,)))

    # ------------------------------------------------------------------- handles

    def _default_store(self) -> HandleStore | None:
        if not self._settings.resume:
            return None
        return HandleStore(self._settings.state_dir, max_age_s=self._max_age_s)

    def _load_stored_handle(self) -> None:
        if self._store is None or self._handle is not None:
            return
        # The store checks the age (and clock steps) of what it loads.
        stored = self._store.load(now=self._wall())
        if stored is None:
            return
        self._handle = stored.handle
        self._handle_saved_at = stored.saved_at
        self.conversation_id = stored.conversation_id
        self.conversation_turns = stored.turns

    def _usable_handle(self) -> str | None:
        if self._handle is None or not self._settings.resume:
            return None
        age = self._wall() - self._handle_saved_at
        if too_old(age, self._max_age_s):
            log.info(
                "conversation %s is %.0fs old; starting a fresh one", self.conversation_id, age
            )
            self._forget_conversation()
            return None
        return self._handle

    def _new_handle(self, handle: str) -> None:
        self._awaiting_handle_since = None
        self._notify()
        if self._restart_requested:
            # The old conversation's last words: it is being left, not continued.
            return
        self._handle = handle
        self._handle_saved_at = self._wall()
        if self._store is None:
            return
        stored = StoredHandle(
            handle=handle,
            conversation_id=self.conversation_id,
            saved_at=self._handle_saved_at,
            turns=self.conversation_turns,
        )
        # Saved here, synchronously: a handle arrives right after turnComplete, when no
        # answer audio is left to receive, and a save in a task could be cancelled by the
        # very rotation this handle makes possible.
        self._store.save(stored)

    def _forget_conversation(self) -> None:
        self._handle = None
        self._handle_saved_at = 0.0
        self.conversation_id = uuid.uuid4().hex[:12]
        self.conversation_turns = 0
        self._last_prompt_tokens = None
        if self._store is not None:
            self._store.clear()

    # ------------------------------------------------------------------- helpers

    def _new_turn(self, *, text: str | None) -> _Turn | None:
        """A new pending turn, or None when it is refused (TurnFailed already emitted)."""
        turn_id = self._next_turn_id
        self._next_turn_id += 1
        self._dropping = False
        if self._fatal_reason is not None:
            # The ERROR line of the fatal failure already says why; no line per turn.
            log.debug("turn %d refused: %s", turn_id, self._fatal_reason)
            self._emit(TurnFailed(turn_id, self._fatal_reason))
            return None
        if len(self._turns) >= MAX_PENDING_TURNS:
            reason = f"{len(self._turns)} turns are already waiting for an answer"
            log.warning("turn %d refused: %s", turn_id, reason)
            self._emit(TurnFailed(turn_id, reason))
            return None
        turn = _Turn(turn_id, text)
        self._turns[turn.id] = turn
        self._last_activity = self._clock()
        return turn

    def _fail_turn(self, turn: _Turn, reason: str, *, level: int = logging.WARNING) -> None:
        self._turns.pop(turn.id, None)
        if self._open_turn is turn:
            self._open_turn = None
        if any(op.turn_id == turn.id for op in self._outbox):
            # Nothing more of a failed turn may go out, on this connection or the next.
            self._outbox = deque(op for op in self._outbox if op.turn_id != turn.id)
        log.log(level, "turn %d failed: %s", turn.id, reason)
        self._emit(TurnFailed(turn.id, reason))
        self._turn_done(turn)

    def _fail_pending(self, reason: str) -> None:
        """Every pending turn fails with `reason`; nothing queued or loose goes out any more."""
        self._outbox.clear()
        self._loose.clear()
        for turn in list(self._turns.values()):
            self._fail_turn(turn, reason, level=logging.INFO)

    def _turn_done(self, turn: _Turn) -> None:
        """A turn left the link (answered, failed, cut): a restart waiting for it goes now."""
        if self._restart_after is turn:
            self._restart_now(f"the conversation ended after {turn.label}")
        # Whoever waits in settled() re-checks, however the turn left (fatal, ended, cut).
        self._notify()

    def _restart_now(self, reason: str) -> None:
        """Leave this conversation: pending turns fail, the handle goes, reconnect fresh."""
        self._restart_after = None
        log.info("starting a new conversation (%s)", reason)
        self._fail_pending(reason)
        self._implicit = None
        # The handle for the turn just answered belongs to the conversation being left.
        self._awaiting_handle_since = None
        self._forget_conversation()
        self._restart_requested = True
        self._notify()

    def _drop_deferred_restart(self) -> None:
        """The connection failed before the turn a restart waited for: forget it now."""
        if self._restart_after is not None:
            self._restart_after = None
            self._forget_conversation()

    def _end_conversation_requested(self) -> None:
        # The model's end_conversation runs mid-answer: the goodbye is heard in full first.
        self.new_conversation(after_turn=True)

    def _queue(self, op: _Op) -> None:
        self._outbox.append(op)
        self._work.set()
        self._notify()

    def _queue_loose(self, op: _Op) -> None:
        if len(self._loose) == self._loose.maxlen:
            # The deque drops its oldest item on append: old speech is worth least.
            if self.loose_audio_dropped == 0:
                log.debug("the audio backlog is full; dropping the oldest frames")
            self.loose_audio_dropped += 1
        self._loose.append(op)
        self._work.set()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    def _awaiting_handle(self) -> bool:
        since = self._awaiting_handle_since
        return since is not None and self._clock() - since < HANDLE_WAIT_S

    def _between_turns(self) -> bool:
        """Nothing on this connection awaits an answer or a handle (turns may be queued)."""
        return (
            not any(turn.on_wire for turn in self._turns.values())
            and self._implicit is None
            and not self._awaiting_handle()
        )

    def _quiet(self) -> bool:
        """No turn open or unanswered, no answer arriving, nothing to send, no handle due."""
        return (
            not self._turns
            and self._implicit is None
            and not self._awaiting_handle()
            and not self._outbox
            and not self._loose
        )


def _opens_turn(content: types.LiveServerContent) -> bool:
    """Whether content with no turn of ours to answer starts one of the server's own."""
    if content.input_transcription is not None and content.input_transcription.text:
        return True
    if content.output_transcription is not None and content.output_transcription.text:
        return True
    parts = content.model_turn.parts if content.model_turn is not None else None
    return any(part.inline_data is not None and part.inline_data.data for part in parts or ())


def _unknown_function(call: types.FunctionCall) -> types.FunctionResponse:
    """The answer to a call when the link offers no functions at all."""
    message = f"unknown function {call.name!r}: this device offers no functions"
    return types.FunctionResponse(id=call.id, name=call.name, response={"error": message})
