"""The small interfaces each hardware adapter and each fake implements.

The appliance talks to devices only through these, so every part of it runs on fakes in
tests and on the real adapters (`talkbox.audio.alsa`, `talkbox.gpio`, `talkbox.vad`) on a Pi.
Adapters that call back from their own threads post events with
`loop.call_soon_threadsafe`; nothing here blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from talkbox.conversation import State


class AudioSource(Protocol):
    """The microphone: 20 ms frames of 16 kHz mono S16_LE, in order."""

    async def read_frame(self) -> bytes:
        """The next frame (waits for it)."""
        ...

    def close(self) -> None:
        """Stop capturing and release the device."""
        ...


class AudioSink(Protocol):
    """The speaker: a queue of audio played in order, never blocking the caller."""

    def play(self, pcm: bytes, rate: int) -> None:
        """Queue mono S16_LE audio at `rate` Hz."""
        ...

    def finish(self, done: Callable[[], None]) -> None:
        """Call `done` on the loop once everything queued so far has played (not after a flush)."""
        ...

    def flush(self) -> None:
        """Drop everything queued or playing, at once."""
        ...

    def close(self) -> None:
        """Stop playing and release the device."""
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
    """The LED: shows each state's pattern (`talkbox.leds`)."""

    def show(self, state: State) -> None:
        """Show `state`'s pattern until told otherwise."""
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
