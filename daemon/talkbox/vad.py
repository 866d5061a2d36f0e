"""Voice activity: the webrtcvad adapter (the only webrtcvad importer) and frame energy.

webrtcvad takes 10, 20 or 30 ms frames of 16-bit mono PCM at 8/16/32/48 kHz; talkbox feeds
it 20 ms at 16 kHz. One stateful `webrtcvad.Vad` per stream: it adapts its noise model, so
`reset()` makes a new one only when the stream itself starts over. It is an energy and
spectrum detector, not a speech model: steady noise and tones count as speech, which is why
`talkbox.endpoint` also asks for a minimum energy.
"""

from __future__ import annotations

import math

import numpy as np
import webrtcvad

from talkbox.endpoint import Decision, Endpointer
from talkbox.ports import Vad

SAMPLE_RATE_HZ = 16_000
"""The microphone rate the VAD is fed (the uplink rate)."""
FRAME_MS = 20
"""The frame length the VAD is fed."""
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000 * 2
"""Bytes in one frame of 16-bit mono audio."""
SILENCE_DBFS = -120.0
"""The energy reported for a frame of digital silence (instead of minus infinity)."""


def frame_dbfs(pcm: bytes) -> float:
    """The RMS energy of 16-bit little-endian PCM in dB relative to full scale."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(samples * samples))) / 32768.0
    return SILENCE_DBFS if rms <= 0.0 else max(SILENCE_DBFS, 20.0 * math.log10(rms))


class WebRtcVad:
    """The `Vad` port on webrtcvad: says whether a 20 ms frame is speech."""

    def __init__(self, aggressiveness: int = 3) -> None:
        """`aggressiveness` 0 (lenient) to 3 (most eager to call audio non-speech)."""
        if aggressiveness not in range(4):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, not {aggressiveness}")
        self.aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: bytes) -> bool:
        """Whether one FRAME_BYTES frame of 16 kHz mono S16_LE is speech."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a VAD frame is {FRAME_BYTES} bytes, not {len(frame)}")
        return bool(self._vad.is_speech(frame, SAMPLE_RATE_HZ))

    def reset(self) -> None:
        """Forget the noise model (a new stream)."""
        self._vad = webrtcvad.Vad(self.aggressiveness)


class SpeechDetector:
    """A VAD and an endpointer together: microphone frames in, endpointing decisions out."""

    def __init__(self, vad: Vad, endpointer: Endpointer) -> None:
        """Classify frames with `vad` and decide with `endpointer`."""
        self.vad = vad
        self.endpointer = endpointer

    def feed(self, frame: bytes) -> Decision:
        """Take one 20 ms frame."""
        speech = self.vad.is_speech(frame)
        return self.endpointer.feed(FRAME_MS / 1000, speech, frame_dbfs(frame))
