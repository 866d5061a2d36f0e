"""ALSA capture and playback threads (pyalsaaudio); the only module that imports alsaaudio.

Each direction runs one thread that owns its PCM: it opens the device, reads or writes
period-sized chunks, and closes it (only that thread ever closes it). The asyncio side
never blocks on ALSA:

    async with AlsaCapture(CaptureOptions(device="plughw:CARD=Device,DEV=0")) as mic:
        frame = await mic.read()            # 20 ms, 16 kHz, exactly 640 bytes

    async with AlsaPlayback(PlaybackOptions(device="default")) as speaker:
        speaker.play(pcm)                   # 24 kHz answer audio; returns at once
        played_whole = await speaker.finished()
        speaker.flush()                     # barge-in: pcm.drop() within one period

A device that is missing, busy or vanishes is reported once as an `AudioDeviceError` (to
`on_status`, on the event loop, and as one ERROR line), then reopened with capped backoff;
when it comes back a `DeviceStatus` without error says so. Overruns (read -32) and
underruns (write -32: the chunk is written again) are counted and logged at debug.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import alsaaudio

from talkbox.audio.devices import (
    DEVICES_HINT,
    CaptureOptions,
    CaptureStats,
    DeviceStatus,
    Direction,
    PlaybackOptions,
    PlaybackStats,
    StatusCallback,
    device_error,
)
from talkbox.audio.format import ANSWER_RATE_HZ, INPUT_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.frames import (
    Earcon,
    EarconWindows,
    Frame,
    Reframer,
    Resampler,
    apply_gain,
    db_to_gain,
    fade_in,
    fade_out,
    fade_samples,
    first_channel,
    frame_bytes,
    silence,
    synthesize_earcon,
    to_channels,
    volume_to_gain,
)
from talkbox.errors import AudioDeviceError

log = logging.getLogger(__name__)

EPIPE = 32
"""`read`/`write` return -EPIPE on an overrun or underrun (pyalsaaudio 0.11)."""


class Pcm(Protocol):
    """The part of `alsaaudio.PCM` the threads use (a test may stand in for the library)."""

    def info(self) -> dict[str, Any]:
        """What the device really runs at."""

    def read(self) -> tuple[int, bytes]:
        """One period of capture: (frames or -errno, bytes)."""

    def write(self, data: bytes) -> int:
        """Frames written, or -errno."""

    def avail(self) -> int:
        """Frames free in the playback buffer (or ready to read)."""

    def drop(self) -> int:
        """Discard what is buffered at once."""

    def close(self) -> None:
        """Release the device."""


PcmOpener = Callable[[Direction, str, int, int, int], Pcm]
"""(direction, device, rate Hz, period frames, periods) → an open PCM; raises ALSAAudioError."""


def open_alsa_pcm(
    direction: Direction, device: str, rate_hz: int, period_frames: int, periods: int
) -> Pcm:
    """Open `device` as a blocking mono S16_LE PCM; ALSA may adjust rate and period."""
    pcm_type = alsaaudio.PCM_CAPTURE if direction == "capture" else alsaaudio.PCM_PLAYBACK
    if re.match(r"(plug)?hw:", device):
        # A blocking open of a busy hw device waits until it is free, and pyalsaaudio holds
        # the GIL meanwhile: the whole daemon would stop. A non-blocking open fails at once
        # with "Device or resource busy" instead (this probe is closed straight away).
        alsaaudio.PCM(pcm_type, alsaaudio.PCM_NONBLOCK, device=device).close()
    pcm: Pcm = alsaaudio.PCM(
        pcm_type,
        alsaaudio.PCM_NORMAL,
        device=device,
        rate=rate_hz,
        channels=1,
        format=alsaaudio.PCM_FORMAT_S16_LE,
        periodsize=period_frames,
        periods=periods,
    )
    return pcm


def alsa_problem(err: BaseException) -> str:
    """ALSA's words without the ` [device]` pyalsaaudio appends (it has no errno)."""
    text = str(err.args[0]) if err.args else str(err)
    return re.sub(r"\s*\[[^\]]*\]$", "", text) or type(err).__name__


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """What a PCM really runs at, read back from `pcm.info()`."""

    rate_hz: int
    channels: int
    period_frames: int
    buffer_frames: int


