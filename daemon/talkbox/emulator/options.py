"""EmulatorOptions: every knob of the emulator, with the real service's values as defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from talkbox.emulator.catalog import DEFAULT_MODELS
from talkbox.emulator.faults import CLOSE_PRESETS

#: The longest answer audio chunk (see `EmulatorOptions.chunk_ms`).
MAX_CHUNK_MS = 1000

#: How a wrong key is refused (docs/live-protocol.md §6.1): HTTP status at the upgrade, or 1007.
BadKeyMode = Literal["http400", "http401", "http403", "close1007"]


@dataclass
class EmulatorOptions:
    """How the emulator listens, authenticates, paces, times out and counts."""

    host: str = "127.0.0.1"
    port: int = 0
    #: None accepts any key (a key must still be present).
    api_key: str | None = "emu-test-key"
    #: Where the CA PEM is written; None = a temporary directory removed at stop.
    ca_out: Path | None = None
    bad_key_mode: BadKeyMode = "http400"
    api_versions: tuple[str, ...] = ("v1", "v1beta", "v1alpha")
    #: The models served (bare names); the rules of each come from `catalog.row_for`.
    models: tuple[str, ...] = DEFAULT_MODELS
    #: How much faster than real time the fast rows (gemini-3.8-live) send answer audio.
    fast_audio_factor: float = 4.0
    #: The SDK 3.x default API version, v1, for Live: "refuse" closes setup 1008 "not
    #: found for API version v1" (as the service answers a wrong version), "serve" treats
    #: it like v1beta. Whether the service refuses it so is not documented; to refuse it
    #: at the upgrade with HTTP 404 instead, leave it out of `api_versions`.
    v1_live: Literal["refuse", "serve"] = "refuse"
    connection_lifetime_s: float = 600.0
    go_away_lead_s: float = 50.0
    #: Pace answer audio as the model does (real time, or `fast_audio_factor` times faster on
    #: the fast rows, with turnComplete once it has played); False sends it as fast as
    #: possible and ends the turn at once.
    realtime: bool = True
    #: Length of each answer audio chunk, 1-1000 ms (a second of 24 kHz audio is 64 KB of
    #: base64, which keeps every message far below the SDK's 1 MiB limit).
    chunk_ms: int = 100
    handle_lifetime_s: float = 7200.0
    context_window: int = 128_000
    audio_tokens_per_s: float = 25.0
    #: Silence that ends a turn under automatic activity detection, unless setup says otherwise.
    silence_ms: int = 500
    #: RMS (of int16 samples) under which audio counts as silence for automatic detection.
    silence_rms: float = 300.0
    #: Close 1011 when a handle is resumed while an older socket of its session is open.
    reject_resume_while_open: bool = True
    #: What to do with a toolResponse whose id matches no pending call.
    unknown_tool_response: Literal["ignore", "close"] = "ignore"
    #: What to do with activityStart/activityEnd under automatic activity detection.
    activity_under_auto_vad: Literal["ignore", "close"] = "ignore"
    #: What to do with audioStreamEnd when activity detection is disabled.
    stream_end_under_manual_vad: Literal["ignore", "close"] = "ignore"
    #: Close 1007 when a handle is resumed with another model (the API reference allows
    #: every other setting to change on resume, but not the model).
    reject_model_change: bool = True
    #: Session-time limit without context-window compression (the service's is 900 s for
    #: audio-only sessions); None = no limit, as the closing code is not documented.
    session_limit_s: float | None = None
    session_limit_close: tuple[int, str] = CLOSE_PRESETS["deadline"]
    #: Wait this long for the setup frame before closing the connection.
    setup_timeout_s: float = 30.0
    event_log_path: Path | None = None
    #: Keep audio payloads in the log (benchmarks and soaks turn it off).
    log_audio: bool = True
    #: Keep only about this many newest records in memory (None = all; the command line
    #: defaults to 100000 so a long-running emulator does not grow without bound).
    log_max_records: int | None = None
    #: The largest client frame accepted; a bigger one is closed 1009 (message too big) by
    #: websockets. The real service's limit is not documented; 16 MiB is far above any
    #: frame the SDK sends (100 ms of 16 kHz audio is about 4.3 KB of JSON).
    max_client_frame_bytes: int = 16 * 2**20
    #: Seed for handles and tool-call ids (None = unpredictable, like the service).
    seed: int | None = None
    faults: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Refuse values that would break the emulator's own guarantees (one-line messages)."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, not {self.port}")
        _seconds("connection_lifetime_s", self.connection_lifetime_s)
        _seconds("go_away_lead_s", self.go_away_lead_s, zero_ok=True)
        if self.go_away_lead_s > self.connection_lifetime_s:
            raise ValueError(
                f"go_away_lead_s ({self.go_away_lead_s}) must not exceed "
                f"connection_lifetime_s ({self.connection_lifetime_s})"
            )
        _seconds("handle_lifetime_s", self.handle_lifetime_s)
        _seconds("setup_timeout_s", self.setup_timeout_s)
        if self.session_limit_s is not None:
            _seconds("session_limit_s", self.session_limit_s)
        if not math.isfinite(self.fast_audio_factor) or not 1 <= self.fast_audio_factor <= 100:
            raise ValueError(f"fast_audio_factor must be 1-100, not {self.fast_audio_factor}")
        if not self.models:
            raise ValueError("models must name at least one model")
        if not 1 <= self.chunk_ms <= MAX_CHUNK_MS:
            raise ValueError(f"chunk_ms must be 1-{MAX_CHUNK_MS}, not {self.chunk_ms}")
        for name in ("context_window", "silence_ms", "max_client_frame_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        if self.log_max_records is not None and self.log_max_records < 1:
            raise ValueError(f"log_max_records must be >= 1 (or None), not {self.log_max_records}")


def _seconds(name: str, value: float, *, zero_ok: bool = False) -> None:
    """Refuse a duration a timer cannot use: not finite, negative, or zero unless allowed."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise ValueError(
            f"{name} must be a finite number {'>=' if zero_ok else '>'} 0, not {value}"
        )
