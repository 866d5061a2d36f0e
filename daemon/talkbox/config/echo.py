"""The Full duplex area: cancelling the speaker's echo, so the box hears the person while it talks.

Which engine runs, and whether libspeexdsp loads, is `talkbox.hearing.echo`'s question, asked
when the daemon starts (config imports no adapter: tests/unit/test_layers.py).
"""

from __future__ import annotations

from typing import Literal

from talkbox.config.fields import Area, setting

EchoCancel = Literal["auto", "off", "hardware"]
"""ECHO_CANCEL's values (talkbox.hearing.echo.EchoCancelMode)."""


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
