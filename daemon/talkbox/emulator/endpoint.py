"""Automatic activity detection: where speech starts and where the turn ends, from loudness.

Pure: fed whether each audio chunk is loud and how long it is, never a clock, so the same
audio always ends turns at the same place.
"""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    """What a chunk of audio was, for the turn being detected."""

    IDLE = "idle"  # quiet, no speech yet: not part of a turn
    START = "start"  # speech began with this chunk: it opens the turn
    SPEECH = "speech"  # part of the turn (loud, or a pause shorter than the silence limit)
    END = "end"  # this chunk completed the silence that ends the turn (it belongs to it)


class Endpointer:
    """Opens a turn at the first loud chunk and ends it after `silence_s` of quiet ones."""

    def __init__(self, silence_s: float) -> None:
        """End turns after `silence_s` seconds of quiet audio."""
        self.silence_s = silence_s
        self.in_speech = False
        self._quiet_s = 0.0

    def feed(self, loud: bool, seconds: float) -> Step:
        """Classify the next chunk of audio."""
        if not self.in_speech:
            if not loud:
                return Step.IDLE
            self.in_speech = True
            self._quiet_s = 0.0
            return Step.START
        self._quiet_s = 0.0 if loud else self._quiet_s + seconds
        if self._quiet_s >= self.silence_s:
            self.in_speech = False
            return Step.END
        return Step.SPEECH

    def stream_ended(self) -> bool:
        """The client said its audio stream paused: True if that ends a turn in progress."""
        was_speaking, self.in_speech = self.in_speech, False
        return was_speaking
