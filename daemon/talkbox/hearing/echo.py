"""Echo cancellation: the box hears the person, not itself (docs/echo-cancellation.md).

The engine is speex's MDF adaptive filter with its echo-aware preprocessor, from Debian's
libspeexdsp1 through ctypes (this module is its only user). It is fed 10 ms at a time: the
microphone and the reference (what the speaker played at that moment, from
`talkbox.audio.reference.PlayedAudio`), and gives back the microphone without the echo:

    canceller = RoomEchoCanceller(played, EchoOptions())
    clean = canceller.cancel(frame.pcm, frame.captured_at)   # 20 ms in, 20 ms out

speex takes no delay: the reference must reach it no later than its echo reaches the mic,
and the echo must end within the filter's length after it. `RoomEchoCanceller` takes the
reference that played `lead_ms` after the frame was captured, so a few milliseconds of
timing error on either device never make it late (docs/echo-cancellation.md §3); what the
lead costs is a part of the filter's length.

While nothing plays (the reference is silent) the frames pass through untouched and speex
is not called: the canceller costs nothing when the box is quiet and cannot change how the
person sounds in an ordinary turn. It starts again, from its last filter, with the next
sound; after `idle_reset_s` of silence it starts from scratch (the box may have moved).
"""

from __future__ import annotations

import ctypes
import logging
import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from talkbox.audio.format import INPUT_RATE_HZ, SAMPLE_BYTES
from talkbox.errors import ConfigError

log = logging.getLogger(__name__)

SETTING = "TALKBOX_ECHO_CANCEL"
CHUNK_SAMPLES = INPUT_RATE_HZ // 100
"""speex works on 10 ms (160 samples at 16 kHz)."""
CHUNK_BYTES = CHUNK_SAMPLES * SAMPLE_BYTES
REALIGN_S = 0.008
"""Frames read this much later than the running count says, for a second, realign it."""
FRAME_S = 0.02
TRACK_S = 3.0
"""The stretch of microphone and reference the delay tracker compares ..."""
TRACK_EVERY = 50
"""... every this many frames (one second)."""
EARLY_FRAMES, LATE_FRAMES = 3, 30
"""The lags it tries, in 20 ms frames: from 60 ms early to 600 ms late."""
TRACK_CORRELATION = 0.6
"""The envelopes' correlation an estimate needs."""
TARGET_FRAMES = 1
"""Where a moved reference puts the echo: this many frames into the filter."""
QUIET_SAMPLE = 8
"""A reference no louder than this (-72 dBFS: dither, a resampler's ringing) is silence."""
SETTLED_DB = 20.0
"""Echo removed over a second that counts as the filter having learnt the room."""
SETTLE_FLOOR = (32768 * 10 ** (-50 / 20)) ** 2
"""... judged on the frames louder than -50 dBFS (mean square of samples) ..."""
SETTLE_LOUD_SHARE = 0.6
"""... when they are at least this share of the second."""
EARLIER_S = 0.001
"""... and one read this much earlier (the count was late: readings are never early)."""
LIBRARY = "libspeexdsp.so.1"
"""Debian's libspeexdsp1 (speexdsp 1.2.1, BSD-3-Clause; arm64 and armhf builds too)."""

# speex_echo.h and speex_preprocess.h (speexdsp 1.2.1).
SPEEX_ECHO_SET_SAMPLING_RATE = 24
SPEEX_PREPROCESS_SET_DENOISE = 0
SPEEX_PREPROCESS_SET_NOISE_SUPPRESS = 18
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS = 20
SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 22
SPEEX_PREPROCESS_SET_ECHO_STATE = 24


