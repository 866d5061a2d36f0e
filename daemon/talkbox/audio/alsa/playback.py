"""The ALSA playback thread: the speaker, fed from a duration-bounded queue, never blocking.

    async with AlsaPlayback(PlaybackOptions(device="default")) as speaker:
        speaker.play(pcm)                   # 24 kHz answer audio; returns at once
        played_whole = await speaker.finished()
        speaker.flush()                     # barge-in: pcm.drop() within one period

The thread writes period-sized chunks, resampled to the device's rate, each stretch of sound
faded in and out: its `Writer` (writer.py) does that on each open PCM; this module keeps the
queue, the volume and the device.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import alsaaudio

from talkbox.audio.alsa.cards import open_mixer
from talkbox.audio.alsa.pcm import (
    DeviceThread,
    Opened,
    Pcm,
    PcmOpener,
    alsa_problem,
    open_alsa_pcm,
)
from talkbox.audio.alsa.writer import (
    Chunk,
    Mark,
    PlayCounters,
    PlayQueue,
    Writer,
    WriterSide,
    settle,
)
from talkbox.audio.devices import (
    PlaybackOptions,
    PlaybackStats,
    StatusCallback,
)
from talkbox.audio.format import ANSWER_RATE_HZ, SAMPLE_BYTES
from talkbox.audio.frames import (
    EarconWindows,
    Tone,
    synthesize_earcon,
    volume_to_gain,
)
from talkbox.audio.reference import PlayedAudio
from talkbox.errors import AudioDeviceError

log = logging.getLogger(__name__)


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
        self._queue = PlayQueue()
        self._counters = PlayCounters()
        self._mixer: Any = None
        self._mixer_lock = threading.Lock()
        self._volume = options.volume
        self._gain = 1.0 if options.mixer else volume_to_gain(options.volume)
        self._earcon_pcm = {
            kind: synthesize_earcon(kind, ANSWER_RATE_HZ, fade_ms=options.fade_ms) for kind in Tone
        }
        self._refused_s = 0.0
        self._refusing = False
        self._side = WriterSide(
            device=self.device,
            options=options,
            queue=self._queue,
            counters=self._counters,
            stopping=self._stopping,
            gain=lambda: self._gain,
            earcon_windows=earcons,
            reference=reference,
            failed=self._failed,
            settle_later=self._settle_later,
        )

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
        with self._queue.cond:
            self._queue.items.append(Mark(future, self._queue.generation))
            self._queue.cond.notify()
        return future

    def finish(self, done: Callable[[], None]) -> None:
        """Call `done` on the loop once all audio queued so far has played (not if flushed)."""

        def played(future: asyncio.Future[bool]) -> None:
            if not future.cancelled() and future.result():
                done()

        self.finished().add_done_callback(played)

    def flush(self) -> None:
        """Drop all queued and buffered audio at once (barge-in); later audio plays normally."""
        with self._queue.cond:
            self._queue.generation += 1
            marks = [item for item in self._queue.items if isinstance(item, Mark)]
            self._queue.items.clear()
            self._queue.queued_s = 0.0
            self._queue.flush_requested_at = time.monotonic()
            self._queue.cond.notify()
        for mark in marks:
            settle(mark.future, False)

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
        with self._queue.cond:
            queued = self._queue.queued_s
        return PlaybackStats(
            written_s=self._counters.written_s,
            queued_s=queued,
            refused_s=self._refused_s,
            underruns=self._counters.underruns,
            flushes=self._counters.flushes,
            last_flush_s=self._counters.last_flush_s,
            last_flush_wait_s=self._counters.last_flush_wait_s,
            reopens=self.reopens,
        )

    def _enqueue(self, pcm: bytes, rate_hz: int, *, earcon: bool) -> bool:
        if len(pcm) % SAMPLE_BYTES:
            raise ValueError(f"16-bit PCM must have an even byte count, got {len(pcm)}")
        if not pcm:
            return True
        duration = len(pcm) / (SAMPLE_BYTES * rate_hz)
        with self._queue.cond:
            if self._queue.queued_s + duration > self.options.max_queue_s:
                self._refused_s += duration
                refused, warn = True, not self._refusing
                self._refusing = True
            else:
                self._queue.items.append(Chunk(pcm, rate_hz, earcon, self._queue.generation))
                self._queue.queued_s += duration
                self._queue.cond.notify()
                refused = warn = self._refusing = False
        if warn:
            log.warning(
                "playback queue full (%.0f s ahead of the speaker): audio dropped until it drains",
                self.options.max_queue_s,
            )
        return not refused

    def _wake(self) -> None:
        with self._queue.cond:
            self._queue.cond.notify()

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
        writer = Writer(self._side, pcm, opened)
        try:
            writer.run()
        finally:
            # The mixer belongs to the card: opened again with the device when it is back.
            self._close_mixer()
            # The device failed (or we stop): what was queued for it is stale by the time it
            # is back, and whoever waits for it to be played must hear that it was not.
            with self._queue.cond:
                marks = [m for m in self._queue.items if isinstance(m, Mark)] + writer.segment.marks
                self._queue.items.clear()
                self._queue.queued_s = 0.0
            for mark in marks:
                self._settle_later(mark.future, False)

    def _settle_later(self, future: asyncio.Future[bool], played: bool) -> None:
        self._post(settle, future, played)
