"""The playback thread's writer: queued audio to one open PCM, paced, faded, flushable.

`AlsaPlayback` (playback.py) owns the queue and the device; the `Writer` it builds on each
open sees only its `WriterSide`: the queue both threads share, the counters it keeps, and
four calls back. Underruns (write -32: the chunk is written again) are counted and logged at
debug; a sound that ran dry is one INFO line.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import alsaaudio

from talkbox.audio.alsa.pcm import EBADFD, EPIPE, Opened, Pcm
from talkbox.audio.devices import PlaybackOptions, device_error
from talkbox.audio.format import ANSWER_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.frames import (
    EarconWindows,
    Resampler,
    apply_gain,
    fade_in,
    fade_out,
    fade_samples,
    silence,
    to_channels,
)
from talkbox.audio.reference import PlayedAudio
from talkbox.errors import AudioDeviceError

log = logging.getLogger("talkbox.audio.alsa.playback")
"""The speaker's lines keep the logger they have always had."""


@dataclass(slots=True)
class Chunk:
    """Audio queued for the speaker, and the flush generation it was queued in."""

    pcm: bytes
    rate_hz: int
    earcon: bool
    generation: int


@dataclass(slots=True)
class Mark:
    """A caller waiting until everything queued before it has played."""

    future: asyncio.Future[bool]
    generation: int
    done_at: float = 0.0


@dataclass(slots=True)
class Segment:
    """One stretch of continuous sound on the device: faded in, faded out at its end."""

    held: bytes = b""
    """The last `fade` samples, held back until we know whether the sound goes on."""
    open: bool = False
    idle_dropped: bool = True
    drained_at: float = 0.0
    marks: list[Mark] = field(default_factory=list)
    underruns: int = 0
    """Times the device ran dry during this stretch (each a gap the listener heard)."""


@dataclass
class PlayQueue:
    """What the caller's side and the playback thread share, under `cond`."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    items: collections.deque[Chunk | Mark] = field(default_factory=collections.deque)
    queued_s: float = 0.0
    generation: int = 0
    """Raised by each flush: what was queued before it is not played."""
    flush_requested_at: float | None = None


@dataclass
class PlayCounters:
    """What the playback thread counts for `AlsaPlayback.stats`."""

    written_s: float = 0.0
    underruns: int = 0
    flushes: int = 0
    last_flush_s: float | None = None
    last_flush_wait_s: float | None = None


@dataclass
class WriterSide:
    """The speaker as its writer sees it: the shared queue, the counters, four calls back."""

    device: str
    options: PlaybackOptions
    queue: PlayQueue
    counters: PlayCounters
    stopping: threading.Event
    gain: Callable[[], float]
    """The software gain now (a volume change applies from the next chunk)."""
    earcon_windows: EarconWindows | None
    reference: PlayedAudio | None
    """Told what is written to the device and when it plays: the echo canceller's."""
    failed: Callable[[alsaaudio.ALSAAudioError], AudioDeviceError]
    settle_later: Callable[[asyncio.Future[bool], bool], None]
    """Settle a mark's future on the event loop: True played, False flushed or failed."""


def settle(future: asyncio.Future[bool], played: bool) -> None:
    """Resolve a mark's future once (on the loop)."""
    if not future.done():
        future.set_result(played)


