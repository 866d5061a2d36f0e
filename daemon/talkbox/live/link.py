"""LiveLink: one Gemini Live conversation kept alive across connections.

The link connects, sends what the rest of the daemon asks for, and survives the connection
ending: GoAway rotation, drops, quota, refused handles, idle disconnects: opening each
connection, the retry loop, the policies applied to how each ended, new conversations. The
package docstring (`talkbox.live`) maps the modules it leans on.

Use: `link = LiveLink(settings, emit, tools=...)`, run `link.run()` as a task of the owner's
TaskGroup, and call the sending methods (`send_text`, `start_turn` / `send_audio` /
`end_turn`, `end_audio_stream`, `send_tool_response`, `new_conversation`) from the event loop
at any time, connected or not; `status()` says where the link stands. `emit` receives every
`talkbox.live.events.LinkEvent`; it is called from the receive loop (and for a refused turn from
the sending method), so it must neither block nor raise (put the event on a queue).

Tools: the composer passes the `talkbox.live.tools.ToolRunner` to offer (usually
`default_registry(on_end_conversation=lambda: link.new_conversation(after_turn=True))`);
without one no functions are offered and a call is answered with an error.

Privacy: with TURN_DETECTION=local, audio is sent only between a turn's activityStart and
activityEnd; `send_audio` outside an open turn drops the frame (counted in
`status().audio_dropped_outside_turn`). Loose audio, streamed without a turn, exists only
with TURN_DETECTION=server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from talkbox.config import Settings
from talkbox.live import events
from talkbox.live.backoff import RetryPolicy
from talkbox.live.connection import (
    Connection,
    EndConnection,
    LinkSide,
    WritesAfterLoss,
    closing_in_order,
    leaf,
    release_frames,
    wait_for,
)
from talkbox.live.failures import NextStep, SetupTimedOut, classify
from talkbox.live.goaway import EndReason
from talkbox.live.handles import HandleStore, StoredConversation, handle_max_age
from talkbox.live.judge import Judge, JudgeSide
from talkbox.live.outbox import Op, OpKind
from talkbox.live.report import LinkReport
from talkbox.live.status import LinkSnapshot
from talkbox.live.tools import ToolCalls, ToolRunner
from talkbox.live.turn import Refusal, Turn
from talkbox.live.turns import AudioFate, TurnLedger

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

log = logging.getLogger(__name__)


STORE_FLUSH_S = 5.0
"""At the end of `run()`, how long the handle's last save may take before it is given up."""