class EchoCancelMode(StrEnum):
    """What cancels the speaker's echo (TALKBOX_ECHO_CANCEL)."""

    AUTO = "auto"
    """talkbox does, in software, with what the speaker played as the reference."""
    OFF = "off"
    """Nothing does: the box hears itself (as before echo cancellation)."""
    HARDWARE = "hardware"
    """The sound card or speakerphone does; the microphone passes through unchanged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoOptions:
    """How the canceller runs (the defaults are what benchmarks/echo.py measured best)."""

    filter_ms: int = 200
    """How long an echo the adaptive filter covers, the lead included (50-1000)."""
    lead_ms: int = 10
    """The reference is taken this much later than the frame: never late, by this margin."""
    echo_suppress_db: int = -40
    """The most the preprocessor takes away from residual echo (speex's default)."""
    echo_suppress_active_db: int = -15
    """... while the person speaks over it (speex's default)."""
    noise_suppress_db: int = -15
    """The preprocessor's own noise suppression, which its echo suppressor rides on."""
    idle_reset_s: float = 30.0
    """After this long without sound from the speaker the filter starts afresh."""

    def __post_init__(self) -> None:
        """Refuse values speex cannot work with."""
        checks = {
            "filter_ms": (self.filter_ms, 50, 1000),
            "lead_ms": (self.lead_ms, 0, 100),
            "echo_suppress_db": (self.echo_suppress_db, -90, 0),
            "echo_suppress_active_db": (self.echo_suppress_active_db, -90, 0),
            "noise_suppress_db": (self.noise_suppress_db, -90, 0),
            "idle_reset_s": (self.idle_reset_s, 1.0, 3600.0),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, not {value}")
        if self.lead_ms >= self.filter_ms:
            raise ValueError(f"the lead ({self.lead_ms} ms) must be shorter than the filter")


class Reference(Protocol):
    """Where the canceller finds what the speaker played (`talkbox.audio.reference`)."""

    def index(self, at: float) -> int:
        """The timeline index (16 kHz samples) of the monotonic moment `at`."""
        ...

    def span(self, end: int, samples: int) -> bytes:
        """The `samples` (16 kHz) that played up to the timeline index `end`; zeros if none."""
        ...


def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as err:
        raise ConfigError(
            [
                f"{SETTING}: libspeexdsp cannot be loaded ({err}); install it "
                "(sudo apt-get install libspeexdsp1), or set TALKBOX_ECHO_CANCEL=off"
            ]
        ) from err
    pointer, short_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16)
    lib.speex_echo_state_init.restype = pointer
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_state_destroy.argtypes = [pointer]
    lib.speex_echo_state_reset.argtypes = [pointer]
    lib.speex_echo_ctl.argtypes = [pointer, ctypes.c_int, pointer]
    lib.speex_echo_cancellation.argtypes = [pointer, short_p, short_p, short_p]
    lib.speex_preprocess_state_init.restype = pointer
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_state_destroy.argtypes = [pointer]
    lib.speex_preprocess_ctl.argtypes = [pointer, ctypes.c_int, pointer]
    lib.speex_preprocess_run.argtypes = [pointer, short_p]
    return lib


class SpeexEcho:
    """speex's MDF echo canceller and echo-aware preprocessor on 16 kHz mono S16_LE."""

    def __init__(self, options: EchoOptions) -> None:
        """Load libspeexdsp (a ConfigError if it is missing) and make the two states."""
        self.options = options
        self._lib = _library()
        self.taps = options.filter_ms * INPUT_RATE_HZ // 1000
        """The filter's length in samples."""
        self._echo: int | None = None
        self._pre: int | None = None
        self._out = (ctypes.c_int16 * CHUNK_SAMPLES)()
        self._make()

    def _ctl(self, call: str, state: int | None, request: int, value: int) -> None:
        number = ctypes.c_int(value)
        getattr(self._lib, call)(state, request, ctypes.byref(number))

    def _make(self) -> None:
        lib, o = self._lib, self.options
        self._echo = lib.speex_echo_state_init(CHUNK_SAMPLES, self.taps)
        self._pre = lib.speex_preprocess_state_init(CHUNK_SAMPLES, INPUT_RATE_HZ)
        if not self._echo or not self._pre:
            raise MemoryError("speex could not make its echo canceller")
        # Without the rate speex runs as at 8 kHz (docs/echo-cancellation.md §2).
        self._ctl("speex_echo_ctl", self._echo, SPEEX_ECHO_SET_SAMPLING_RATE, INPUT_RATE_HZ)
        lib.speex_preprocess_ctl(self._pre, SPEEX_PREPROCESS_SET_ECHO_STATE, self._echo)
        pre = "speex_preprocess_ctl"
        self._ctl(pre, self._pre, SPEEX_PREPROCESS_SET_DENOISE, 1)
        self._ctl(pre, self._pre, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, o.noise_suppress_db)
        self._ctl(pre, self._pre, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, o.echo_suppress_db)
        self._ctl(
            pre, self._pre, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, o.echo_suppress_active_db
        )

    def process(self, mic: bytes, reference: bytes) -> bytes:
        """`mic` without the echo of `reference` (equal lengths, whole 10 ms chunks)."""
        if len(mic) != len(reference) or len(mic) % CHUNK_BYTES:
            raise ValueError(f"mic and reference must be equal whole {CHUNK_BYTES}-byte chunks")
        if self._echo is None:
            raise RuntimeError("the echo canceller is closed")
        lib, out = self._lib, self._out
        short_p = ctypes.POINTER(ctypes.c_int16)
        pieces = []
        for start in range(0, len(mic), CHUNK_BYTES):
            rec = (ctypes.c_int16 * CHUNK_SAMPLES).from_buffer_copy(mic, start)
            play = (ctypes.c_int16 * CHUNK_SAMPLES).from_buffer_copy(reference, start)
            lib.speex_echo_cancellation(
                self._echo, ctypes.cast(rec, short_p), ctypes.cast(play, short_p), out
            )
            lib.speex_preprocess_run(self._pre, out)
            pieces.append(bytes(out))
        return b"".join(pieces)

    def reset(self) -> None:
        """Forget the room: the filter and the preprocessor start again."""
        self.close()
        self._make()

    def close(self) -> None:
        """Free speex's states."""
        if self._echo is not None:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None
        if self._pre is not None:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None


class RoomEchoCanceller:
    """The `EchoCanceller` port: microphone frames without what the speaker played into them."""

    def __init__(self, reference: Reference, options: EchoOptions) -> None:
        """Cancel against `reference` with speex (a ConfigError if libspeexdsp is missing)."""
        self.reference = reference
        self.options = options
        self.engine = SpeexEcho(options)
        self._lead_s = options.lead_ms / 1000
        self._quiet_s = math.inf
        self._active = False
        self._next: int | None = None
        self._offsets: deque[int] = deque(maxlen=round(1 / FRAME_S))
        self._envelope: deque[float] = deque(maxlen=round(TRACK_S / FRAME_S))
        self._since_track = 0
        self._candidate: int | None = None
        self._extra = 0
        """Samples the echo comes later than ALSA's delays say (found by `_track`)."""
        self.moved = 0
        """How often the tracker moved the reference."""
        self._heard: deque[float] = deque(maxlen=round(1 / FRAME_S))
        self._left: deque[float] = deque(maxlen=round(1 / FRAME_S))
        self.settled = False
        """The filter is taking the echo away (SETTLED_DB over a second) since the speaker last
        fell silent: the VAD may judge speech over the answer (BARGE_IN=voice)."""
        """Where the next frame's reference ends, on the reference's timeline."""
        self.realigned = 0
        """How often the frames' clock readings left the running count (gaps, drift)."""
        self.frames = 0
        """Frames that went through speex (the others passed while nothing played)."""

    def cancel(self, pcm: bytes, captured_at: float) -> bytes:
        """One 20 ms frame (16 kHz) whose last sample was captured at `captured_at`."""
        samples = len(pcm) // SAMPLE_BYTES
        # Frames follow one another sample by sample: counted, not read off the clock each
        # time, or its jitter would tear the reference speex learns from. A reading can only
        # be late (the thread woke after the samples came, or read a backlog), so the count
        # follows a reading earlier than itself at once (else the reference could be late),
        # and later readings only when a whole second of them were (an overrun, a frame
        # dropped, a device clock slower than ours), by the least of them.
        measured = self.reference.index(captured_at + self._lead_s)
        end = self._next
        if end is None:
            end = measured
        elif measured < end - EARLIER_S * INPUT_RATE_HZ:
            end = measured
            self._offsets.clear()
            self.realigned += 1
            self._unsettle()
        else:
            self._offsets.append(measured - end)
            if len(self._offsets) == self._offsets.maxlen:
                least = min(self._offsets)
                if least > REALIGN_S * INPUT_RATE_HZ:
                    end += least
                    self.realigned += 1
                    self._unsettle()
                self._offsets.clear()
        self._next = end + samples
        self._envelope.append(math.sqrt(_energy(pcm)))
        self._since_track += 1
        if self._since_track >= TRACK_EVERY:
            self._since_track = 0
            self._track(end, samples)
        end -= self._extra
        # The filter's memory reaches back one filter length: while any of it is sound, the
        # echo may still be ringing, and speex must hear the silence that follows it too.
        recent = self.reference.span(end, self.engine.taps + samples)
        if np.max(np.abs(np.frombuffer(recent, dtype="<i2")), initial=0) <= QUIET_SAMPLE:
            self._quiet_s += samples / INPUT_RATE_HZ
            # Nothing played for a filter's length, yet the answer may still be heard (an echo
            # later than ALSA says): whatever comes through untouched is not to be trusted.
            self._unsettle()
            if self._active and self._quiet_s >= self.options.idle_reset_s:
                self.engine.reset()
                self._active = False
            return pcm
        self._quiet_s = 0.0
        self._active = True
        self.frames += 1
        out = self.engine.process(pcm, recent[-len(pcm) :])
        if not self.settled:
            self._judge(pcm, out)
        return out

    def _track(self, end: int, samples: int) -> None:
        """Find the echo by the envelopes; move the reference if the filter cannot reach it.

        What ALSA reports leaves out the converters, USB and, on the stand-ins, a FIFO whose
        fill wanders: an echo later than the filter, or earlier than the reference, is not
        cancelled at all. The envelopes of the microphone and the reference (20 ms frames)
        are correlated at lags from -EARLY_FRAMES to +LATE_FRAMES; two estimates in a row
        that agree, clearly correlated, outside what the filter reaches, move the reference
        so the echo comes TARGET_FRAMES into the filter (docs/echo-cancellation.md §3).
        """
        n = len(self._envelope)
        if n < (self._envelope.maxlen or 0):
            return
        lags = EARLY_FRAMES + LATE_FRAMES
        ref = np.frombuffer(
            self.reference.span(end - self._extra + EARLY_FRAMES * samples, (n + lags) * samples),
            dtype="<i2",
        ).astype(np.float64)
        ref_env = np.sqrt(np.mean(ref.reshape(n + lags, samples) ** 2, axis=1))
        mic = np.asarray(self._envelope) - float(np.mean(self._envelope))
        best, best_lag = 0.0, 0
        for lag in range(-EARLY_FRAMES, LATE_FRAMES + 1):
            start = LATE_FRAMES - lag
            r = ref_env[start : start + n]
            r = r - float(np.mean(r))
            norm = float(np.linalg.norm(mic) * np.linalg.norm(r))
            if norm > 0.0:
                c = float(np.dot(mic, r)) / norm
                if c > best:
                    best, best_lag = c, lag
        if best < TRACK_CORRELATION:
            self._candidate = None
            return
        reach = (self.options.filter_ms - self.options.lead_ms) // 20 - 2
        if 0 <= best_lag <= reach:
            self._candidate = None
            return
        if self._candidate is None or abs(self._candidate - best_lag) > 1:
            self._candidate = best_lag
            return
        self._candidate = None
        self._extra += (best_lag - TARGET_FRAMES) * samples
        self.moved += 1
        self._unsettle()

    def _unsettle(self) -> None:
        self.settled = False
        self._heard.clear()
        self._left.clear()

    def _judge(self, mic: bytes, out: bytes) -> None:
        # The echo removed over the loud frames (the echo, not the pauses) of the last second,
        # most of which must be loud. Once settled it stays so until the next answer or a
        # realignment: the person talking over the answer must not unsettle it.
        self._heard.append(_energy(mic))
        self._left.append(_energy(out))
        if len(self._heard) < (self._heard.maxlen or 0):
            return
        loud = [(h, o) for h, o in zip(self._heard, self._left, strict=True) if h >= SETTLE_FLOOR]
        if len(loud) < SETTLE_LOUD_SHARE * len(self._heard):
            return
        heard, left = sum(h for h, _ in loud), sum(o for _, o in loud)
        if heard >= left * 10 ** (SETTLED_DB / 10):
            self.settled = True

    def reset(self) -> None:
        """Forget the room (a new stream)."""
        self.engine.reset()
        self._active = False
        self._next = None
        self._offsets.clear()
        self._envelope.clear()
        self._extra = 0
        self._unsettle()

    def close(self) -> None:
        """Free speex's states."""
        self.engine.close()


def _energy(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.mean(samples * samples)) if samples.size else 0.0


def echo_canceller(
    mode: EchoCancelMode, reference: Reference, options: EchoOptions | None = None
) -> RoomEchoCanceller | None:
    """The canceller TALKBOX_ECHO_CANCEL asks for, or None (off, hardware, or no libspeexdsp)."""
    if mode is not EchoCancelMode.AUTO:
        hardware = mode is EchoCancelMode.HARDWARE
        log.info("echo cancellation: %s", "the sound card's" if hardware else "off")
        return None
    try:
        canceller = RoomEchoCanceller(reference, options or EchoOptions())
    except ConfigError as err:
        # auto is the best this box has: without the library the box still works, deaf to
        # the wake word over its own answer as before, and says so once.
        log.warning("echo cancellation is off: %s", "; ".join(err.problems))
        return None
    chosen = canceller.options
    log.info(
        "echo cancellation: speex, %d ms filter, reference %d ms early",
        chosen.filter_ms,
        chosen.lead_ms,
    )
    return canceller
