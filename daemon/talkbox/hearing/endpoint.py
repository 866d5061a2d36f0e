"""Endpointing: where speech starts and where the utterance ends, from per-frame facts.

Pure: `Endpointer.feed(frame_s, is_speech, energy_dbfs)` is fed each frame's duration, the
VAD's verdict and the frame's energy, never a clock, so the same audio always gives the same
decisions (the shape of Home Assistant's `VoiceCommandSegmenter`). The VAD (webrtcvad) calls
steady noise and tones speech, so a frame counts as voiced only when it is also louder than
the energy floor; speech must last VAD_START_MS to start an utterance, and VAD_END_MS of
unvoiced frames end it, so a pause inside a sentence does not.

One utterance per `reset()`: after ENDED, LIMIT or NO_SPEECH the endpointer answers NONE
until it is reset.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    """What one frame decided."""

    NONE = "none"
    """Nothing new."""
    STARTED = "started"
    """Speech started (VAD_START_MS of voiced frames, short gaps bridged)."""
    ENDED = "ended"
    """VAD_END_MS of unvoiced frames followed the speech."""
    LIMIT = "limit"
    """The utterance reached MAX_UTTERANCE_S."""
    NO_SPEECH = "no_speech"
    """No speech started within the no-speech timeout."""


class Phase(StrEnum):
    """Where the endpointer is in its one utterance."""

    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointOptions:
    """The endpointing settings (TALKBOX_* in brackets)."""

    start_ms: int = 200
    """Voiced audio needed to start an utterance (VAD_START_MS)."""
    end_ms: int = 800
    """Unvoiced audio that ends it (VAD_END_MS); above the pauses inside a sentence."""
    min_energy_dbfs: float = -45.0
    """Frames quieter than this are unvoiced whatever the VAD says (VAD_MIN_ENERGY)."""
    max_utterance_s: float = 15.0
    """The longest utterance (MAX_UTTERANCE_S)."""

    def __post_init__(self) -> None:
        """Refuse values no endpointer could work with."""
        checks = {
            "start_ms": (self.start_ms, 20, 2000),
            "end_ms": (self.end_ms, 100, 5000),
            "min_energy_dbfs": (self.min_energy_dbfs, -90.0, -10.0),
            "max_utterance_s": (self.max_utterance_s, 1.0, 120.0),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, not {value}")


class Endpointer:
    """Decides the start and the end of one utterance at a time from per-frame facts."""

    def __init__(self, options: EndpointOptions) -> None:
        """Endpoint with `options`; call `reset()` before each utterance."""
        self.options = options
        # Whole microseconds: fifty 20 ms frames add up to exactly one second.
        self._start_us = options.start_ms * 1000
        self._end_us = options.end_ms * 1000
        self._max_us = _us(options.max_utterance_s)
        self._end_on_silence = True
        self._no_speech_us: int | None = None
        self.phase = Phase.DONE
        self._waited_us = self._voiced_us = self._gap_us = self._silence_us = 0
        self._utterance_us = 0

    def reset(self, *, end_on_silence: bool = True, no_speech_timeout_s: float | None) -> None:
        """Start listening for a new utterance.

        `end_on_silence=False` is for a held button: the person decides the end, so neither
        silence nor the no-speech timeout ends the utterance, and its length counts from now.
        """
        self._end_on_silence = end_on_silence
        timeout = no_speech_timeout_s if end_on_silence else None
        self._no_speech_us = None if timeout is None else _us(timeout)
        self.phase = Phase.WAITING
        self._waited_us = self._voiced_us = self._gap_us = self._silence_us = 0
        self._utterance_us = 0

    def feed(self, frame_s: float, is_speech: bool, energy_dbfs: float) -> Decision:
        """Take one frame: its duration, the VAD's verdict and its energy in dBFS."""
        if self.phase is Phase.DONE:
            return Decision.NONE
        frame_us = _us(frame_s)
        voiced = is_speech and energy_dbfs >= self.options.min_energy_dbfs
        if not self._end_on_silence or self.phase is Phase.SPEAKING:
            self._utterance_us += frame_us
            if self._utterance_us >= self._max_us:
                self.phase = Phase.DONE
                return Decision.LIMIT
        if self.phase is Phase.WAITING:
            return self._wait(frame_us, voiced)
        if not self._end_on_silence:
            return Decision.NONE
        self._silence_us = 0 if voiced else self._silence_us + frame_us
        if self._silence_us >= self._end_us:
            self.phase = Phase.DONE
            return Decision.ENDED
        return Decision.NONE

    def _wait(self, frame_us: int, voiced: bool) -> Decision:
        self._waited_us += frame_us
        if voiced:
            self._voiced_us += frame_us
            self._gap_us = 0
        else:
            self._gap_us += frame_us
            # Gaps shorter than the start threshold (between syllables) are bridged; a
            # longer one means the voiced frames so far were clicks, not a word.
            if self._gap_us >= self._start_us:
                self._voiced_us = 0
        if self._voiced_us >= self._start_us:
            self.phase = Phase.SPEAKING
            if self._end_on_silence:
                # The utterance began when its voiced frames did, not when they added up.
                self._utterance_us = self._voiced_us
            return Decision.STARTED
        if self._no_speech_us is not None and self._waited_us >= self._no_speech_us:
            self.phase = Phase.DONE
            return Decision.NO_SPEECH
        return Decision.NONE


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


class PreRoll:
    """The newest `max_bytes` of microphone audio, sent right after an activityStart."""

    def __init__(self, max_bytes: int) -> None:
        """Keep at most `max_bytes` (whole frames; the oldest frames are forgotten first)."""
        self.max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0

    def remember(self, pcm: bytes) -> None:
        """Keep a frame, forgetting the oldest ones beyond the limit."""
        self._frames.append(pcm)
        self._bytes += len(pcm)
        while self._bytes > self.max_bytes:
            self._bytes -= len(self._frames.popleft())

    def clear(self) -> None:
        """Forget everything."""
        self._frames.clear()
        self._bytes = 0

    def take(self) -> bytes:
        """Everything kept, oldest first, and forget it."""
        pcm = b"".join(self._frames)
        self.clear()
        return pcm

    def __len__(self) -> int:
        """How many bytes are kept."""
        return self._bytes