def _read_back(pcm: Pcm, direction: Direction, device: str) -> Opened:
    info = pcm.info()
    if info.get("format_name") != "S16_LE":
        raise device_error(direction, device, f"it runs as {info.get('format_name')}, not S16_LE")
    return Opened(
        rate_hz=int(info["rate"]),
        channels=int(info["channels"]),
        period_frames=int(info["period_size"]),
        buffer_frames=int(info["buffer_size"]),
    )


class _DeviceThread:
    """The open / serve / report / back off / reopen loop both directions share."""

    def __init__(
        self,
        direction: Direction,
        device: str,
        *,
        reopen_min_s: float,
        reopen_max_s: float,
        on_status: StatusCallback | None,
        open_pcm: PcmOpener,
    ) -> None:
        self.direction: Direction = direction
        self.device = device
        self._reopen = (reopen_min_s, reopen_max_s)
        self._on_status = on_status
        self._open_pcm = open_pcm
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status: DeviceStatus | None = None
        self.reopens = 0
        """How many times the device was opened again after a failure."""

    @property
    def status(self) -> DeviceStatus | None:
        """The latest status (None until the first open attempt ends)."""
        return self._status

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is not None:
            raise RuntimeError(f"the {self.direction} thread is already running")
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, name=f"talkbox-{self.direction}", daemon=True
        )
        self._thread.start()

    def _stop(self, timeout_s: float) -> None:
        self._stopping.set()
        self._wake()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                # A read blocked in the driver returns within a period on real hardware;
                # the thread is a daemon and closes its PCM itself when it does.
                log.warning("the %s thread did not stop within %.1f s", self.direction, timeout_s)

    def _wake(self) -> None:
        """Wake the thread from an idle wait (stop or new work)."""

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        # The loop may have closed while the thread was finishing: nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    def _report(self, status: DeviceStatus) -> None:
        previous, self._status = self._status, status
        changed = previous is None or previous.ok != status.ok
        if status.error is not None:
            # One ERROR line per outage; the reopen attempts after it log at debug only.
            if changed:
                log.error("%s", status.error)
            else:
                log.debug("%s still failing: %s", self.direction, status.error)
        elif previous is not None:
            log.info("%s device %r is back (%d Hz)", self.direction, self.device, status.rate_hz)
        else:
            log.info("%s device %r opened at %d Hz", self.direction, self.device, status.rate_hz)
        if self._on_status is not None and changed:
            self._post(self._on_status, status)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            pcm: Pcm | None = None
            try:
                pcm, opened = self._open()
                if failures:
                    self.reopens += 1
                self._report(
                    DeviceStatus(
                        direction=self.direction, device=self.device, rate_hz=opened.rate_hz
                    )
                )
                failures = 0
                self._serve(pcm, opened)
            except AudioDeviceError as err:
                # The reopen loop is the one place a device failure is handled: report it
                # once, wait, and try again until the device is back or we are stopped.
                failures += 1
                self._report(DeviceStatus(direction=self.direction, device=self.device, error=err))
                low, high = self._reopen
                self._stopping.wait(min(high, low * 2 ** (failures - 1)))
            finally:
                if pcm is not None:
                    self._close(pcm)

    def _open(self) -> tuple[Pcm, Opened]:
        raise NotImplementedError

    def _serve(self, pcm: Pcm, opened: Opened) -> None:
        raise NotImplementedError

    def _close(self, pcm: Pcm) -> None:
        try:
            if self.direction == "playback":
                # close() drains what is buffered first; drop() makes it return at once.
                pcm.drop()
            pcm.close()
        except alsaaudio.ALSAAudioError as err:
            log.debug("closing %s device %r: %s", self.direction, self.device, alsa_problem(err))

    def _open_at(self, rate_hz: int, period_ms: int, periods: int) -> tuple[Pcm, Opened]:
        period_frames = rate_hz * period_ms // 1000
        try:
            pcm = self._open_pcm(self.direction, self.device, rate_hz, period_frames, periods)
        except alsaaudio.ALSAAudioError as err:
            raise device_error(self.direction, self.device, alsa_problem(err)) from err
        try:
            return pcm, _read_back(pcm, self.direction, self.device)
        except BaseException:
            self._close(pcm)
            raise

    def _failed(self, err: alsaaudio.ALSAAudioError) -> AudioDeviceError:
        return device_error(self.direction, self.device, alsa_problem(err))


