"""The Full duplex area: cancelling the speaker's echo, so the box hears the person while it talks.

Which engine runs, and whether libspeexdsp loads, is `talkbox.hearing.echo`'s question, asked
when the daemon starts (config imports no adapter: tests/unit/test_layers.py).
"""

from __future__ import annotations

from typing import Literal

from talkbox.config.fields import Area, setting

EchoCancel = Literal["auto", "off", "hardware"]
"""ECHO_CANCEL's values (talkbox.hearing.echo.EchoCancelMode)."""
BargeIn = Literal["wake_word", "voice"]
"""BARGE_IN's values."""


class EchoFields(Area):
    """Full duplex: cancelling the speaker's echo in the microphone."""

    echo_cancel: EchoCancel = setting(
        "auto",
        doc="Echo cancellation, so the wake word is heard over the box's own answer: auto "
        "(talkbox cancels it, with what the speaker played as the reference; needs Debian's "
        "libspeexdsp1), off (the box hears itself), hardware (the sound card or speakerphone "
        "cancels it: the microphone passes through).",
        allowed="auto, off or hardware",
    )
    barge_in: BargeIn = setting(
        "wake_word",
        doc="What interrupts an answer besides a press: wake_word (the wake word, when one is "
        "set), or voice (any speech the local VAD hears over the answer, in the cancelled "
        "signal; it opens a turn at once, as a follow-up does, and nothing is sent before).",
        allowed="wake_word or voice",
    )

    def notes(self) -> list[str]:
        """Voice barge-in without echo cancellation hears the box's own answer."""
        if self.barge_in == "voice" and self.echo_cancel == "off":
            return [
                "TALKBOX_BARGE_IN=voice with TALKBOX_ECHO_CANCEL=off: the VAD hears the box's "
                "own answer and will interrupt it; use auto, or hardware with a card that cancels"
            ]
        return []
