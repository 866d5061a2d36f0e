"""The box's entities as Home Assistant sees them, in the ESPHome API's own messages.

The keys are fixed: HA remembers entities by device and key, so a key never changes meaning.
Each entity has its ListEntities message; `states` turns a `Snapshot` of the box into one
state message per entity, which the server sends when it differs from what it last sent.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

from aioesphomeapi.api_pb2 import (  # type: ignore[attr-defined]
    ListEntitiesButtonResponse,
    ListEntitiesEventResponse,
    ListEntitiesMediaPlayerResponse,
    ListEntitiesNumberResponse,
    ListEntitiesSelectResponse,
    ListEntitiesSensorResponse,
    ListEntitiesSwitchResponse,
    ListEntitiesTextSensorResponse,
    MediaPlayerStateResponse,
    MediaPlayerSupportedFormat,
    NumberStateResponse,
    SelectStateResponse,
    SensorStateResponse,
    SwitchStateResponse,
    TextSensorStateResponse,
)

from talkbox.homeassistant.snapshot import Snapshot


class Key(IntEnum):
    """Each entity's key on the wire."""

    STATE = 1
    MUTE = 2
    VOLUME = 3
    TALK = 4
    BUTTON = 5
    LAST_TURN = 6
    LAST_LATENCY = 7
    LAST_ANSWER = 8
    LAST_TRANSCRIPT = 9
    SPEAKER = 10
    NEXT_TIMER = 11
    WAKE_WORD = 12


BUTTON_EVENTS: Final = ("press", "double_press", "long_press")
"""The event entity's types: a press, a double press (privacy mute), a long press (new
conversation) of the box's own button."""
DIAGNOSTIC: Final = 2
"""ESPHome's EntityCategory.DIAGNOSTIC."""
CONFIG: Final = 1
"""ESPHome's EntityCategory.CONFIG."""
SLIDER: Final = 2
"""ESPHome's NumberMode.SLIDER."""
MEASUREMENT: Final = 1
"""ESPHome's SensorStateClass.MEASUREMENT."""
SPEAKER_FEATURES: Final = 512 | 4 | 1048576
"""MediaPlayerEntityFeature PLAY_MEDIA | VOLUME_SET | MEDIA_ANNOUNCE."""
IDLE, PLAYING = 1, 2
"""ESPHome's MediaPlayerState values the speaker takes. Not ANNOUNCING (4): HA's ESPHome
media player maps only IDLE, PLAYING and PAUSED (docs/home-assistant.md §7)."""
WAV_24K_MONO: Final = {"format": "wav", "sample_rate": 24_000, "num_channels": 1, "sample_bytes": 2}
"""What the box asks HA's proxy to convert announcements to: the Live answers' own format."""