class _FrameQueue:
    """Thread → event loop, bounded; when full the oldest frame is dropped and counted."""

    def __init__(self, maxlen: int) -> None:
        self._frames: collections.deque[Frame] = collections.deque()
        self._maxlen = maxlen
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0

    def put(self, frame: Frame, post: Callable[..., None]) -> None:
        with self._lock:
            if len(self._frames) >= self._maxlen:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(frame)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            post(_wake_future, waiter)

    async def get(self) -> Frame:
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._frames:
                    return self._frames.popleft()
                waiter = self._waiter = loop.create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AlsaCapture(_DeviceThread):
    """The microphone: a thread reads ALSA and hands exact 20 ms 16 kHz frames to the loop."""

    def __init__(
        self,
        options: CaptureOptions,
        *,
        earcons: EarconWindows | None = None,
        on_status: StatusCallback | None = None,
        open_pcm: PcmOpener = open_alsa_pcm,
    ) -> None:
        super().__init__(
            "capture",
            options.device,
            reopen_min_s=options.reopen_min_s,
            reopen_max_s=options.reopen_max_s,
            on_status=on_status,
            open_pcm=open_pcm,
        )
        self.options = options
        self._earcons = earcons
        self._gain = db_to_gain(options.gain_db)
        self._queue = _FrameQueue(max(1, round(options.queue_s * 1000 / options.period_ms)))
        self._frames = 0
        self._overruns = 0

    def start(self) -> None:
        """Start the capture thread; call from the event loop that will read the frames."""
        self._start(asyncio.get_running_loop())

    def close(self) -> None:
        """Stop the thread (within about one period) and release the device."""
        self._stop(2.0)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    async def read(self) -> Frame:
        """The next frame; waits while the device is away (see `status`)."""
        return await self._queue.get()

    async def read_frame(self) -> bytes:
        """The next frame's audio alone (`talkbox.ports.AudioSource`)."""
        return (await self.read()).pcm

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Frame:
        return await self.read()

    def set_gain_db(self, gain_db: float) -> None:
        """Change the mic gain (dB, -20..+30) from the next frame on."""
        if not -20 <= gain_db <= 30:
            raise ValueError(f"mic gain must be -20..30 dB, got {gain_db}")
        self._gain = db_to_gain(gain_db)

    @property
    def stats(self) -> CaptureStats:
        """Frames delivered, dropped, overruns and reopens so far."""
        return CaptureStats(
            frames=self._frames,
            dropped=self._queue.dropped,
            overruns=self._overruns,
            reopens=self.reopens,
        )

    def _open(self) -> tuple[Pcm, Opened]:
        rate = self.options.rate_hz or INPUT_RATE_HZ
        return self._open_at(rate, self.options.period_ms, self.options.periods)

    def _serve(self, pcm: Pcm, opened: Opened) -> None:
        period_ms = self.options.period_ms
        if opened.rate_hz != INPUT_RATE_HZ:
            log.info(
                "capture device %r runs at %d Hz: resampling to %d Hz",
                self.device,
                opened.rate_hz,
                INPUT_RATE_HZ,
            )
        resample = Resampler(opened.rate_hz, INPUT_RATE_HZ)
        reframe = Reframer(frame_bytes(INPUT_RATE_HZ, period_ms))
        bytes_per_s = INPUT_RATE_HZ * SAMPLE_BYTES
        frame_s = period_ms / 1000
        device_frame = SAMPLE_BYTES * opened.channels
        while not self._stopping.is_set():
            try:
                n, data = pcm.read()
            except alsaaudio.ALSAAudioError as err:
                raise self._failed(err) from err
            if n == -EPIPE:
                # pyalsaaudio has already re-prepared the stream; the audio has a gap.
                self._overruns += 1
                log.debug("capture overrun on %r (%d so far)", self.device, self._overruns)
                continue
            if n <= 0:
                continue
            now = time.monotonic()
            mono = first_channel(data[: n * device_frame], opened.channels)
            frames = reframe.feed(resample.process(mono))
            # The newest frame ends where the re-framer's leftover begins.
            end = now - reframe.pending / bytes_per_s
            for i, pcm_frame in enumerate(frames):
                captured_at = end - (len(frames) - 1 - i) * frame_s
                earcon = self._earcons is not None and self._earcons.covers(
                    captured_at - frame_s, captured_at
                )
                self._frames += 1
                self._queue.put(
                    Frame(
                        pcm=apply_gain(pcm_frame, self._gain),
                        captured_at=captured_at,
                        earcon=earcon,
                    ),
                    self._post,
                )


