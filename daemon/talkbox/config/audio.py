"""The Audio area: which ALSA devices talkbox opens, at what rate, how loud."""

from __future__ import annotations

from pydantic import field_validator

from talkbox.config.fields import Area, Problem, setting


class AudioFields(Area):
    """Audio: the microphone and speaker (ALSA devices), volume, mic gain and earcons."""

    capture_device: str = setting(
        "default",
        doc="ALSA device of the microphone, e.g. plughw:CARD=Device,DEV=0 (`talkbox devices` "
        "lists them; name cards by their id, not by number).",
        allowed="an ALSA PCM name",
    )
    playback_device: str = setting(
        "default",
        doc="ALSA device of the speaker, e.g. plughw:CARD=Device,DEV=0.",
        allowed="an ALSA PCM name",
    )
    capture_rate: int | None = setting(
        doc="Rate to open the microphone at; talkbox resamples to 16 kHz. Empty: ask for "
        "16 kHz and take what the device gives.",
        allowed="Hz, 8000 to 192000",
        ge=8000,
        le=192_000,
    )
    playback_rate: int | None = setting(
        doc="Rate to open the speaker at; talkbox resamples from 24 kHz. Empty: ask for "
        "24 kHz and take what the device gives.",
        allowed="Hz, 8000 to 192000",
        ge=8000,
        le=192_000,
    )
    period_ms: int = setting(
        20,
        doc="ALSA period of the speaker: the longest a write blocks, so how late a barge-in "
        "silences the answer. The microphone always reads 20 ms frames (what the VAD takes).",
        allowed="milliseconds, 5 to 100",
        ge=5,
        le=100,
    )
    volume: int = setting(
        80,
        doc="Speaker volume at start (the model's set_volume and `talkbox ctl volume` change it).",
        allowed="percent, 0 to 100",
        ge=0,
        le=100,
    )
    mic_gain: float = setting(
        0.0,
        doc="Microphone gain in dB, applied before the VAD and the uplink.",
        allowed="dB, -20 to 30",
        ge=-20.0,
        le=30.0,
    )
    mixer: str | None = setting(
        doc="ALSA mixer control to set the volume on (e.g. PCM, Speaker). Empty: software volume.",
        allowed="a mixer control name of the speaker's card",
    )
    earcons: bool = setting(
        True,
        doc="Play short tones when a turn starts and ends and when something fails.",
        allowed="true/false",
    )

    @field_validator("capture_device", "playback_device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if not value.strip():
            raise Problem("is empty")
        return value.strip()

    @field_validator("mixer")
    @classmethod
    def _check_mixer(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None
