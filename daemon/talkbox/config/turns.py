"""The Turns area: who decides when a turn starts and ends, the local VAD, and the service's."""

from __future__ import annotations

from typing import Annotated, Literal

from talkbox.config.fields import Area, LowerCase, setting

_SERVER_ONLY = {"turn_detection": "server"}
_LOCAL_ONLY = {"turn_detection": "local"}


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
    button_mode: Annotated[Literal["tap", "hold"], LowerCase] = setting(
        "tap",
        doc="tap: a press opens a turn, and silence (local VAD), a second press or the length "
        "limit ends it; hold: the turn lasts while the button is held.",
        allowed="tap or hold",
    )
    vad_aggressiveness: int = setting(
        3,
        doc="Local VAD (webrtcvad): 0 calls the most audio speech, 3 the least.",
        allowed="0, 1, 2 or 3",
        ge=0,
        le=3,
        applies_when={"turn_detection": "local", "vad": "webrtc"},
    )
    vad: Annotated[Literal["webrtc", "silero"], LowerCase] = setting(
        "webrtc",
        doc="Local VAD: webrtc (webrtcvad, cheap; steady noise counts as speech unless it is "
        "quieter than TALKBOX_VAD_MIN_ENERGY) or silero (Silero VAD, a neural model: fans, "
        "music and tones are mostly not speech; a few percent of a core).",
        allowed="webrtc or silero",
        applies_when=_LOCAL_ONLY,
    )
    silero_threshold: float = setting(
        0.5,
        doc="Silero VAD: the speech probability above which a frame is speech.",
        allowed="a probability, 0.05 to 0.95",
        ge=0.05,
        le=0.95,
        applies_when={"turn_detection": "local", "vad": "silero"},
    )
    vad_start_ms: int = setting(
        200,
        doc="Local VAD: speech needed before a turn counts as spoken.",
        allowed="milliseconds, 20 to 2000",
        ge=20,
        le=2000,
        applies_when=_LOCAL_ONLY,
    )
    vad_end_ms: int = setting(
        800,
        doc="Local VAD: silence after speech that ends a tapped turn (above the pauses inside "
        "a sentence).",
        allowed="milliseconds, 100 to 5000",
        ge=100,
        le=5000,
        applies_when=_LOCAL_ONLY,
    )
    vad_min_energy: float = setting(
        -45.0,
        doc="Local VAD: frames quieter than this (dBFS) are silence whatever the VAD says "
        "(webrtcvad calls steady noise speech).",
        allowed="dBFS, -90 to -10",
        ge=-90.0,
        le=-10.0,
        applies_when=_LOCAL_ONLY,
    )
    preroll_ms: int = setting(
        500,
        doc="Audio from just before the turn started that is sent with it, so the first "
        "syllable is not lost.",
        allowed="milliseconds, 0 to 2000",
        ge=0,
        le=2000,
    )
    max_utterance_s: float = setting(
        15.0,
        doc="The longest a person may speak in one turn; the turn is closed then.",
        allowed="seconds, 1 to 120",
        ge=1.0,
        le=120.0,
    )
    no_speech_timeout_s: float = setting(
        5.0,
        doc="A tapped turn in which nobody speaks ends after this long, sending nothing.",
        allowed="seconds, 0.5 to 60",
        ge=0.5,
        le=60.0,
    )
    follow_up_s: float = setting(
        0.0,
        doc="In tap mode, speech this soon after an answer opens a new turn without a press "
        "(its first words, from just before the speech began, go up with it); 0: off, so "
        "nothing goes up without a press or the wake word.",
        allowed="seconds, 0 to 60",
        ge=0.0,
        le=60.0,
    )
    follow_up_turns: int = setting(
        2,
        doc="With FOLLOW_UP_S on: how many follow-up turns one press or wake word may chain; "
        "after them the box waits for a press again.",
        allowed="1 to 10",
        ge=1,
        le=10,
    )
    answer_timeout_s: float = setting(
        10.0,
        doc="A turn whose answer does not start this long after it ended fails (error tone).",
        allowed="seconds, 1 to 300",
        ge=1.0,
        le=300.0,
    )