@dataclass(slots=True)
class _Chunk:
    pcm: bytes
    rate_hz: int
    earcon: bool
    generation: int


@dataclass(slots=True)
class _Mark:
    future: asyncio.Future[bool]
    generation: int
    done_at: float = 0.0


@dataclass(slots=True)
class _Segment:
    """One stretch of continuous sound on the device: faded in, faded out at its end."""

    held: bytes = b""
    """The last `fade` samples, held back until we know whether the sound goes on."""
    open: bool = False
    idle_dropped: bool = True
    drained_at: float = 0.0
    marks: list[_Mark] = field(default_factory=list)


class AlsaPlayback(_DeviceThread):
    """The speaker: a thread writes queued audio to ALSA; the caller never blocks."""

    def __init__(
        self,
        options: PlaybackOptions,
        *,
        earcons: EarconWindows | None = None,
        on_status: StatusCallback | None = None,
        open_pcm: PcmOpener = open_alsa_pcm,
    ) -> None:
        super().__init__(
            "playback",
            options.device,
            reopen_min_s=options.reopen_min_s,
            reopen_max_s=options.reopen_max_s,
            on_status=on_status,
            open_pcm=open_pcm,
        )
        self.options = options
        self._earcon_windows = earcons
        self._cond = threading.Condition()
        self._items: collections.deque[_Chunk | _Mark] = collections.deque()
        self._queued_s = 0.0
        self._generation = 0
        self._flush_requested_at: float | None = None
        self._mixer: Any = None
        self._volume = options.volume
        self._gain = 1.0 if options.mixer else volume_to_gain(options.volume)
        self._earcon_pcm = {
            kind: synthesize_earcon(kind, ANSWER_RATE_HZ, fade_ms=options.fade_ms)
            for kind in Earcon
        }
        self._written_s = 0.0
        self._refused_s = 0.0
        self._refusing = False
        self._underruns = 0
        self._flushes = 0
        self._last_flush_s: float | None = None

    def start(self) -> None:
        """Open the mixer (AudioDeviceError if it does not exist) and start the thread.

        Call from the event loop that will await `finished()`.
        """
        if self.options.mixer:
            self._mixer = open_mixer(self.options.mixer, self.device)
            self._mixer.setvolume(self._volume)
        self._start(asyncio.get_running_loop())

    def close(self) -> None:
        """Drop what is queued, stop the thread (within about one period), release the device."""
        self.flush()
        self._stop(2.0)
        if self._mixer is not None:
            self._mixer.close()
            self._mixer = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()
        await asyncio.to_thread(self.close)

    def play(self, pcm: bytes, rate: int = ANSWER_RATE_HZ) -> None:
        """Queue mono S16_LE audio; never blocks.

        Audio beyond `max_queue_s` ahead of the speaker is refused: counted in
        `stats.refused_s`, and logged once as a warning until the queue has room again.
        """
        self._enqueue(pcm, rate, earcon=False)

    def play_earcon(self, kind: Earcon) -> bool:
        """Queue an earcon (nothing when earcons are off); capture marks frames it overlaps."""
        if not self.options.earcons:
            return False
        return self._enqueue(self._earcon_pcm[kind], ANSWER_RATE_HZ, earcon=True)

    def finished(self) -> asyncio.Future[bool]:
        """Resolves once all audio queued so far has been played: True, or False if flushed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._cond:
            self._items.append(_Mark(future, self._generation))
            self._cond.notify()
        return future

    def finish(self, done: Callable[[], None]) -> None:
        """Call `done` on the loop once all audio queued so far has played (not if flushed)."""

        def played(future: asyncio.Future[bool]) -> None:
            if not future.cancelled() and future.result():
                done()

        self.finished().add_done_callback(played)

    def flush(self) -> None:
        """Drop all queued and buffered audio at once (barge-in); later audio plays normally."""
        with self._cond:
            self._generation += 1
            marks = [item for item in self._items if isinstance(item, _Mark)]
            self._items.clear()
            self._queued_s = 0.0
            self._flush_requested_at = time.monotonic()
            self._cond.notify()
        for mark in marks:
            _settle(mark.future, False)

    @property
    def volume(self) -> int:
        """The volume in percent."""
        return self._volume

    def set_volume(self, percent: int) -> None:
        """Set the volume (0..100 %): on the mixer when one is configured, else in software."""
        if not 0 <= percent <= 100:
            raise ValueError(f"volume must be 0..100 percent, got {percent}")
        if self._mixer is not None:
            try:
                self._mixer.setvolume(percent)
            except alsaaudio.ALSAAudioError as err:
                raise AudioDeviceError(
                    f"mixer {self.options.mixer!r} refused the volume: {alsa_problem(err)}"
                ) from err
        else:
            self._gain = volume_to_gain(percent)
        self._volume = percent

    @property
    def stats(self) -> PlaybackStats:
        """Audio written, queued and refused, underruns and flushes so far."""
        with self._cond:
            queued = self._queued_s
        return PlaybackStats(
            written_s=self._written_s,
            queued_s=queued,
            refused_s=self._refused_s,
            underruns=self._underruns,
            flushes=self._flushes,
            last_flush_s=self._last_flush_s,
            reopens=self.reopens,
        )

    def _enqueue(self, pcm: bytes, rate_hz: int, *, earcon: bool) -> bool:
        if len(pcm) % SAMPLE_BYTES:
            raise ValueError(f"16-bit PCM must have an even byte count, got {len(pcm)}")
        if not pcm:
            return True
        duration = len(pcm) / (SAMPLE_BYTES * rate_hz)
        with self._cond:
            if self._queued_s + duration > self.options.max_queue_s:
                self._refused_s += duration
                refused, warn = True, not self._refusing
                self._refusing = True
            else:
                self._items.append(_Chunk(pcm, rate_hz, earcon, self._generation))
                self._queued_s += duration
                self._cond.notify()
                refused = warn = self._refusing = False
        if warn:
            log.warning(
                "playback queue full (%.0f s ahead of the speaker): audio dropped until it drains",
                self.options.max_queue_s,
            )
        return not refused

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _open(self) -> tuple[Pcm, Opened]:
        rate = self.options.rate_hz or ANSWER_RATE_HZ
        return self._open_at(rate, self.options.period_ms, self.options.periods)

    def _serve(self, pcm: Pcm, opened: Opened) -> None:
        if opened.rate_hz != ANSWER_RATE_HZ:
            log.info(
                "playback device %r runs at %d Hz: resampling from %d Hz",
                self.device,
                opened.rate_hz,
                ANSWER_RATE_HZ,
            )
        writer = _Writer(self, pcm, opened)
        try:
            writer.run()
        finally:
            # The device failed (or we stop): what was queued for it is stale by the time it
            # is back, and whoever waits for it to be played must hear that it was not.
            with self._cond:
                marks = [m for m in self._items if isinstance(m, _Mark)] + writer.segment.marks
                self._items.clear()
                self._queued_s = 0.0
            for mark in marks:
                self._settle_later(mark.future, False)

    def _settle_later(self, future: asyncio.Future[bool], played: bool) -> None:
        self._post(_settle, future, played)


def _settle(future: asyncio.Future[bool], played: bool) -> None:
    if not future.done():
        future.set_result(played)


class _Writer:
    """The playback thread's work on one open PCM (rebuilt on each reopen)."""

    def __init__(self, owner: AlsaPlayback, pcm: Pcm, opened: Opened) -> None:
        self.owner = owner
        self.pcm = pcm
        self.opened = opened
        self.rate = opened.rate_hz
        self.generation = owner._generation
        self.fade = fade_samples(self.rate, owner.options.fade_ms)
        self.lead_in = silence(fade_samples(self.rate, owner.options.lead_in_ms))
        self.period_bytes = opened.period_frames * SAMPLE_BYTES
        self.period_s = opened.period_frames / self.rate
        self.resample = Resampler(ANSWER_RATE_HZ, self.rate)
        self.segment = _Segment()
        self.plays_until = 0.0
        """When what has been written will have played, if the device keeps real time."""

    def run(self) -> None:
        owner = self.owner
        while not owner._stopping.is_set():
            item = self._next()
            if owner._stopping.is_set():
                return
            if owner._generation != self.generation:
                self._flush()
            elif isinstance(item, _Chunk):
                self._play(item)
            elif isinstance(item, _Mark):
                self._mark(item)
            else:
                self._idle()

    def _next(self) -> _Chunk | _Mark | None:
        owner = self.owner
        with owner._cond:
            if not owner._items and owner._generation == self.generation:
                owner._cond.wait(self._idle_wait())
            if owner._generation != self.generation or not owner._items:
                return None
            item = owner._items.popleft()
            if isinstance(item, _Chunk):
                owner._queued_s = max(0.0, owner._queued_s - len(item.pcm) / (2 * item.rate_hz))
            return item

    def _idle_wait(self) -> float:
        segment = self.segment
        if segment.open:
            # Wake before the device runs dry, to end the sound with a fade, not a cut.
            return max(0.001, self._buffered_s() - self.period_s) if segment.held else 0.001
        deadlines = [m.done_at for m in segment.marks]
        if not segment.idle_dropped:
            deadlines.append(segment.drained_at)
        if deadlines:
            return max(0.001, min(deadlines) - time.monotonic())
        return 0.5

    def _buffered_s(self) -> float:
        # The larger of what ALSA says is in its buffer and what we wrote beyond the time
        # that has passed: plugins without a clock (null, file) always report an empty buffer.
        try:
            in_ring = max(0, self.opened.buffer_frames - self.pcm.avail()) / self.rate
        except alsaaudio.ALSAAudioError:
            in_ring = 0.0
        return max(in_ring, self.plays_until - time.monotonic())

    def _device_pcm(self, chunk: _Chunk) -> bytes:
        if chunk.rate_hz != self.resample.in_rate_hz:
            self.resample = Resampler(chunk.rate_hz, self.rate)
        return apply_gain(self.resample.process(chunk.pcm), self.owner._gain)

    def _play(self, chunk: _Chunk) -> None:
        segment = self.segment
        data = self._device_pcm(chunk)
        if not segment.open:
            segment.open = True
            segment.idle_dropped = False
            self._write(self.lead_in, count=False)
            data = fade_in(data, self.fade)
        data = segment.held + data
        keep = min(len(data), self.fade * SAMPLE_BYTES)
        segment.held = data[len(data) - keep :]
        body = data[: len(data) - keep]
        if chunk.earcon and self.owner._earcon_windows is not None:
            start = time.monotonic() + self._buffered_s()
            self.owner._earcon_windows.add(start, start + len(data) / (SAMPLE_BYTES * self.rate))
        self._write(body)

    def _end_segment(self) -> None:
        segment = self.segment
        if not segment.open:
            return
        tail = segment.held + apply_gain(self.resample.flush(), self.owner._gain)
        segment.held = b""
        segment.open = False
        self._write(fade_out(tail, self.fade))
        segment.drained_at = time.monotonic() + self._buffered_s()

    def _mark(self, mark: _Mark) -> None:
        self._end_segment()
        mark.done_at = time.monotonic() + self._buffered_s()
        self.segment.marks.append(mark)
        self._settle_due()

    def _idle(self) -> None:
        segment = self.segment
        if segment.open and self._buffered_s() <= self.period_s:
            self._end_segment()
        self._settle_due()
        if not segment.open and not segment.idle_dropped and time.monotonic() >= segment.drained_at:
            # Stop the stream ourselves once it has played out: the next write then starts
            # cleanly instead of finding an underrun.
            self._drop()
            segment.idle_dropped = True

    def _settle_due(self) -> None:
        now = time.monotonic()
        due = [m for m in self.segment.marks if m.done_at <= now]
        self.segment.marks = [m for m in self.segment.marks if m.done_at > now]
        for mark in due:
            self.owner._settle_later(mark.future, mark.generation == self.owner._generation)

    def _flush(self) -> None:
        owner = self.owner
        self._drop()
        with owner._cond:
            self.generation = owner._generation
            requested = owner._flush_requested_at
        if requested is not None:
            owner._last_flush_s = time.monotonic() - requested
        owner._flushes += 1
        self.resample.reset()
        marks = self.segment.marks
        self.segment = _Segment()
        for mark in marks:
            owner._settle_later(mark.future, False)

    def _drop(self) -> None:
        try:
            self.pcm.drop()
        except alsaaudio.ALSAAudioError as err:
            raise self.owner._failed(err) from err
        self.plays_until = time.monotonic()

    def _write(self, data: bytes, *, count: bool = True) -> None:
        owner = self.owner
        channels = self.opened.channels
        for start in range(0, len(data), self.period_bytes):
            if owner._generation != self.generation or owner._stopping.is_set():
                return  # flushed or stopping: the rest is not wanted
            piece = to_channels(data[start : start + self.period_bytes], channels)
            frame_size = SAMPLE_BYTES * channels
            while piece:
                try:
                    written = self.pcm.write(piece)
                except alsaaudio.ALSAAudioError as err:
                    raise owner._failed(err) from err
                if written == -EPIPE:
                    # The data was not written; pyalsaaudio re-prepared the stream: again.
                    owner._underruns += 1
                    log.debug("playback underrun on %r (%d so far)", owner.device, owner._underruns)
                    continue
                if written <= 0:
                    continue
                piece = piece[written * frame_size :]
            seconds = min(self.period_bytes, len(data) - start) / (SAMPLE_BYTES * self.rate)
            self.plays_until = max(self.plays_until, time.monotonic()) + seconds
            if count:
                owner._written_s += seconds


