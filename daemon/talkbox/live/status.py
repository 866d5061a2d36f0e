"""LinkSnapshot: where the Live link stands, as one frozen snapshot.

Read by `ask` today and by the control socket and systemd's STATUS= tomorrow; it imports
nothing of the SDK, so its readers need not either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSnapshot:
    """The link's connection, conversation and drop counters at one moment."""

    connected: bool
    resumed: bool
    """The current (or last) connection continued the conversation."""
    reconnects: int
    """Connections after the first that finished setup."""
    conversation_id: str
    conversation_turns: int
    """How many turns the conversation has answered."""
    offline: bool
    """Connecting has kept failing for `RetryPolicy.offline_after_s` and is still failing."""
    pending_turns: int
    """Turns asked and not yet answered or failed."""
    audio_dropped_outside_turn: int
    """Frames dropped because no turn was open (local turn detection)."""
    loose_audio_dropped: int
    """Loose frames pushed out of the full backlog (server turn detection)."""