class Writer:
    """The playback thread's work on one open PCM (rebuilt on each reopen)."""

    def __init__(self, side: WriterSide, pcm: Pcm, opened: Opened) -> None:
        self.side = side
        self.pcm = pcm
        self.opened = opened
        self.rate = opened.rate_hz
        self.generation = side.queue.generation
        self.fade = fade_samples(self.rate, side.options.fade_ms)
        self.lead_in = silence(fade_samples(self.rate, side.options.lead_in_ms))
        self.period_bytes = opened.period_frames * SAMPLE_BYTES
        self.period_s = opened.period_frames / self.rate
        self.resample = Resampler(ANSWER_RATE_HZ, self.rate)
        self.segment = Segment()
        self.plays_until = 0.0
        """When what has been written will have played, if the device keeps real time."""

    def run(self) -> None:
        """Play what is queued until stopping; a device failure raises AudioDeviceError."""
        side = self.side
        while not side.stopping.is_set():
            item = self._next()
            if side.stopping.is_set():
                return
            if side.queue.generation != self.generation:
                self._flush()
            elif isinstance(item, Chunk):
                self._play(item)
            elif isinstance(item, Mark):
                self._mark(item)
            else:
                self._idle()

    def _next(self) -> Chunk | Mark | None:
        queue = self.side.queue
        with queue.cond:
            if not queue.items and queue.generation == self.generation:
                queue.cond.wait(self._idle_wait())
            if queue.generation != self.generation or not queue.items:
                return None
            item = queue.items.popleft()
            if isinstance(item, Chunk):
                queue.queued_s = max(0.0, queue.queued_s - len(item.pcm) / (2 * item.rate_hz))
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
            avail = self.pcm.avail()
        except alsaaudio.ALSAAudioError:
            avail = self.opened.buffer_frames
        if avail < 0:
            avail = self._stream_not_running(avail)
        in_ring = max(0, self.opened.buffer_frames - avail) / self.rate
        return max(in_ring, self.plays_until - time.monotonic())

    def _stream_not_running(self, errno: int) -> int:
        """What a negative `avail()` means: an empty buffer, or a device that failed.

        pyalsaaudio 0.11 returns snd_pcm_avail()'s -errno instead of raising
        (docs/platform.md §1.3): -EBADFD after drop() (state SETUP) and -EPIPE after an
        underrun (state XRUN). Either way nothing is buffered, and the next write()
        prepares the stream again. Anything else (-ENODEV unplugged, -ESTRPIPE suspended)
        is the device failing: reopen it.
        """
        if -errno in (EPIPE, EBADFD):
            return self.opened.buffer_frames
        problem = os.strerror(-errno) if -errno > 0 else f"avail() returned {errno}"
        raise device_error("playback", self.side.device, problem)

    def _device_pcm(self, chunk: Chunk) -> bytes:
        if chunk.rate_hz != self.resample.in_rate_hz:
            self.resample = Resampler(chunk.rate_hz, self.rate)
        return apply_gain(self.resample.process(chunk.pcm), self.side.gain())

    def _play(self, chunk: Chunk) -> None:
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
        if chunk.earcon and self.side.earcon_windows is not None:
            start = time.monotonic() + self._buffered_s()
            self.side.earcon_windows.add(start, start + len(data) / (SAMPLE_BYTES * self.rate))
        self._write(body)

    def _end_segment(self) -> None:
        segment = self.segment
        if not segment.open:
            return
        tail = segment.held + apply_gain(self.resample.flush(), self.side.gain())
        segment.held = b""
        segment.open = False
        self._write(fade_out(tail, self.fade))
        segment.drained_at = time.monotonic() + self._buffered_s()
        if segment.underruns:
            # Heard as gaps in the answer: say so once per sound, with the likely reason.
            log.info(
                "the speaker ran dry %d time(s) during this sound on %r: the playback thread "
                "waited longer than the device's %.0f ms buffer (a busy CPU), so it played "
                "with gaps",
                segment.underruns,
                self.side.device,
                self.opened.buffer_frames / self.rate * 1000,
            )
            segment.underruns = 0

    def _mark(self, mark: Mark) -> None:
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
        if not segment.open:
            # Ask the silent device how it is (one avail() per idle wake-up, 0.5 s at most): an
            # unplugged card answers -ENODEV, and the handle is released now, not at the next
            # answer. Held, it keeps the kernel from freeing the card (a booted VM showed it).
            self._buffered_s()

    def _settle_due(self) -> None:
        now = time.monotonic()
        due = [m for m in self.segment.marks if m.done_at <= now]
        self.segment.marks = [m for m in self.segment.marks if m.done_at > now]
        for mark in due:
            self.side.settle_later(mark.future, mark.generation == self.side.queue.generation)

    def _flush(self) -> None:
        side = self.side
        dropping = time.monotonic()
        self._drop()
        with side.queue.cond:
            self.generation = side.queue.generation
            requested = side.queue.flush_requested_at
        if requested is not None:
            side.counters.last_flush_wait_s = dropping - requested
            side.counters.last_flush_s = time.monotonic() - requested
        side.counters.flushes += 1
        self.resample.reset()
        marks = self.segment.marks
        self.segment = Segment()
        for mark in marks:
            side.settle_later(mark.future, False)

    def _drop(self) -> None:
        try:
            self.pcm.drop()
        except alsaaudio.ALSAAudioError as err:
            raise self.side.failed(err) from err
        self.plays_until = time.monotonic()
        if self.side.reference is not None:
            self.side.reference.dropped(self.plays_until)

    def _wait_for_room(self) -> bool:
        """Wait until the device's buffer has room; False if flushed or stopping meanwhile.

        A write into a full buffer blocks in ALSA, deaf to a flush until it returns; waiting
        here instead, on the condition flush() notifies, lets a barge-in drop() at once. The
        next period is written once what is ahead of the speaker is at most a buffer, so a
        write blocks for at most one period and the device never runs dry (a `file` plugin
        also writes its file only once its buffer is full: the answer's start is not held).
        """
        side = self.side
        limit = self.opened.buffer_frames / self.rate
        with side.queue.cond:
            while True:
                if side.queue.generation != self.generation or side.stopping.is_set():
                    return False
                ahead = self._buffered_s()
                if ahead <= limit:
                    return True
                side.queue.cond.wait(ahead - limit)

    def _write(self, data: bytes, *, count: bool = True) -> None:
        side = self.side
        channels = self.opened.channels
        for start in range(0, len(data), self.period_bytes):
            if not self._wait_for_room():
                return  # flushed or stopping: the rest is not wanted
            mono = data[start : start + self.period_bytes]
            reference = side.reference
            if reference is not None:
                # Exactly what the device gets, and when it leaves the speaker: after what
                # ALSA still holds ahead of it (docs/echo-cancellation.md §3).
                reference.played(mono, time.monotonic() + self._buffered_s(), self.rate)
            piece = to_channels(mono, channels)
            frame_size = SAMPLE_BYTES * channels
            while piece:
                try:
                    written = self.pcm.write(piece)
                except alsaaudio.ALSAAudioError as err:
                    raise side.failed(err) from err
                if written == -EPIPE:
                    # The data was not written; pyalsaaudio re-prepared the stream: again.
                    side.counters.underruns += 1
                    self.segment.underruns += 1
                    log.debug(
                        "playback underrun on %r (%d so far)", side.device, side.counters.underruns
                    )
                    continue
                if written <= 0:
                    continue
                piece = piece[written * frame_size :]
            seconds = min(self.period_bytes, len(data) - start) / (SAMPLE_BYTES * self.rate)
            self.plays_until = max(self.plays_until, time.monotonic()) + seconds
            if count:
                side.counters.written_s += seconds
