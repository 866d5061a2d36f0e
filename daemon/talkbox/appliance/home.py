"""The appliance as Home Assistant's bridge sees it: a snapshot, and a person's requests.

HA's mute switch and volume take the very paths `talkbox ctl` takes
(`talkbox.appliance.requests.answer`): HA counts as a person, so its unmute is a person's.
Its talk button is `TalkRequested`: a tap by voice, as the wake word opens a turn, since
nobody holds a remote button (a ctl press in hold mode would stream until the utterance
limit); the conversation refuses it while muted, as it refuses the button.

An announcement is, for the conversation, what an unprompted answer of the model is (audio
for no turn, then its end): the box shows `speaking` while it plays, a press or the wake
word cuts it as they cut an answer, and the microphone is not opened, before or after (no
follow-up listening: nobody asked). Only an idle box takes one: the conversation has no row
for it anywhere else, so a box that is busy, muted or offline plays nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from talkbox.appliance.control import Request, RequestError
from talkbox.appliance.requests import Appliance, answer
from talkbox.conversation import State, TalkRequested
from talkbox.homeassistant.snapshot import Snapshot
from talkbox.live.events import AnswerAudioReceived, GenerationCompleted

log = logging.getLogger(__name__)


def _timer_words(entry: dict[str, Any] | None) -> str | None:
    """The next timer as HA shows it: its name (or kind) and when it rings."""
    if entry is None:
        return None
    label = f"{entry['name']} {entry['kind']}" if entry.get("name") else str(entry["kind"])
    when = f"{entry['rings_at']}" + (f" on {entry['rings_on']}" if "rings_on" in entry else "")
    return f"{label} at {when}"


class ApplianceBox:
    """`talkbox.homeassistant.server.Box` over the running appliance."""

    def __init__(self, app: Appliance) -> None:
        """Look at and drive `app`."""
        self.app = app

    def snapshot(self) -> Snapshot:
        """The state, the mute, the volume and the last turn's facts."""
        app = self.app
        last = app.last_turn
        result = latency = length = transcript = None
        if last is not None:
            if last.answered:
                result = "answered"
            elif last.interrupted:
                result = "interrupted"
            else:
                result = f"not answered: {last.reason}" if last.reason else "not answered"
            latency, length = last.first_audio_s, last.audio_s
            # What was said leaves the box only when the person asked for it.
            transcript = last.transcript if app.settings.log_transcripts else None
        return Snapshot(
            state=str(app.conversation.state),
            muted=app.conversation.muted,
            volume=app.parts.speaker.volume,
            last_turn=result[:255] if result else None,
            latency_s=latency,
            answer_s=length,
            transcript=transcript[:255] if transcript else transcript,
            next_timer=_timer_words(app.timer_tools.next_timer()),
            announcing=app.conversation.state is State.SPEAKING
            and app.conversation.turn_id is None,
            wake_word=app.wake.label,
        )

    def _request(self, request: Request) -> None:
        try:
            answer(self.app, request)
        except RequestError as err:
            log.warning("Home Assistant's %s refused: %s", request.command, err)

    def set_muted(self, muted: bool) -> None:
        """The privacy mute, as `talkbox ctl mute` / `unmute`."""
        self._request(Request(command="mute" if muted else "unmute"))

    def set_volume(self, percent: int) -> None:
        """The volume, as `talkbox ctl volume`."""
        self._request(Request(command="volume", percent=percent))

    def press(self) -> None:
        """Open a turn as a tap by voice (TalkRequested), in either button mode."""
        if self.app.conversation.state is State.MUTED:
            log.info("Home Assistant's talk refused: the box is muted (only a person unmutes)")
        self.app.post(TalkRequested(source="home_assistant"))

    def set_wake_word(self, option: str, who: str, done: Callable[[], None]) -> None:
        """Switch the wake word (off the loop; `talkbox.appliance.wake_choice`)."""
        if not self.app.wake.choose(option, who, done):
            done()

    def announce(self, pcm: bytes, rate: int) -> bool:
        """Play `pcm` as an unprompted answer, when the box is idle; False otherwise."""
        if self.app.conversation.state is not State.IDLE:
            return False
        self.app.post(AnswerAudioReceived(turn_id=None, pcm=pcm, rate=rate))
        self.app.post(GenerationCompleted(turn_id=None))
        return True