class LiveLink:
    """One Live conversation over a sequence of connections; run() until cancelled."""

    def __init__(
        self,
        settings: Settings,
        emit: Callable[[events.LinkEvent], None],
        *,
        client: genai.Client | None = None,
        store: HandleStore | None = None,
        tools: ToolRunner | None = None,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._report = LinkReport(emit, transcripts=settings.log_transcripts)
        self._client = client
        self._tools = tools
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._wall = wall_clock
        if store is None and settings.resume:
            store = HandleStore(
                settings.state_dir,
                max_age_s=handle_max_age(settings.conversation_timeout_s),
                background=True,
            )
        self._conversation = StoredConversation(
            store,
            max_age_s=handle_max_age(settings.conversation_timeout_s),
            resume=settings.resume,
        )
        self._ledger = TurnLedger(local_turns=settings.turn_detection == "local", now=clock())
        self._connected = False
        self._resumed = False
        self._reconnects = 0
        self._connections = 0
        self._ever_connected = False
        self._restart_requested = False
        # A turn partly sent on the current connection was withdrawn: leave it.
        self._withdrawing = False
        # A new conversation asked for "after this turn": the turn it waits for.
        self._restart_after: Turn | None = None
        self._lost_writes = WritesAfterLoss()
        self._changed = asyncio.Event()
        self._work = asyncio.Event()
        # Set when a turn is asked: it cuts a transient backoff short.
        self._turn_asked = asyncio.Event()
        self._side = LinkSide(
            ledger=self._ledger,
            report=self._report,
            conversation=self._conversation,
            changed=self._changed,
            clock=clock,
            wall_clock=wall_clock,
            idle_disconnect_s=settings.idle_disconnect_s,
            answer_silence_s=self._policy.answer_silence_s,
            leaving=lambda: self._restart_requested,
            withdrawing=lambda: self._withdrawing,
            turn_done=self._turn_done,
            fail_turn=self._fail_turn,
        )
        judged = JudgeSide(
            ledger=self._ledger,
            report=self._report,
            conversation=self._conversation,
            clock=clock,
            resume=settings.resume,
            complete=self._complete,
            turn_done=self._turn_done,
            fail_turn=self._fail_turn,
            fail_pending=self._fail_pending,
            cancel_restart=self._cancel_restart,
        )
        self._judge = Judge(judged, self._policy, rng or random.Random())

    def status(self) -> LinkSnapshot:
        """A snapshot of the link's connection, conversation and drop counters."""
        ledger = self._ledger
        return LinkSnapshot(
            connected=self._connected,
            resumed=self._resumed,
            reconnects=self._reconnects,
            conversation_id=self._conversation.id,
            conversation_turns=self._conversation.turns,
            offline=self._judge.outage.offline and not self._connected,
            pending_turns=len(ledger.turns),
            audio_dropped_outside_turn=ledger.dropped_outside_turn,
            loose_audio_dropped=ledger.outbox.loose_dropped,
        )

    # ----------------------------------------------------------------- sending (public)

    def start_turn(self) -> int:
        """Open an audio turn (activityStart); returns its id."""
        self.end_turn()
        return self._asked(self._ledger.open_audio(self._clock()))

    def send_audio(self, pcm: bytes) -> None:
        """Send 16 kHz mono S16_LE audio: into the open turn, or loose (server detection)."""
        ledger = self._ledger
        match ledger.add_audio(pcm):
            case AudioFate.IN_TURN:
                self._queued()
            case AudioFate.LOOSE:
                self._queued()
            case AudioFate.LOOSE_DISPLACED:
                self._loose_displaced()
            case AudioFate.OUTSIDE_TURN:
                # The privacy invariant: with local turn detection audio leaves the device
                # only inside a turn the person opened. A caller still "listening" after the
                # link failed or ended its turn gets its frames dropped here; one line per
                # run of dropped frames, not one per frame.
                if ledger.outside_run == 1:
                    log.debug("dropping audio sent outside a turn (local turn detection)")
            case AudioFate.TOO_LONG:
                turn = ledger.open_turn
                if turn is not None and turn.dropped_frames == 1:
                    log.warning("turn %d is longer than it can be kept; dropping audio", turn.id)

    def end_turn(self) -> int | None:
        """Close the open audio turn (activityEnd); returns its id, None if none was open."""
        turn = self._ledger.close()
        if turn is None:
            return None
        self._queued()
        return turn.id

    def end_audio_stream(self) -> None:
        """Tell the server the microphone paused (server turn detection only)."""
        if self._ledger.local_turns:
            # activityEnd ends local turns; audioStreamEnd under manual activity is an error.
            log.debug("end_audio_stream ignored: local turn detection")
            return
        # Queued behind the audio it ends, connected or not: the server's VAD waits for it.
        if self._ledger.outbox.add_loose(Op(OpKind.STREAM_END)):
            self._loose_displaced()
        else:
            self._queued()

    def send_text(self, text: str) -> int:
        """Send one complete text turn; returns its id."""
        self.end_turn()
        return self._asked(self._ledger.add_text(text, self._clock()))

    def withdraw(self, turn_id: int | None, reason: str) -> None:
        """Take a pending turn back (None: the open one): it is never answered or sent again.

        What went up of it on this connection the service would keep and answer, so the
        connection is left and the next one resumes the handle in hand, which predates the
        turn (see `TurnLedger.requeue`). A turn already answered or failed is left alone.
        """
        ledger = self._ledger
        turn = ledger.open_turn if turn_id is None else ledger.turns.get(turn_id)
        if turn is None:
            return
        taken_back = turn.on_wire and self._connected
        ledger.fail(turn)
        self._report.withdrawn(turn, reason, taken_back=taken_back)
        if taken_back:
            self._withdrawing = True
        self._turn_done(turn)

    def send_tool_response(self, responses: Sequence[types.FunctionResponse]) -> None:
        """Answer function calls (only meaningful on the connection that asked)."""
        self._tools_answered(tuple(responses))

    def new_conversation(self, *, after_turn: bool = False) -> None:
        """Drop the handle and reconnect fresh; with `after_turn`, once the current turn ends.

        Without `after_turn` (or with no turn under way) pending turns fail at once: they
        belong to the conversation being left. With it, the newest turn being asked or
        answered finishes first, so its answer is heard in full.
        """
        current = self._ledger.current()
        if after_turn and current is not None:
            log.info("the conversation ends after %s", current.label)
            self._restart_after = current
            return
        self._restart_now("a new conversation was started")

    async def settled(self) -> None:
        """Return once no turn is pending and the newest handle has been stored."""
        ledger = self._ledger
        while True:
            now = self._clock()
            if not ledger.turns and not ledger.awaiting_handle(now):
                break
            self._changed.clear()
            # Nothing may announce that the handle is not coming: wake when its wait ends.
            due = None if ledger.turns else ledger.handle_due_at(now)
            await wait_for(self._changed, None if due is None else due - now)
        store = self._conversation.store
        if store is not None:
            # Stored means on disk: the store writes on a thread of its own.
            await asyncio.to_thread(store.flush)

    # ------------------------------------------------------------------- run loop

    async def run(self) -> None:
        """Keep the conversation connected until cancelled; never returns otherwise."""
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addFilter(self._lost_writes)
        try:
            await self._run()
        finally:
            asyncio_log.removeFilter(self._lost_writes)
            store = self._conversation.store
            if store is not None and not store.flush(STORE_FLUSH_S):
                log.warning("the resumption handle was not saved within %.0f s", STORE_FLUSH_S)

    async def _run(self) -> None:
        if self._client is None:
            # google.genai takes 0.4-1.3 s to import: here, on a thread, after the owner said
            # READY=1. Until the first connection the box is starting, however long that takes.
            await asyncio.to_thread(_load_sdk)
            from talkbox.live.session_config import build_client

            self._client = build_client(self._settings)
        self._conversation.load(now=self._wall())
        want_connection = True
        # The last connection's exception: its frames are released once it has been judged.
        ended: BaseException | None = None
        while True:
            if ended is not None:
                release_frames(ended)
                ended = None
            if not want_connection:
                self._work.clear()
                if not self._ledger.has_work():
                    await self._work.wait()
            want_connection = True
            handle = None
            if not self._judge.probe.skip_handle:
                handle = self._conversation.usable_handle(now=self._wall())
            self._connections += 1
            conn = Connection(self._side, self._connections, handle)
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
                cause = leaf(exc)
                self._connected = self._withdrawing = False
                self._lost_writes.tell(conn.number)
                self._judge.ended(conn)
                # Judged below (failures.py reads the service's words from its frames);
                # released at the top of the loop.
                ended = exc
                if isinstance(cause, EndConnection):
                    self._report.ended_on_purpose(cause.why)
                    want_connection = cause.why is not EndReason.IDLE
                    continue
                outcome = classify(
                    cause,
                    during_setup=not conn.setup_done,
                    sent_handle=handle is not None,
                    now=self._wall(),
                )
                verdict = self._judge.judge(conn, outcome)
                want_connection = verdict.reconnect
                if verdict.delay_s > 0:
                    await self._wait_to_retry(verdict.delay_s, outcome.action)
                # Turns asked from now on wait for the next attempt instead of failing.
                self._ledger.refusing = None

    async def _wait_to_retry(self, delay: float, action: NextStep) -> None:
        """Wait out a backoff; a turn asked meanwhile ends a transient one at once.

        Someone pressed and is speaking now: the next attempt is worth making for them (its
        failure backs off further), not after the rest of a wait that grows to 30 s. Quota
        and fatal waits are the service's to set, and are kept.
        """
        if action not in (NextStep.RESUME, NextStep.RESUME_NOW, NextStep.FRESH):
            await asyncio.sleep(delay)
            return
        self._turn_asked.clear()
        if await wait_for(self._turn_asked, delay):
            log.info("a turn was asked: reconnecting now, before the %.2fs backoff ran out", delay)

    async def _serve(self, conn: Connection) -> None:
        from talkbox.live.session_config import build_connect_config

        assert self._client is not None
        row = self._settings.model_row
        functions = self._tools.declarations(blocking=row.blocking_tools) if self._tools else []
        config = build_connect_config(self._settings, handle=conn.handle, functions=functions)
        connecting = self._client.aio.live.connect(model=self._settings.model, config=config)
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    async with asyncio.timeout(self._policy.setup_timeout_s):
                        session = await stack.enter_async_context(connecting)
                except TimeoutError as exc:
                    raise SetupTimedOut(self._policy.setup_timeout_s) from exc
                # Runs before the SDK's own exit, which closes every exit by exception 1011.
                stack.push_async_exit(closing_in_order(session))
                conn.setup_done = True
                self._on_connected(conn, session.setup_complete is not None)
                async with asyncio.TaskGroup() as tg:
                    conn.tools = ToolCalls(
                        self._tools, tg, self._tools_answered, scheduling=row.scheduling
                    )
                    tg.create_task(conn.receive(session), name="live-receive")
                    tg.create_task(conn.send(session), name="live-send")
                    tg.create_task(conn.watch(), name="live-watch")
        finally:
            # Also when cancelled: nothing may be sent on a socket that is gone.
            self._connected = False

    def _on_connected(self, conn: Connection, setup_complete: bool) -> None:
        conversation = self._conversation
        self._ledger.refusing = None
        self._judge.connected(conn)
        resumed = conn.handle is not None
        self._connected = True
        self._resumed = resumed
        if conn.handle is None:
            # A restart asked for while this connection was resuming stays pending: its watch
            # ends this connection and the next one starts fresh.
            self._restart_requested = False
        self._ledger.last_activity = self._clock()
        if not setup_complete:
            log.warning("the server's first message was not setupComplete; carrying on")
        if not self._ever_connected:
            # The first connection that works, however many were refused before it.
            why = "start"
            self._ever_connected = True
        else:
            why = "reconnect"
            self._reconnects += 1
        self._report.connected(
            reason=why,
            resumed=resumed,
            conversation_id=conversation.id,
            turns=conversation.turns,
            reconnects=self._reconnects,
        )
        self._judge.requeue()
        self._notify()

    def _tools_answered(self, responses: tuple[types.FunctionResponse, ...]) -> None:
        # Only on the connection that asked: a later one has no such calls.
        if self._connected:
            self._ledger.add_tool_response(responses)
            self._queued()

    # ------------------------------------------------------------------- helpers

    def _asked(self, turn: Turn | Refusal) -> int:
        """Queue an accepted turn or report a refused one; returns the id either way."""
        if isinstance(turn, Refusal):
            self._report.refused(turn)
            return turn.turn_id
        self._turn_asked.set()
        self._queued()
        return turn.id

    def _complete(self, turn: Turn, now: float) -> None:
        """`turn` is answered (its connection ended after its answer all arrived)."""
        facts = self._ledger.complete(turn, now, handle_due=False)
        assert facts is not None
        self._conversation.turns += 1
        self._report.completed(facts, self._conversation.turns)
        self._turn_done(turn)

    def _fail_turn(self, turn: Turn, reason: str) -> None:
        self._ledger.fail(turn)
        self._report.failed(turn, reason)
        self._turn_done(turn)

    def _fail_pending(self, reason: str) -> None:
        """Every pending turn fails with `reason`; nothing queued or loose goes out any more."""
        for turn in self._ledger.fail_all():
            self._report.failed(turn, reason, level=logging.INFO)
            self._turn_done(turn)

    def _turn_done(self, turn: Turn) -> None:
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
        self._ledger.implicit = None
        # The handle for the turn just answered belongs to the conversation being left.
        self._ledger.awaiting_handle_since = None
        self._conversation.forget()
        self._restart_requested = True
        self._notify()

    def _cancel_restart(self) -> bool:
        """Forget a restart that waits for a turn (its connection failed); True if one did."""
        waiting, self._restart_after = self._restart_after is not None, None
        return waiting

    def _queued(self) -> None:
        """Something went into the outbox: wake the sender (and run() if disconnected)."""
        self._work.set()
        self._notify()

    def _loose_displaced(self) -> None:
        """Loose audio went in and the oldest frame out; the first time, say so."""
        if self._ledger.outbox.loose_dropped == 1:
            log.debug("the audio backlog is full; dropping the oldest frames")
        self._queued()

    def _notify(self) -> None:
        self._changed.set()


def _load_sdk() -> None:
    """Import the setup code, and with it google.genai and its live module (see `_run`)."""
    importlib.import_module("talkbox.live.session_config")
