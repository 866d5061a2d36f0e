"""Appliance: the daemon's heart, an async context manager owning the one TaskGroup.

    async with Appliance(settings, open_parts) as appliance:
        await appliance.stopped()        # until stop() (SIGTERM) or a task fails

Entering opens the parts (microphone, speaker, VAD, button, LED: `talkbox.appliance.parts`), the
control socket and the Live link, starts the named tasks and says READY=1. The tasks:

- `control`: the only task that changes the conversation: it applies each event to
  `talkbox.conversation` and carries out the actions, one `match` case each. The microphone
  calls the loop once per batch of frames (60 ms) and the control task takes the batch
  (dropping the oldest when it fell 2 s behind, counted), and before any other event it takes
  what the mic holds, so a release comes after every frame captured before it. Each frame is
  heard by `appliance.ears` (echo out, cleaned, applied, the wake word, the endpointer);
- `live-link`: `LiveLink.run()` (it imports google.genai after READY=1), events to the queue;
- `playback-pump`: waits for each answer to finish playing and posts `PlaybackFinished`;
- `watchdog`: WATCHDOG=1 every `watchdog_s`, only when the microphone and the control
  task made progress since the last ping;
- `control-socket`: `talkbox ctl` requests (`talkbox.appliance.control`);
- `timers`: rings the timers and alarms the model set as they fall due (`talkbox.timers`);
- `home-assistant` (TALKBOX_HOME_ASSISTANT=esphome): publishes the box's states to Home
  Assistant (`talkbox.homeassistant`); its mute and volume take ctl's paths, its Talk is a
  tap by voice (`appliance.home`).

Leaving (stop(), SIGTERM) says STOPPING=1, cancels the tasks, turns the LED off and releases
the pins and devices; the resumption handle and the mute are already on disk.

The privacy invariant is the conversation's: microphone audio reaches the link only through
`SendAudio` and `SendPreroll`, which the state machine emits only in `listening`, right after
`ShowState(listening)`; a turn opened by the wake word begins with the pre-roll cleared, so
the word itself never goes up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from talkbox.appliance.control import ControlServer, Requests
from talkbox.appliance.ears import Ears
from talkbox.appliance.home import ApplianceBox
from talkbox.appliance.mute import MuteStore
from talkbox.appliance.parts import CAPTURE, Parts, Post, endpoint_options, turn_options
from talkbox.appliance.requests import answer, status_of
from talkbox.appliance.status import Counters, Facts, LastTurn
from talkbox.appliance.systemd import Notifier, feed_watchdog, stuck_part
from talkbox.appliance.tools import box_registry
from talkbox.appliance.wake_choice import WakeWordChoice
from talkbox.audio.format import INPUT_RATE_HZ, pcm_bytes
from talkbox.config import Settings
from talkbox.conversation import (
    Action,
    CancelTimer,
    ClearPreroll,
    Event,
    FinishPlayback,
    FlushPlayback,
    MuteRequested,
    PersistMute,
    Play,
    PlaybackFinished,
    PlayEarcon,
    RememberForPreroll,
    RingDue,
    SendActivityEnd,
    SendActivityStart,
    SendAudio,
    SendPreroll,
    SendText,
    ShowState,
    StartEndpointing,
    StartNewConversation,
    StartRing,
    StartTimer,
    State,
    StopEndpointing,
    StopRing,
    Timer,
    TimerFired,
    TurnOpened,
    Warn,
    WithdrawTurn,
    apply,
    start,
)
from talkbox.hearing.endpoint import Endpointer, PreRoll
from talkbox.hearing.vad import SpeechDetector
from talkbox.live.backoff import RetryPolicy
from talkbox.live.link import LiveLink
from talkbox.state_lock import holding
from talkbox.timers.ring import Ringer
from talkbox.timers.service import TimerService
from talkbox.timers.store import TimerStore
from talkbox.timers.table import Entry
from talkbox.timers.tools import TimerTools

if TYPE_CHECKING:
    from talkbox.homeassistant.bridge import HomeAssistantBridge

log = logging.getLogger(__name__)

OpenParts = Callable[[Post], AbstractAsyncContextManager[Parts]]
"""Opens the parts for the appliance and closes them after (`talkbox.appliance.parts`)."""


@dataclass(frozen=True, slots=True)
class _FramesReady:
    """The mic has a batch of frames for the control task."""


_FRAMES_READY = _FramesReady()


@dataclass(frozen=True, slots=True)
class _Beat:
    """The watchdog's knock on the control task: taken in its turn, it shows the task is alive."""