def open_mixer(control: str, device: str) -> Any:
    """Open ALSA mixer `control` on the card of playback `device`; AudioDeviceError if none."""
    card = mixer_card(device)
    try:
        return alsaaudio.Mixer(control=control, device=card)
    except alsaaudio.ALSAAudioError as err:
        raise AudioDeviceError(
            f"mixer {control!r} on {card!r} cannot be used: {alsa_problem(err)} "
            f"({DEVICES_HINT} and their mixers)"
        ) from err


def mixer_card(device: str) -> str:
    """The control device holding the mixers of PCM `device` (`hw:CARD=X` or `default`)."""
    if by_id := re.search(r"CARD=([^,]+)", device):
        return f"hw:CARD={by_id.group(1)}"
    if by_index := re.match(r"(?:plug)?hw:(\d+)", device):
        return f"hw:{by_index.group(1)}"
    return "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceList:
    """What ALSA offers: PCM names for each direction, and the cards with their mixers."""

    capture: tuple[str, ...]
    playback: tuple[str, ...]
    cards: tuple[str, ...]
    mixers: dict[str, tuple[str, ...]]
    """Card id → its mixer controls."""


def list_devices() -> DeviceList:
    """The ALSA capture and playback PCMs and the cards (with mixers), for `talkbox devices`."""
    cards = tuple(alsaaudio.cards())
    mixers: dict[str, tuple[str, ...]] = {}
    for card in cards:
        try:
            mixers[card] = tuple(alsaaudio.mixers(device=f"hw:CARD={card}"))
        except alsaaudio.ALSAAudioError:
            mixers[card] = ()
    return DeviceList(
        capture=tuple(alsaaudio.pcms(alsaaudio.PCM_CAPTURE)),
        playback=tuple(alsaaudio.pcms(alsaaudio.PCM_PLAYBACK)),
        cards=cards,
        mixers=mixers,
    )
