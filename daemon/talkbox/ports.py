"""The small interfaces each hardware adapter and each fake implements.

The appliance talks to devices only through these, so every part of it runs on fakes in
tests (`talkbox.fakes`) and on the real adapters (`talkbox.audio.alsa`, `talkbox.gpio`,
`talkbox.hearing.vad`) on a Pi. Adapters that call back from their own threads post events with
`loop.call_soon_threadsafe`; nothing here blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from talkbox.conversation import Earcon, State


class MicFrame(Protocol):
    """One 20 ms frame of 16 kHz mono S16_LE microphone audio."""

    @property
    def pcm(self) -> bytes:
        """The audio: exactly 640 bytes."""
        ...

    @property
    def earcon(self) -> bool:
        """The frame overlaps an earcon the speaker played: it is not the person speaking."""
        ...

    @property
    def captured_at(self) -> float:
        """`time.monotonic()` when the frame's last sample came from the device."""
        ...


class AudioSource(Protocol):
    """The microphone: 20 ms frames, in order; a slow reader loses the oldest."""

    async def read(self) -> MicFrame:
        """The next frame (waits for it, also while the device is away)."""
        ...

    def ready(self) -> Sequence[MicFrame]:
        """Every frame captured and not yet read, taken at once (never waits)."""
        ...

    def on_ready(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` (on the event loop) when frames are ready, once until `ready()`."""
        ...


class AudioSink(Protocol):
    """The speaker: a queue of audio played in order, never blocking the caller."""

    def play(self, pcm: bytes, rate: int = ...) -> None:
        """Queue mono S16_LE audio at `rate` Hz (too much queued ahead: refused and counted)."""
        ...

    def play_earcon(self, earcon: Earcon) -> bool:
        """Queue an earcon (nothing when earcons are off)."""
        ...

    def finished(self) -> Awaitable[bool]:
        """Resolves once everything queued so far has played: True, or False if flushed."""
        ...

    def flush(self) -> None:
        """Drop everything queued or playing, at once."""
        ...

    @property
    def volume(self) -> int:
        """The volume in percent."""
        ...

    def set_volume(self, percent: int) -> None:
        """Set the volume, 0-100 %."""
        ...


class Button(Protocol):
    """The push button; its edges arrive as ButtonPressed/Released/LongPressed/DoublePressed."""

    @property
    def is_pressed(self) -> bool:
        """Whether the button is down now."""
        ...

    def check_level(self) -> None:
        """Post the edge the callbacks missed, if the level disagrees with the last one posted."""
        ...

    def close(self) -> None:
        """Release the pin."""
        ...


class Indicator(Protocol):
    """The LED: shows each state's pattern (`talkbox.conversation.leds`)."""

    def show(self, state: State, *, timers: bool = False) -> None:
        """Show `state`'s pattern until told otherwise (`timers`: a timer or alarm is set)."""
        ...

    def close(self) -> None:
        """Turn the LED off and release its pins."""
        ...


class Vad(Protocol):
    """Voice activity of single 20 ms frames of 16 kHz mono S16_LE."""

    def is_speech(self, frame: bytes) -> bool:
        """Whether the frame is speech."""
        ...

    def reset(self) -> None:
        """Forget what was learnt about the stream (its noise)."""
        ...


class WakeDetection(Protocol):
    """A wake word heard by a `WakeWords` listener."""

    @property
    def model_id(self) -> str:
        """Which wake word model fired (e.g. okay_nabu)."""
        ...

    @property
    def probability(self) -> float:
        """The averaged probability that crossed the model's cutoff."""
        ...


class WakeWords(Protocol):
    """Listens for wake words in 20 ms frames of 16 kHz mono S16_LE (`talkbox.hearing.wake`)."""

    def process(self, frame: bytes) -> WakeDetection | None:
        """Take the next frame; a detection, or None."""
        ...

    def reset(self) -> None:
        """Forget the stream heard so far (after the mute, nothing of before counts)."""
        ...

    def close(self) -> None:
        """Release the models (a wake word switched at run time); safe to call twice."""
        ...


class EchoCanceller(Protocol):
    """Takes the speaker's echo out of microphone frames (`talkbox.hearing.echo`)."""

    def cancel(self, pcm: bytes, captured_at: float) -> bytes:
        """The frame without what the speaker played into it; the same length."""
        ...

    @property
    def settled(self) -> bool:
        """Whether it has learnt the room for this answer: what is left is not the echo."""
        ...


class AudioFilter(Protocol):
    """Changes microphone frames before anything hears them (`talkbox.audio.denoise`)."""

    def process(self, frame: bytes) -> bytes:
        """The filtered frame, of the same length."""
        ...
