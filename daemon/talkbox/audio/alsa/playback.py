"""The ALSA playback thread: the speaker, fed from a duration-bounded queue, never blocking.

    async with AlsaPlayback(PlaybackOptions(device="default")) as speaker:
        speaker.play(pcm)                   # 24 kHz answer audio; returns at once
        played_whole = await speaker.finished()
        speaker.flush()                     # barge-in: pcm.drop() within one period

The thread writes period-sized chunks, resampled to the device's rate, each stretch of sound
faded in and out. Underruns (write -32: the chunk is written again) are counted and logged
at debug.
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
from typing import Any

import alsaaudio

from talkbox.audio.alsa.cards import open_mixer
from talkbox.audio.alsa.pcm import (
    EBADFD,
    EPIPE,
    DeviceThread,
    Opened,
    Pcm,
    PcmOpener,
    alsa_problem,
    open_alsa_pcm,
)
from talkbox.audio.devices import (
    PlaybackOptions,
    PlaybackStats,
    StatusCallback,
    device_error,
)
from talkbox.audio.format import ANSWER_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.frames import (
    EarconWindows,
    Resampler,
    Tone,
    apply_gain,
    fade_in,
    fade_out,
    fade_samples,
    silence,
    synthesize_earcon,
    to_channels,
    volume_to_gain,
)
from talkbox.audio.reference import PlayedAudio
from talkbox.errors import AudioDeviceError

log = logging.getLogger(__name__)


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
    underruns: int = 0
    """Times the device ran dry during this stretch (each a gap the listener heard)."""


class AlsaPlayback(DeviceThread):
    """The speaker: a thread writes queued audio to ALSA; the caller never blocks."""

    def __init__(
        self,
        options: PlaybackOptions,
        *,
        earcons: EarconWindows | None = None,
        reference: PlayedAudio | None = None,
        on_status: StatusCallback | None = None,
        open_pcm: PcmOpener = open_alsa_pcm,
    ) -> None:
        super().__init__("playback", options, on_status=on_status, open_pcm=open_pcm)
        self.options = options
        self._earcon_windows = earcons
        self._reference = reference
        """Told what is written to the device and when it plays: the echo canceller's."""
        self._cond = threading.Condition()
        self._items: collections.deque[_Chunk | _Mark] = collections.deque()
        self._queued_s = 0.0
        self._generation = 0
        self._flush_requested_at: float | None = None
        self._mixer: Any = None
        self._mixer_lock = threading.Lock()
        self._volume = options.volume
        self._gain = 1.0 if options.mixer else volume_to_gain(options.volume)
        self._earcon_pcm = {
            kind: synthesize_earcon(kind, ANSWER_RATE_HZ, fade_ms=options.fade_ms) for kind in Tone
        }
        self._written_s = 0.0
        self._refused_s = 0.0
        self._refusing = False
        self._underruns = 0
        self._flushes = 0
        self._last_flush_s: float | None = None
        self._last_flush_wait_s: float | None = None

    def close(self) -> None:
        """Drop what is queued, stop the thread (within about one period), release the device."""
        self.flush()
        super().close()

    def play(self, pcm: bytes, rate: int = ANSWER_RATE_HZ) -> None:
        """Queue mono S16_LE audio; never blocks.

        Audio beyond `max_queue_s` ahead of the speaker is refused: counted in
        `stats.refused_s`, and logged once as a warning until the queue has room again.
        """
        self._enqueue(pcm, rate, earcon=False)

    def play_earcon(self, kind: Tone) -> bool:
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
        if self.options.mixer:
            with self._mixer_lock:
                # Without an open mixer (its card away) the volume is set when it opens.
                if self._mixer is not None:
                    try:
                        self._mixer.setvolume(percent)
                    except alsaaudio.ALSAAudioError as err:
                        raise AudioDeviceError(
                            f"mixer {self.options.mixer!r} refused the volume: {alsa_problem(err)}"
                        ) from err
                self._volume = percent
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
            last_flush_wait_s=self._last_flush_wait_s,
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
        # The mixer opens with the device, each time: a mixer that is missing (its card not
        # there yet) is a device failure, reported and retried like one.
        rate = self.options.rate_hz or ANSWER_RATE_HZ
        pcm, opened = self._open_at(rate, self.options.period_ms, self.options.periods)
        if self.options.mixer:
            try:
                mixer = open_mixer(self.options.mixer, self.device)
                with self._mixer_lock:
                    self._mixer = mixer
                    mixer.setvolume(self._volume)
            except (AudioDeviceError, alsaaudio.ALSAAudioError) as err:
                # The device is no use without its volume control: a failure like the card's.
                self._close_mixer()
                self._close(pcm)
                if isinstance(err, AudioDeviceError):
                    raise
                raise AudioDeviceError(
                    f"mixer {self.options.mixer!r} refused the volume: {alsa_problem(err)}"
                ) from err
        return pcm, opened

    def _close_mixer(self) -> None:
        with self._mixer_lock:
            mixer, self._mixer = self._mixer, None
        if mixer is not None:
            try:
                mixer.close()
            except alsaaudio.ALSAAudioError as err:
                log.debug("closing mixer %r: %s", self.options.mixer, alsa_problem(err))

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
            # The mixer belongs to the card: opened again with the device when it is back.
            self._close_mixer()
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
        raise device_error("playback", self.owner.device, problem)

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
        if segment.underruns:
            # Heard as gaps in the answer: say so once per sound, with the likely reason.
            log.warning(
                "the speaker ran dry %d time(s) during this sound on %r: the playback thread "
                "waited longer than the device's %.0f ms buffer (a busy CPU), so it played "
                "with gaps",
                segment.underruns,
                self.owner.device,
                self.opened.buffer_frames / self.rate * 1000,
            )
            segment.underruns = 0

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
            self.owner._settle_later(mark.future, mark.generation == self.owner._generation)

    def _flush(self) -> None:
        owner = self.owner
        dropping = time.monotonic()
        self._drop()
        with owner._cond:
            self.generation = owner._generation
            requested = owner._flush_requested_at
        if requested is not None:
            owner._last_flush_wait_s = dropping - requested
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
        if self.owner._reference is not None:
            self.owner._reference.dropped(self.plays_until)

    def _wait_for_room(self) -> bool:
        """Wait until the device's buffer has room; False if flushed or stopping meanwhile.

        A write into a full buffer blocks in ALSA, deaf to a flush until it returns; waiting
        here instead, on the condition flush() notifies, lets a barge-in drop() at once. The
        next period is written once what is ahead of the speaker is at most a buffer, so a
        write blocks for at most one period and the device never runs dry (a `file` plugin
        also writes its file only once its buffer is full: the answer's start is not held).
        """
        owner = self.owner
        limit = self.opened.buffer_frames / self.rate
        with owner._cond:
            while True:
                if owner._generation != self.generation or owner._stopping.is_set():
                    return False
                ahead = self._buffered_s()
                if ahead <= limit:
                    return True
                owner._cond.wait(ahead - limit)

    def _write(self, data: bytes, *, count: bool = True) -> None:
        owner = self.owner
        channels = self.opened.channels
        for start in range(0, len(data), self.period_bytes):
            if not self._wait_for_room():
                return  # flushed or stopping: the rest is not wanted
            mono = data[start : start + self.period_bytes]
            reference = owner._reference
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
                    raise owner._failed(err) from err
                if written == -EPIPE:
                    # The data was not written; pyalsaaudio re-prepared the stream: again.
                    owner._underruns += 1
                    self.segment.underruns += 1
                    log.debug("playback underrun on %r (%d so far)", owner.device, owner._underruns)
                    continue
                if written <= 0:
                    continue
                piece = piece[written * frame_size :]
            seconds = min(self.period_bytes, len(data) - start) / (SAMPLE_BYTES * self.rate)
            self.plays_until = max(self.plays_until, time.monotonic()) + seconds
            if count:
                owner._written_s += seconds