def entity_list(*, transcripts: bool, wake_words: tuple[str, ...] = ()) -> list[Any]:
    """The ListEntities messages, in the order HA lists them.

    The transcript only if allowed; the wake word select only with its options.
    """
    found: list[Any] = [
        ListEntitiesTextSensorResponse(
            object_id="state", key=Key.STATE, name="State", icon="mdi:state-machine"
        ),
        ListEntitiesSwitchResponse(
            object_id="mute",
            key=Key.MUTE,
            name="Microphone mute",
            icon="mdi:microphone-off",
            entity_category=CONFIG,
        ),
        ListEntitiesNumberResponse(
            object_id="volume",
            key=Key.VOLUME,
            name="Volume",
            icon="mdi:volume-high",
            min_value=0,
            max_value=100,
            step=1,
            unit_of_measurement="%",
            mode=SLIDER,
            entity_category=CONFIG,
        ),
        ListEntitiesButtonResponse(
            object_id="talk", key=Key.TALK, name="Talk", icon="mdi:account-voice"
        ),
        ListEntitiesEventResponse(
            object_id="button",
            key=Key.BUTTON,
            name="Button",
            device_class="button",
            event_types=list(BUTTON_EVENTS),
        ),
        ListEntitiesTextSensorResponse(
            object_id="last_turn",
            key=Key.LAST_TURN,
            name="Last turn",
            icon="mdi:message-reply-text",
            entity_category=DIAGNOSTIC,
        ),
        ListEntitiesSensorResponse(
            object_id="last_answer_latency",
            key=Key.LAST_LATENCY,
            name="Last answer latency",
            unit_of_measurement="s",
            accuracy_decimals=2,
            device_class="duration",
            state_class=MEASUREMENT,
            entity_category=DIAGNOSTIC,
        ),
        ListEntitiesSensorResponse(
            object_id="last_answer_length",
            key=Key.LAST_ANSWER,
            name="Last answer length",
            unit_of_measurement="s",
            accuracy_decimals=1,
            device_class="duration",
            state_class=MEASUREMENT,
            entity_category=DIAGNOSTIC,
        ),
        ListEntitiesTextSensorResponse(
            object_id="next_timer", key=Key.NEXT_TIMER, name="Next timer", icon="mdi:timer-outline"
        ),
        ListEntitiesMediaPlayerResponse(
            object_id="speaker",
            key=Key.SPEAKER,
            name="Speaker",
            icon="mdi:speaker",
            supports_pause=False,
            feature_flags=SPEAKER_FEATURES,
            # DEFAULT (0) and ANNOUNCEMENT (1) purposes: HA's proxy converts to these.
            supported_formats=[
                MediaPlayerSupportedFormat(purpose=purpose, **WAV_24K_MONO) for purpose in (0, 1)
            ],
        ),
    ]
    if wake_words:
        found.append(
            ListEntitiesSelectResponse(
                object_id="wake_word",
                key=Key.WAKE_WORD,
                name="Wake word",
                icon="mdi:account-voice",
                options=list(wake_words),
                entity_category=CONFIG,
            )
        )
    if transcripts:
        found.append(
            ListEntitiesTextSensorResponse(
                object_id="last_transcript",
                key=Key.LAST_TRANSCRIPT,
                name="Last transcript",
                icon="mdi:text",
                entity_category=DIAGNOSTIC,
            )
        )
    return found


def _sensor(key: Key, value: float | None) -> Any:
    if value is None:
        return SensorStateResponse(key=key, missing_state=True)
    return SensorStateResponse(key=key, state=value)


def _text(key: Key, value: str | None) -> Any:
    if value is None:
        return TextSensorStateResponse(key=key, missing_state=True)
    return TextSensorStateResponse(key=key, state=value)


def states(snapshot: Snapshot, *, transcripts: bool) -> dict[Key, Any]:
    """Each entity's state message for `snapshot` (the talk button and the event have none)."""
    found: dict[Key, Any] = {
        Key.STATE: _text(Key.STATE, snapshot.state),
        Key.MUTE: SwitchStateResponse(key=Key.MUTE, state=snapshot.muted),
        Key.VOLUME: NumberStateResponse(key=Key.VOLUME, state=float(snapshot.volume)),
        Key.LAST_TURN: _text(Key.LAST_TURN, snapshot.last_turn),
        Key.LAST_LATENCY: _sensor(Key.LAST_LATENCY, snapshot.latency_s),
        Key.LAST_ANSWER: _sensor(Key.LAST_ANSWER, snapshot.answer_s),
        Key.NEXT_TIMER: _text(Key.NEXT_TIMER, snapshot.next_timer),
        Key.SPEAKER: MediaPlayerStateResponse(
            key=Key.SPEAKER,
            state=PLAYING if snapshot.announcing else IDLE,
            volume=snapshot.volume / 100,
            muted=False,
        ),
    }
    if snapshot.wake_word is not None:
        found[Key.WAKE_WORD] = SelectStateResponse(key=Key.WAKE_WORD, state=snapshot.wake_word)
    if transcripts:
        found[Key.LAST_TRANSCRIPT] = _text(Key.LAST_TRANSCRIPT, snapshot.transcript)
    return found
