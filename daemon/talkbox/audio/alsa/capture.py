"""The ALSA capture thread: the microphone as exact 20 ms 16 kHz frames on the event loop.

    async with AlsaCapture(CaptureOptions(device="plughw:CARD=Device,DEV=0")) as mic:
        frame = await mic.read()            # 20 ms, 16 kHz, exactly 640 bytes
        more = mic.ready()                  # the frames already captured, without waiting

The thread reads period-sized chunks, resamples them when the device runs at another rate,
re-frames them and hands them over through a bounded queue that drops the oldest frame when
full. A waiting reader is woken once per `batch` frames (60 ms by default): each wake-up of
the event loop costs more than the frames it carries, and a reader that must not wait for the
rest of a batch (a button released) takes it with `ready()`. Instead of a task waiting
in `read()`, a reader may ask to be called (`on_ready`): one callback per batch, no task hop.
Overruns (read -32) are counted and logged at debug.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable

import alsaaudio

from talkbox.audio.alsa.pcm import EPIPE, DeviceThread, Opened, Pcm, PcmOpener, open_alsa_pcm
from talkbox.audio.devices import CaptureOptions, CaptureStats, StatusCallback
from talkbox.audio.format import INPUT_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.frames import (
    EarconWindows,
    Frame,
    Reframer,
    Resampler,
    apply_gain,
    db_to_gain,
    first_channel,
    frame_bytes,
)

log = logging.getLogger(__name__)


class _FrameQueue:
    """Thread → event loop, bounded; when full the oldest frame is dropped and counted."""

    def __init__(self, maxlen: int, batch: int = 1) -> None:
        self._frames: collections.deque[Frame] = collections.deque()
        self._maxlen = maxlen
        self._batch = batch
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.listener: Callable[[], None] | None = None
        """Called on the loop when a batch is ready (once until the frames are taken)."""
        self._told = False
        self.dropped = 0

    def put(self, frame: Frame, post: Callable[..., None]) -> None:
        with self._lock:
            if len(self._frames) >= self._maxlen:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(frame)
            if len(self._frames) < self._batch:
                return
            waiter, self._waiter = self._waiter, None
            listener = None if self._told else self.listener
            if listener is not None:
                self._told = True
        if waiter is not None:
            post(_wake_future, waiter)
        if listener is not None:
            post(listener)

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

    def take_all(self) -> list[Frame]:
        with self._lock:
            frames = list(self._frames)
            self._frames.clear()
            self._told = False
            return frames

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AlsaCapture(DeviceThread):
    """The microphone: a thread reads ALSA and hands exact 20 ms 16 kHz frames to the loop."""

    def __init__(
        self,
        options: CaptureOptions,
        *,
        earcons: EarconWindows | None = None,
        on_status: StatusCallback | None = None,
        open_pcm: PcmOpener = open_alsa_pcm,
    ) -> None:
        super().__init__("capture", options, on_status=on_status, open_pcm=open_pcm)
        self.options = options
        self._earcons = earcons
        self._gain = db_to_gain(options.gain_db)
        self._queue = _FrameQueue(
            max(1, round(options.queue_s * 1000 / options.period_ms)), options.batch
        )
        self._frames = 0
        self._overruns = 0

    async def read(self) -> Frame:
        """The next frame; waits (for a whole batch) while none is ready."""
        return await self._queue.get()

    def ready(self) -> list[Frame]:
        """Every frame captured and not yet read, taken at once (never waits)."""
        return self._queue.take_all()

    def on_ready(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` on the loop when a batch is ready, once until `ready()`."""
        self._queue.listener = callback

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

    @staticmethod
    def _waiting_s(pcm: Pcm, opened: Opened) -> float:
        """How much newer audio is already waiting in the device's buffer after a read.

        What was just read came that long ago (the echo canceller aligns by it). A full
        buffer is no answer: plugins without a clock (file over null) always say so, and a
        real card at that point overruns.
        """
        try:
            waiting = pcm.avail()
        except alsaaudio.ALSAAudioError:
            return 0.0
        if not 0 < waiting < opened.buffer_frames:
            return 0.0
        return waiting / opened.rate_hz

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
            now = time.monotonic() - self._waiting_s(pcm, opened)
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
