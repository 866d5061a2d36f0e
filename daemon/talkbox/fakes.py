"""Fakes that ship with talkbox, for its tests and for anyone driving its parts by hand.

Product code, like gpiozero's MockFactory: typed, they record what was done and let a test
assert in its own words. `EventRecorder` stands in for the owner of a link's events;
`run_in_background` runs a link (or anything with `run()`) for the duration of a block.
`FakeMic`, `FakeSpeaker`, `FakeButton` and `FakeIndicator` are the appliance's ports
(`talkbox.ports`) acting like the world: a microphone fed by the test (in real time or at
once), a speaker that takes as the audio lasts, a button the test presses, an LED
whose every state is kept with its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from talkbox.audio.format import ANSWER_RATE_HZ, INPUT_RATE_HZ, pcm_bytes, seconds
from talkbox.conversation import (
    ApplianceEvent,
    AudioDeviceFailed,
    AudioDeviceRecovered,
    ButtonPressed,
    ButtonReleased,
    DoublePressed,
    Earcon,
    LongPressed,
    State,
)
from talkbox.live.events import LinkEvent

E = TypeVar("E")


def _any(_: object) -> bool:
    return True


class EventRecorder:
    """Collects the events given to it (pass it as `emit`); tests wait on them with a bound."""

    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        """Every event received, in order."""
        self._changed = asyncio.Event()

    def __call__(self, event: LinkEvent) -> None:
        """Record one event (never blocks, never raises: what `emit` must be)."""
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self, kind: type[E], predicate: Callable[[E], bool] = _any, within: float = 10.0
    ) -> E:
        """The first event of `kind` matching `predicate`, waiting at most `within` s.

        Raises TimeoutError when none came in time.
        """
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    if isinstance(event, kind) and predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()

    def reset(self) -> None:
        """Forget the events recorded so far."""
        self.events.clear()


class Runnable(Protocol):
    """Something that runs until cancelled, as LiveLink does."""

    def run(self) -> Coroutine[Any, Any, None]:
        """Run until cancelled."""
        ...


R = TypeVar("R", bound=Runnable)


@contextlib.asynccontextmanager
async def run_in_background(part: R) -> AsyncIterator[R]:
    """Run `part.run()` as a task for the duration of the block; cancel and await it after."""
    task = asyncio.create_task(part.run(), name=f"{type(part).__name__.lower()}-background")
    try:
        yield part
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ------------------------------------------------------------------------------- devices

Report = Callable[[ApplianceEvent], None]
"""Where a fake device reports failing and recovering (the appliance's `post`)."""

FRAME_S = 0.02
"""The length of one microphone frame."""


@dataclass(frozen=True, slots=True)
class FakeFrame:
    """A microphone frame as the fake microphone hands it out (the `MicFrame` port)."""

    pcm: bytes
    earcon: bool = False
    captured_at: float = 0.0


class FakeMic:
    """The `AudioSource` port: frames the test feeds, in order; it can fail and come back."""

    def __init__(self, *, device: str = "capture", batch: int = 1) -> None:
        self.device = device
        self.report: Report | None = None
        """Set by whoever opens the parts: device failures go there."""
        self.frames_read = 0
        self.batch = batch
        """As the ALSA capture's: `read()` waits until this many frames are fed."""
        self._frames: asyncio.Queue[FakeFrame] = asyncio.Queue()
        self._fed = asyncio.Event()
        self._listener: Callable[[], None] | None = None
        self._told = False

    def feed(self, pcm: bytes, *, earcon: bool = False) -> None:
        """Queue `pcm` (a whole number of 20 ms frames) for reading at once."""
        size = frame_bytes()
        for start in range(0, len(pcm) - size + 1, size):
            self._frames.put_nowait(FakeFrame(pcm[start : start + size], earcon))
        self._fed.set()
        if self._listener is not None and not self._told and self._frames.qsize() >= self.batch:
            # Called on the loop, later, as the ALSA capture's thread posts it.
            self._told = True
            asyncio.get_running_loop().call_soon(self._listener)

    def fail(self, reason: str = "No such device") -> None:
        """The device vanishes: report it; nothing more is read until `recover()`."""
        if self.report is not None:
            self.report(AudioDeviceFailed(device=self.device, reason=reason))

    def recover(self) -> None:
        """The device is back."""
        if self.report is not None:
            self.report(AudioDeviceRecovered(device=self.device))

    async def read(self) -> FakeFrame:
        """The next frame fed (waits for a whole batch of them)."""
        while self._frames.qsize() < self.batch:
            self._fed.clear()
            await self._fed.wait()
        frame = self._frames.get_nowait()
        self.frames_read += 1
        return frame

    def ready(self) -> list[FakeFrame]:
        """Every frame fed and not yet read, taken at once."""
        frames = [self._frames.get_nowait() for _ in range(self._frames.qsize())]
        self.frames_read += len(frames)
        self._told = False
        return frames

    def on_ready(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` on the loop when a batch is fed, once until `ready()`."""
        self._listener = callback


def frame_bytes() -> int:
    """Bytes in one 20 ms frame of 16 kHz mono S16_LE."""
    return pcm_bytes(FRAME_S, INPUT_RATE_HZ)


class FakeSpeaker:
    """The `AudioSink` port: plays what it is given at `speed` times real time and records it."""

    def __init__(self, *, speed: float = 1.0, device: str = "playback") -> None:
        self.speed = speed
        self.device = device
        self.report: Report | None = None
        self.chunks: list[bytes] = []
        """Every chunk of answer audio queued, in order (24 kHz unless told otherwise)."""
        self.earcons: list[Earcon] = []
        self.flushes = 0
        self.flush_marks: list[int] = []
        """For each flush: how many bytes of `audio` had been queued before it."""
        self._volume = 80
        self._plays_until = 0.0
        self._pending: list[tuple[float, asyncio.Future[bool]]] = []

    @property
    def audio(self) -> bytes:
        """All answer audio queued so far."""
        return b"".join(self.chunks)

    def play(self, pcm: bytes, rate: int = ANSWER_RATE_HZ) -> None:
        """Queue audio; it takes its duration (divided by `speed`) to play."""
        self.chunks.append(pcm)
        self._extend(seconds(pcm, rate))

    def play_earcon(self, earcon: Earcon) -> bool:
        """Record the earcon; it plays for a tenth of a second."""
        self.earcons.append(earcon)
        self._extend(0.1)
        return True

    def finished(self) -> asyncio.Future[bool]:
        """Resolves True when what is queued has played, False if flushed first."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        due = max(self._plays_until, loop.time())
        self._pending.append((due, future))
        loop.call_at(due, self._settle, future, True)
        return future

    def flush(self) -> None:
        """Drop what is queued: pending `finished()` futures resolve False."""
        self.flushes += 1
        self.flush_marks.append(sum(len(chunk) for chunk in self.chunks))
        self._plays_until = 0.0
        pending, self._pending = self._pending, []
        for _, future in pending:
            self._settle(future, False)

    @property
    def volume(self) -> int:
        """The volume in percent."""
        return self._volume

    def set_volume(self, percent: int) -> None:
        """Set the volume, 0-100 %."""
        if not 0 <= percent <= 100:
            raise ValueError(f"volume must be 0..100 percent, got {percent}")
        self._volume = percent

    def fail(self, reason: str = "No such device") -> None:
        """The device vanishes: what was queued is lost."""
        self.flush()
        if self.report is not None:
            self.report(AudioDeviceFailed(device=self.device, reason=reason))

    def recover(self) -> None:
        """The device is back."""
        if self.report is not None:
            self.report(AudioDeviceRecovered(device=self.device))

    def _extend(self, duration_s: float) -> None:
        now = asyncio.get_running_loop().time()
        self._plays_until = max(self._plays_until, now) + duration_s / self.speed

    def _settle(self, future: asyncio.Future[bool], played: bool) -> None:
        self._pending = [(due, f) for due, f in self._pending if f is not future]
        if not future.done():
            future.set_result(played)


class FakeButton:
    """The `Button` port: the test presses it; events go to `post` as gpiozero's would."""

    def __init__(self) -> None:
        self.post: Report | None = None
        self.closed = False
        self._pressed = False

    @property
    def is_pressed(self) -> bool:
        """Whether the test holds the button down."""
        return self._pressed

    def press(self) -> None:
        """Push the button down."""
        self._pressed = True
        self._send(ButtonPressed())

    def release(self) -> None:
        """Let the button go."""
        self._pressed = False
        self._send(ButtonReleased())

    def hold_long(self) -> None:
        """The button has been held for LONG_PRESS_S (posted while it is down)."""
        self._send(LongPressed())

    def double_press(self) -> None:
        """Press, release, press again quickly, release."""
        self.press()
        self.release()
        self._pressed = True
        self._send(ButtonPressed())
        self._send(DoublePressed())
        self.release()

    def check_level(self) -> None:
        """Nothing to catch up on: the fake never misses an edge."""

    def close(self) -> None:
        """Release the pin."""
        self.closed = True

    def _send(self, event: ApplianceEvent) -> None:
        if self.post is None:
            raise RuntimeError("the button is not connected to an appliance")
        self.post(event)


class FakeIndicator:
    """The `Indicator` port: records each state shown, with the time (monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.history: list[tuple[float, State | None]] = []
        """(time, state shown); None: the LED was turned off for good."""
        self.closed = False
        self.timers = False
        """Whether the last show said a timer or alarm is set."""
        self._clock = clock

    @property
    def shown(self) -> State | None:
        """The state shown now."""
        return self.history[-1][1] if self.history else None

    def show(self, state: State, *, timers: bool = False) -> None:
        """Show `state`'s pattern (`timers`: idle shows the timer pattern instead)."""
        self.history.append((self._clock(), state))
        self.timers = timers

    def close(self) -> None:
        """Turn the LED off."""
        self.history.append((self._clock(), None))
        self.closed = True

    def states(self) -> list[State | None]:
        """The states shown, in order, without repeats."""
        found: list[State | None] = []
        for _, state in self.history:
            if not found or found[-1] != state:
                found.append(state)
        return found
