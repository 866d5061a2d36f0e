"""The Turns area: who decides when a turn starts and ends, and how the service's VAD listens."""

from __future__ import annotations

from typing import Annotated, Literal

from talkbox.config.fields import Area, LowerCase, setting

_SERVER_ONLY = {"turn_detection": "server"}


class TurnFields(Area):
    """Turns: who decides when the person starts and stops speaking (local or server VAD)."""

    turn_detection: Annotated[Literal["local", "server"], LowerCase] = setting(
        "local",
        doc="local: talkbox decides when a turn starts and ends (button, local VAD); server: "
        "the service's own voice activity detection.",
        allowed="local or server",
    )
    # high/high are the service's own defaults for the Developer API (docs/live-protocol.md §4.4).
    vad_start_sensitivity: Annotated[Literal["high", "low"], LowerCase] = setting(
        "high",
        doc="Server VAD: how readily speech counts as started (server mode only).",
        allowed="high or low",
        applies_when=_SERVER_ONLY,
    )
    vad_end_sensitivity: Annotated[Literal["high", "low"], LowerCase] = setting(
        "high",
        doc="Server VAD: how readily a pause counts as the end of speech (server mode only).",
        allowed="high or low",
        applies_when=_SERVER_ONLY,
    )
    vad_prefix_padding_ms: int | None = setting(
        doc="Server VAD: speech needed before a start is committed (server mode only). "
        "Empty: service default.",
        allowed="milliseconds, 0 to 5000",
        ge=0,
        le=5000,
        applies_when=_SERVER_ONLY,
    )
    vad_silence_ms: int | None = setting(
        doc="Server VAD: silence that ends a turn (server mode only). Empty: service default.",
        allowed="milliseconds, 1 to 10000",
        ge=1,
        le=10_000,
        applies_when=_SERVER_ONLY,
    )
