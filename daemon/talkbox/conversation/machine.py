"""The conversation state machine: events in, (state, actions) out, nothing else.

`apply(conversation, event)` is pure: it reads no clock, does no I/O and returns the next
`Conversation` with the actions the appliance must carry out, in order. Every transition is a
row of `TABLE` (`talkbox.conversation.transitions`), keyed by (state, event type); an event
without a row in the current state changes nothing. Besides the row's own actions `apply`
derives these from the change of state, so no row can forget them:

- `ShowState` whenever the state changes, right after a leading `FlushPlayback` and before
  anything else: the LED shows `listening` before the first audio goes up and stops showing
  it at the moment the last audio has gone.
- `CancelTimer` for the answer timer on leaving `thinking`, for the failure timer on
  leaving `error` and for the ring's bound on leaving `ringing`: a timer belongs to the
  state that started it.
- `StopRing` on leaving `ringing` by a row that did not stop the ring itself.
- `StartEndpointing` / `StopEndpointing` when local listening begins or ends (a turn is open,
  or the follow-up window after an answer).
- `ClearPreroll` whenever the pre-roll starts or stops being kept, so what it holds is always
  recent audio of one stretch of `idle`, `thinking` or a turn not yet sent; never audio heard
  while muted or while the answer played (its echo).

Contract with the appliance (`talkbox.appliance.app`): events are applied one at a time by the
control task; the actions of one event are carried out before the next event is applied. After
carrying out `SendActivityStart` (the link's `start_turn()`) the appliance applies
`TurnOpened(turn_id=...)` at once, so answers are matched to the turn they belong to. Per
microphone frame it applies `MicFrameCaptured` first and then feeds the endpointer (when one
is running), so a `SendPreroll` caused by that frame's `SpeechStarted` includes the frame.

Turn control follows `TurnOptions.mode`:

- `hold`: the press sends activityStart and the pre-roll, the release sends activityEnd.
- `tap`: the press opens the turn locally; activityStart and the pre-roll go up when the
  endpointer hears speech (the pre-roll covers its start), so a turn in which nobody speaks
  ends after NO_SPEECH_TIMEOUT_S without anything sent. Silence after speech, a second tap
  or the utterance limit sends activityEnd.

A long press without speech starts a new conversation (while someone is talking into a held
button it is part of the talking). A double press toggles the privacy mute.

This module is the engine and its contract; the parts live in pure modules beside it:
`actions` (`State`, `Earcon` and the actions), `memory` (`Conversation`, `TurnOptions` and the
predicates on them), `transitions` (the handlers and `TABLE`) and `events` (what the box's
parts report). The package's face (`talkbox.conversation`) re-exports this module's public
names (see `__all__`), so a caller of the state machine needs one import.
"""

from __future__ import annotations

from dataclasses import replace

from talkbox.conversation.actions import (
    Action,
    CancelTimer,
    ClearPreroll,
    FlushPlayback,
    ShowState,
    StartEndpointing,
    State,
    StopEndpointing,
)
from talkbox.conversation.events import ApplianceEvent, Timer
from talkbox.conversation.memory import (
    Conversation,
    TurnOptions,
    endpointing,
    ends_on_silence,
    hears_over_answer,
    keeps_preroll,
)
from talkbox.conversation.ringing import derived as ring_actions
from talkbox.conversation.transitions import TABLE
from talkbox.live.events import LinkEvent

Event = ApplianceEvent | LinkEvent
"""Everything the conversation reacts to."""


def start(options: TurnOptions, *, muted: bool = False) -> tuple[Conversation, tuple[Action, ...]]:
    """The conversation at start-up (`muted` as persisted) and the actions to show it."""
    conversation = Conversation(options=options, muted=muted)
    return conversation, (ShowState(state=conversation.state),)


def apply(c: Conversation, event: Event) -> tuple[Conversation, tuple[Action, ...]]:
    """Apply one event: the next conversation and the actions to carry out, in order."""
    handler = TABLE.get((c.state, type(event)))
    if handler is None:
        return c, ()
    new, actions = handler(c, event)
    return _derive(c, new, actions)


def _derive(
    old: Conversation, new: Conversation, actions: list[Action]
) -> tuple[Conversation, tuple[Action, ...]]:
    """Add the actions that follow from the change itself (see the module docstring)."""
    lead: list[Action] = []
    body = list(actions)
    while body and isinstance(body[0], FlushPlayback):
        lead.append(body.pop(0))
    if new.state is not old.state:
        lead.append(ShowState(state=new.state))
    lead += ring_actions(old, new, actions)
    tail: list[Action] = []
    if new.answer_timer and new.state is not State.THINKING:
        tail.append(CancelTimer(timer=Timer.ANSWER))
        new = replace(new, answer_timer=0)
    if new.failure_timer and new.state is not State.ERROR:
        tail.append(CancelTimer(timer=Timer.FAILURE_SHOWN))
        new = replace(new, failure_timer=0)
    if new.ring_timer and new.state is not State.RINGING:
        tail.append(CancelTimer(timer=Timer.RING))
        new = replace(new, ring_timer=0)
    was, now = endpointing(old), endpointing(new)
    # Speech heard over the answer opened this turn: its endpointer goes on to hear it end.
    goes_on = hears_over_answer(old) and new.state is State.LISTENING and new.heard
    if was and not now:
        tail.append(StopEndpointing())
    elif now and new.state is State.SPEAKING and not was:
        tail.append(StartEndpointing(end_on_silence=True, no_speech_timeout_s=None))
    elif now and (
        not was or (hears_over_answer(old) and not hears_over_answer(new) and not goes_on)
    ):
        tapped = new.state is State.IDLE or ends_on_silence(new)
        wait = (
            new.options.follow_up_s if new.state is State.IDLE else new.options.no_speech_timeout_s
        )
        tail.append(
            StartEndpointing(
                end_on_silence=tapped,
                no_speech_timeout_s=wait if tapped else None,
            )
        )
    if keeps_preroll(old) != keeps_preroll(new):
        tail.append(ClearPreroll())
    return new, tuple(lead + body + tail)
