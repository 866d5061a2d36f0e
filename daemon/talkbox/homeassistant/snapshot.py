"""What Home Assistant is shown of the box at one moment: plain data, cheap to import.

The appliance builds it (`talkbox.appliance.home`) without loading the ESPHome API's protobuf
messages, which cost about 0.6 s and 25 MB to import: a box with Home Assistant off never
loads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What HA is shown of the box at one moment."""

    state: str
    """The conversation's state: idle, listening, thinking, speaking, muted, offline, error
    (starting while the box comes up)."""
    muted: bool
    volume: int
    last_turn: str | None = None
    """answered, interrupted, or 'not answered: why'; None before the first turn."""
    latency_s: float | None = None
    """The last turn's end of speech to its first answer audio."""
    answer_s: float | None = None
    """How long the last answer's audio was."""
    transcript: str | None = None
    """The last turn's transcript, only when TALKBOX_LOG_TRANSCRIPTS allows it."""
    next_timer: str | None = None
    """The timer or alarm that rings next ("pasta timer at 19:42:10"); None: none is set."""
    announcing: bool = False
    """The speaker plays something nobody asked the box (an announcement)."""
    wake_word: str | None = None
    """The wake word select's option in use (`talkbox.config.wake_words_label`)."""
