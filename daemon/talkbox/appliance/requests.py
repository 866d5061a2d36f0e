"""What `talkbox ctl` asks of the running appliance, and what it answers (on the loop)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from talkbox.appliance.control import Request, RequestError
from talkbox.appliance.parts import Parts
from talkbox.appliance.status import Counters, LastTurn
from talkbox.appliance.wake_choice import WakeWordChoice
from talkbox.config import Settings
from talkbox.conversation import Conversation, Event, State, TextAsked
from talkbox.live.link import LiveLink
from talkbox.timers.tools import TimerTools


class Appliance(Protocol):
    """What a ctl request reads and asks of the running appliance (`appliance.app`)."""

    settings: Settings
    conversation: Conversation
    counters: Counters
    timer_tools: TimerTools
    wake: WakeWordChoice

    @property
    def parts(self) -> Parts:
        """The devices in use."""
        ...

    @property
    def link(self) -> LiveLink:
        """The Live link."""
        ...

    @property
    def last_turn(self) -> LastTurn | None:
        """What is known of the last turn that ended."""
        ...

    def post(self, event: Event) -> None:
        """Queue an event for the control task."""
        ...

    def status_line(self) -> str:
        """The STATUS= line."""
        ...


def status_of(app: Appliance) -> dict[str, Any]:
    """What `talkbox ctl status` answers."""
    conversation = app.conversation
    last_turn = None if app.last_turn is None else asdict(app.last_turn)
    if last_turn is not None and not app.settings.log_transcripts:
        # What was said leaves the box's memory only when the person asked for it
        # (TALKBOX_LOG_TRANSCRIPTS): the socket is readable by group talkbox.
        del last_turn["transcript"]
    return {
        "state": str(conversation.state),
        "status": app.status_line(),
        "muted": conversation.muted,
        "volume": app.parts.speaker.volume,
        "link": asdict(app.link.status()),
        "last_turn": last_turn,
        "frames": asdict(app.counters),
        "devices": None if app.parts.device_counters is None else app.parts.device_counters(),
        "next_timer": app.timer_tools.next_timer(),
        "wake_word": {"in_use": app.wake.label, "chosen_by": app.wake.chosen_by},
    }


def _state_words(app: Appliance) -> str:
    state = str(app.conversation.state)
    why = app.status_line().removeprefix(state).removeprefix(": ")
    return f"in the {state} state" + (f": {why}" if why else "")


def answer(app: Appliance, request: Request) -> dict[str, Any]:
    """Carry out one ctl request (on the loop); returns the answer's fields."""
    match request.command:
        case "status":
            return status_of(app)
        case "volume":
            assert request.percent is not None
            app.parts.speaker.set_volume(request.percent)
            return {"volume": app.parts.speaker.volume}
        case "timers":
            return app.timer_tools.report()
        case "stop":
            if app.conversation.state is not State.RINGING:
                raise RequestError("nothing is ringing")
            app.post(request.event())
            return {}
        case "say":
            assert request.text is not None
            state = app.conversation.state
            if state is not State.IDLE:
                # The status line says why for error and offline.
                raise RequestError(f"say needs the box idle; it is {_state_words(app)}")
            app.post(TextAsked(text=request.text))
            return {}
        case _:
            app.post(request.event())
            return {}
