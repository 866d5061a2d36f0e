"""The Timers area: how long a due timer rings, and when one due while off counts as missed."""

from __future__ import annotations

from talkbox.config.fields import Area, setting


class TimerFields(Area):
    """Timers: timers and alarms set by voice ring on the box, without the network."""

    timer_ring_s: float = setting(
        180.0,
        doc="How long a due timer or alarm rings when nobody stops it (a press, the wake word "
        "or `talkbox ctl stop`); then it stops and the journal says nobody stopped it.",
        allowed="seconds, 5 to 3600",
        ge=5.0,
        le=3600.0,
    )
    timer_missed_after_s: float = setting(
        600.0,
        doc="A timer or alarm that fell due while the box was off rings once at start if it "
        "fell due at most this long ago; an older one is not rung but reported as missed "
        "(journal, list_timers, `talkbox ctl timers`).",
        allowed="seconds, 0 to 86400",
        ge=0.0,
        le=86_400.0,
    )