class Appliance:
    """Press, speak, hear: the parts, the conversation and the Live link, run together."""

    def __init__(
        self,
        settings: Settings,
        open_parts: OpenParts,
        *,
        control_socket: Path | None = None,
        notifier: Notifier | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        """Run with `settings` on the parts `open_parts` opens; `control_socket` for ctl."""
        self.settings = settings
        self._open_parts = open_parts
        self._control_path = control_socket
        self._notifier = notifier or Notifier(address=None, watchdog_s=None)
        self._policy = policy
        self._mute = MuteStore(settings.state_dir)
        self.timers = TimerService(
            TimerStore(settings.state_dir),
            on_due=self._timers_due,
            on_change=self._timers_changed,
            missed_after_s=settings.timer_missed_after_s,
        )
        self.timer_tools = TimerTools(self.timers)
        self._ringer: Ringer | None = None
        self._events: asyncio.Queue[Event | _FramesReady | _Beat] = asyncio.Queue()
        self._beats = 0
        self._finishing: asyncio.Queue[tuple[int | None, Awaitable[bool]]] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: dict[Timer, asyncio.TimerHandle] = {}
        self._preroll = PreRoll(pcm_bytes(settings.preroll_ms / 1000, INPUT_RATE_HZ))
        self.counters = Counters()
        self.facts = Facts()
        self._notified = ""
        """The last STATUS= line sent."""
        self.conversation, shown = start(turn_options(settings), muted=self._mute.load())
        self._startup_actions = shown
        self._parts: Parts | None = None
        self._link: LiveLink | None = None
        self._ears: Ears | None = None
        self._home: HomeAssistantBridge | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        """Open the parts and the socket, start the tasks, then say READY=1."""
        stack = self._stack
        try:
            # One owner per state dir: the handle and the mute are this daemon's.
            await stack.enter_async_context(holding(self.settings.state_dir, command="run"))
            # Before any device opens: a socket another daemon answers on refuses this start
            # (StateBusyError). Requests wait in the backlog until the control-socket task.
            server = (
                await stack.enter_async_context(
                    ControlServer(self._control_path, Requests(partial(answer, self)))
                )
                if self._control_path is not None
                else None
            )
            parts = self._parts = await stack.enter_async_context(self._open_parts(self.post))
            self.wake = await stack.enter_async_context(WakeWordChoice(self.settings, parts))
            self._ears = Ears(
                parts,
                SpeechDetector(parts.vad, Endpointer(endpoint_options(self.settings))),
                self.counters,
                apply=self._apply,
                conversation=lambda: self.conversation,
            )
            tools, self.timer_tools = box_registry(
                self.settings,
                parts.speaker,
                self.timers,
                on_mute=lambda: self.post(MuteRequested(source="model")),
                on_end_conversation=lambda: self.link.new_conversation(after_turn=True),
            )
            self._ringer = Ringer(parts.speaker)
            self._link = LiveLink(
                self.settings, self._events.put_nowait, tools=tools, policy=self._policy
            )
            self._carry_out(self._startup_actions)
            if self.settings.home_assistant == "esphome":
                # Imported only when wanted: the ESPHome API's messages and zeroconf cost
                # about 0.6 s of start-up and 25 MB. Listening before READY=1: a port in use
                # stops the start with its reason.
                from talkbox.homeassistant.bridge import HomeAssistantBridge

                bridge = HomeAssistantBridge(self.settings, ApplianceBox(self))
                self._home = await stack.enter_async_context(bridge)
            # Before any other event: what fell due while the box was off rings first.
            recovered = self.timers.recover()
            if recovered:
                self._timers_due(recovered)
            tg = await stack.enter_async_context(asyncio.TaskGroup())
            stack.push_async_callback(self._cancel_tasks)
            parts.mic.on_ready(self._frames_ready)
            stack.callback(parts.mic.on_ready, None)
            self._spawn(tg, self._control(), "control")
            self._spawn(tg, self.link.run(), "live-link")
            self._spawn(tg, self._playback_pump(), "playback-pump")
            self._spawn(
                tg,
                feed_watchdog(
                    self._notifier,
                    partial(self._events.put_nowait, _Beat()),
                    # A vanished microphone is being reopened by its thread: that is no hang.
                    stuck_part(
                        frames=lambda: self.counters.frames,
                        beats=lambda: self._beats,
                        mic_away=lambda: CAPTURE in self.conversation.broken,
                    ),
                ),
                "watchdog",
            )
            self._spawn(tg, self.timers.run(), "timers")
            if server is not None:
                self._spawn(tg, server.serve(), "control-socket")
            if self._home is not None:
                self._spawn(tg, self._home.run(), "home-assistant")
        except BaseException:
            await stack.aclose()
            raise
        self._notifier.ready(self.status_line())
        log.info("talkbox is up (%s)", self.status_line())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """STOPPING=1, cancel the tasks, LED off, pins and devices released."""
        self._notifier.stopping()
        log.info("stopping")
        for handle in self._timers.values():
            handle.cancel()
        if self._ringer is not None:
            self._ringer.stop()
        try:
            await self._stack.aclose()
        finally:
            self._close_gpio()

    def stop(self) -> None:
        """Ask the appliance to stop (SIGTERM does): `stopped()` returns."""
        self._stop.set()

    async def stopped(self) -> None:
        """Wait until `stop()` is called."""
        await self._stop.wait()

    def post(self, event: Event) -> None:
        """Queue an event for the control task (call on the event loop)."""
        self._events.put_nowait(event)

    @property
    def link(self) -> LiveLink:
        """The Live link (once entered)."""
        if self._link is None:
            raise RuntimeError("the appliance is not running")
        return self._link

    @property
    def parts(self) -> Parts:
        """The devices (once entered)."""
        if self._parts is None:
            raise RuntimeError("the appliance is not running")
        return self._parts

    @property
    def home_assistant(self) -> HomeAssistantBridge | None:
        """The Home Assistant bridge (None: TALKBOX_HOME_ASSISTANT=off)."""
        return self._home

    @property
    def state(self) -> State:
        """The conversation's state now."""
        return self.conversation.state

    def _spawn(self, tg: asyncio.TaskGroup, work: Any, name: str) -> None:
        self._tasks.append(tg.create_task(work, name=name))

    async def _cancel_tasks(self) -> None:
        # Runs before the TaskGroup exits: its tasks run until cancelled.
        for task in self._tasks:
            task.cancel()

    def _close_gpio(self) -> None:
        parts = self._parts
        if parts is None:
            return
        if parts.indicator is not None:
            parts.indicator.close()
        if parts.button is not None:
            parts.button.close()

    # ---------------------------------------------------------------------- tasks

    def _frames_ready(self) -> None:
        # The mic calls this on the loop once per batch (60 ms): a marker for the control task,
        # which takes the frames themselves in its turn. No task in between.
        self._events.put_nowait(_FRAMES_READY)

    async def _control(self) -> None:
        while True:
            match await self._events.get():
                case _FramesReady():
                    self._hear_captured()
                case _Beat():
                    self._beats += 1
                case event:
                    # Audio captured before the event (a release) belongs before it: the mic
                    # holds up to a batch (40 ms) back, the end of a held utterance.
                    self._hear_captured()
                    self._handle(event)

    def _hear_captured(self) -> None:
        assert self._ears is not None
        self._ears.hear_all(self.parts.mic.ready())

    async def _playback_pump(self) -> None:
        # FinishPlayback puts (turn, finished()) here; flushes resolve them False.
        while True:
            turn_id, done = await self._finishing.get()
            if await done:
                self.post(PlaybackFinished(turn_id=turn_id))

    # ----------------------------------------------------------------- the control task

    def _handle(self, event: Event) -> None:
        shown = self.status_line()
        self.facts.note(event, turn_id=self.conversation.turn_id)
        self._apply(event)
        if self._home is not None:
            self._home.heard(event)
        line = self.status_line()
        if line != shown and line != self._notified:
            # The reason changed while the state did not (a device still missing once the
            # link connects, a new retry delay): STATUS= follows.
            self._notified = line
            self._notifier.status(line)

    def _apply(self, event: Event) -> None:
        """Apply one event and carry out its actions; TurnOpened follows at once."""
        follow: deque[Event] = deque([event])
        while follow:
            self.conversation, actions = apply(self.conversation, follow.popleft())
            self.counters.applied += 1
            opened = self._carry_out(actions)
            if opened is not None:
                follow.append(TurnOpened(turn_id=opened))

    def _carry_out(self, actions: tuple[Action, ...]) -> int | None:
        """Do each action in order; returns the turn id if one was opened."""
        opened = None
        for action in actions:
            turn_id = self._do(action)
            if turn_id is not None:
                opened = turn_id
        return opened

    def _do(self, action: Action) -> int | None:
        parts, link = self.parts, self._link
        match action:
            case ShowState(state=state):
                self._show(state)
            case PlayEarcon(earcon=earcon):
                parts.speaker.play_earcon(earcon)
            case SendActivityStart():
                assert link is not None
                return link.start_turn()
            case SendText(text=text):
                return self.link.send_text(text)
            case SendPreroll():
                self._send_preroll()
            case SendAudio(pcm=pcm):
                self.counters.frames_sent += 1
                self.link.send_audio(pcm)
            case SendActivityEnd():
                self.link.end_turn()
            case WithdrawTurn(turn_id=turn_id, reason=reason):
                self.link.withdraw(turn_id, reason)
            case RememberForPreroll(pcm=pcm):
                self._preroll.remember(pcm)
            case ClearPreroll():
                self._preroll.clear()
            case Play(pcm=pcm, rate=rate):
                parts.speaker.play(pcm, rate)
            case FinishPlayback(turn_id=turn_id):
                self._finishing.put_nowait((turn_id, parts.speaker.finished()))
            case FlushPlayback():
                parts.speaker.flush()
            case StartEndpointing(end_on_silence=on_silence, no_speech_timeout_s=wait):
                assert self._ears is not None
                self._ears.start_endpointing(on_silence, wait)
            case StopEndpointing():
                assert self._ears is not None
                self._ears.endpointing = False
            case StartTimer(timer=timer, seconds=delay, serial=serial):
                self._start_timer(timer, delay, serial)
            case CancelTimer(timer=timer):
                self._cancel_timer(timer)
            case StartNewConversation():
                self.link.new_conversation()
            case PersistMute(muted=muted):
                self._mute.save(muted)
            case StartRing(labels=labels):
                log.info("ringing: %s", ", ".join(labels))
                assert self._ringer is not None
                self._ringer.start()
            case StopRing(reason=reason):
                log.info("the ring stopped: %s", reason)
                if self._ringer is not None:
                    self._ringer.stop()
            case Warn(message=message):
                log.warning("%s", message)
        return None

    def _show(self, state: State) -> None:
        self._led(state)
        line = self.status_line()
        log.info("state: %s", line)
        self._notified = line
        self._notifier.status(line)

    def _led(self, state: State) -> None:
        indicator = self.parts.indicator
        if indicator is not None:
            indicator.show(state, timers=self.timers.running)

    def _timers_due(self, entries: tuple[Entry, ...]) -> None:
        self.post(RingDue(labels=tuple(entry.label for entry in entries)))

    def _timers_changed(self) -> None:
        # Idle shows whether a timer is set; no other state's pattern depends on it.
        if self._parts is not None and self.conversation.state is State.IDLE:
            self._led(State.IDLE)

    def _send_preroll(self) -> None:
        pcm = self._preroll.take()
        if pcm:
            self.counters.frames_sent += 1
            self.link.send_audio(pcm)

    def _start_timer(self, timer: Timer, delay: float, serial: int) -> None:
        self._cancel_timer(timer)
        fired = TimerFired(timer=timer, serial=serial)
        self._timers[timer] = asyncio.get_running_loop().call_later(delay, self.post, fired)

    def _cancel_timer(self, timer: Timer) -> None:
        handle = self._timers.pop(timer, None)
        if handle is not None:
            handle.cancel()

    # ----------------------------------------------------------------- status, ctl

    def status_line(self) -> str:
        """The STATUS= line: the state, with why for offline and error."""
        return self.facts.line(self.conversation.state)

    @property
    def last_turn(self) -> LastTurn | None:
        """What is known of the last turn that ended."""
        return self.facts.last_turn

    def status(self) -> dict[str, Any]:
        """What `talkbox ctl status` answers (`talkbox.appliance.requests`)."""
        return status_of(self)
