"""The tools the appliance offers the model: time, volume, mute, end of conversation.

The timer tools (`talkbox.timers.tools`) join them in the running box and in `declared_registry`.

Each is short and its result is spoken, so each is declared BLOCKING: the model waits for
the result (gemini-3.8-live takes an undeclared behaviour as NON_BLOCKING). The model may
mute the microphone; only a person unmutes (double press, `talkbox ctl unmute`): no tool does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from talkbox.config import Settings
from talkbox.fakes import FakeSpeaker
from talkbox.live.tools import (
    BLOCKING,
    NoArguments,
    ToolRegistry,
    ToolResult,
    default_registry,
)
from talkbox.ports import AudioSink
from talkbox.timers.service import TimerService
from talkbox.timers.store import TimerStore
from talkbox.timers.tools import TimerTools, register_timer_tools


class VolumeArguments(BaseModel):
    """set_volume's arguments."""

    model_config = ConfigDict(extra="forbid")
    percent: int = Field(ge=0, le=100, description="The new speaker volume, 0 to 100 percent.")


def declared_registry(settings: Settings | None = None) -> ToolRegistry:
    """The tools the running box declares, for `check --online` (their handlers never run).

    With `settings`, control_home too when they give HA's URL and token.
    """
    # Never loaded from nor saved to: the handlers of these declarations never run.
    timers = TimerService(TimerStore(Path("/nonexistent/talkbox")), on_due=lambda _: None)
    registry, _ = box_registry(
        settings, FakeSpeaker(), timers, on_mute=lambda: None, on_end_conversation=lambda: None
    )
    return registry


def box_registry(
    settings: Settings | None,
    speaker: AudioSink,
    timers: TimerService,
    *,
    on_mute: Callable[[], None],
    on_end_conversation: Callable[[], None],
) -> tuple[ToolRegistry, TimerTools]:
    """Every tool the box offers: the appliance's, the timers', and control_home if set up."""
    registry = appliance_registry(speaker, on_mute=on_mute, on_end_conversation=on_end_conversation)
    timer_tools = register_timer_tools(registry, timers)
    if settings is not None and settings.home_assistant_url is not None:
        # Imported only when Home Assistant is set up: httpx is start-up time and memory
        # every other box would pay for nothing.
        from talkbox.homeassistant.assist import assist_of, register_assist

        home = assist_of(settings)
        if home is not None:
            register_assist(registry, home)
    return registry, timer_tools


def appliance_registry(
    speaker: AudioSink,
    *,
    on_mute: Callable[[], None],
    on_end_conversation: Callable[[], None],
) -> ToolRegistry:
    """get_time and end_conversation, plus set_volume, get_volume and mute_microphone."""
    registry = default_registry(on_end_conversation=on_end_conversation)

    def set_volume(arguments: VolumeArguments) -> ToolResult:
        speaker.set_volume(arguments.percent)
        return {"volume": speaker.volume}

    def get_volume(_: NoArguments) -> ToolResult:
        return {"volume": speaker.volume}

    def mute_microphone(_: NoArguments) -> ToolResult:
        on_mute()
        return {
            "result": "the microphone is muted now; only a person can unmute it "
            "(double press of the button)"
        }

    registry.register(
        "set_volume",
        "Set the speaker volume of the device, 0 to 100 percent.",
        set_volume,
        VolumeArguments,
        behavior=BLOCKING,
    )
    registry.register(
        "get_volume",
        "Get the speaker volume of the device, in percent.",
        get_volume,
        behavior=BLOCKING,
    )
    registry.register(
        "mute_microphone",
        "Mute the device's microphone (privacy mute) when the person asks for it; only the "
        "person can unmute it.",
        mute_microphone,
        behavior=BLOCKING,
    )
    return registry
