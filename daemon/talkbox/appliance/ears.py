"""What the box hears of each microphone frame: its own echo out, cleaned, then listened to.

The control task hands every frame here in order (`Appliance`). A frame is echo-cancelled
first (the box's own voice is not the person's) and cleaned (speex, when on), so the
conversation, the wake word and the endpointer all get one audio; it is then applied to the
conversation, fed to the wake word detector (never while muted) and, while the conversation
asks for it, to the endpointer, whose decisions become events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from talkbox.appliance.parts import Parts
from talkbox.appliance.status import Counters
from talkbox.conversation import (
    ApplianceEvent,
    Conversation,
    Event,
    MicFrameCaptured,
    NoSpeechTimedOut,
    SpeechEnded,
    SpeechStarted,
    State,
    UtteranceLimitReached,
    WakeWordHeard,
)
from talkbox.hearing.endpoint import Decision
from talkbox.hearing.vad import FRAME_MS, SILENCE_DBFS, SpeechDetector
from talkbox.ports import MicFrame

log = logging.getLogger(__name__)

MAX_BACKLOG_FRAMES = 100
"""The control task may fall this far behind (2 s of audio) before frames are dropped."""

DECISIONS: dict[Decision, ApplianceEvent] = {
    Decision.STARTED: SpeechStarted(),
    Decision.ENDED: SpeechEnded(),
    Decision.LIMIT: UtteranceLimitReached(),
    Decision.NO_SPEECH: NoSpeechTimedOut(),
}
"""The endpointer's decisions as the events the conversation takes."""


class Ears:
    """The hearing path of the running appliance: one frame at a time, on the control task."""

    def __init__(
        self,
        parts: Parts,
        detector: SpeechDetector,
        counters: Counters,
        *,
        apply: Callable[[Event], None],
        conversation: Callable[[], Conversation],
    ) -> None:
        """Hear with `parts`' mic path; events go to `apply`, the state is `conversation()`."""
        self._parts = parts
        self._detector = detector
        self._counters = counters
        self._apply = apply
        self._conversation = conversation
        self.endpointing = False
        """Whether the endpointer listens (the conversation starts and stops it)."""
        self._wake_stale = False

    def start_endpointing(self, end_on_silence: bool, wait: float | None) -> None:
        """Listen for the end of what is said (or for nothing said within `wait`)."""
        self._detector.endpointer.reset(end_on_silence=end_on_silence, no_speech_timeout_s=wait)
        self.endpointing = True

    def hear_all(self, frames: Sequence[MicFrame]) -> None:
        """Every frame the mic has captured, in order; the oldest dropped past 2 s."""
        counters = self._counters
        counters.frames += len(frames)
        behind = len(frames) - MAX_BACKLOG_FRAMES
        if behind > 0:
            counters.frames_dropped += behind
            if counters.frames_dropped == behind:
                log.warning("the control task fell behind; dropping microphone frames")
            frames = frames[behind:]
        for frame in frames:
            self.hear(frame)

    def hear(self, frame: MicFrame) -> None:
        """One microphone frame: cleaned, to the conversation, the wake word, the endpointer."""
        parts = self._parts
        pcm = frame.pcm
        if parts.echo is not None:
            # Before anything hears it: the box's own voice is not the person's.
            pcm = parts.echo.cancel(pcm, frame.captured_at)
        if parts.cleaner is not None:
            # Before anything hears it: the VAD, the wake word and the uplink get one audio.
            pcm = parts.cleaner.process(pcm)
        self._apply(MicFrameCaptured(pcm=pcm))
        if self._listen_for_wake_word(pcm):
            return  # this frame is the wake word's end, not the start of the question
        if not self.endpointing:
            return
        detector = self._detector
        if frame.earcon or self._echo_unsettled():
            # The box's own tone is not the person speaking, nor its own voice.
            decision = detector.endpointer.feed(FRAME_MS / 1000, False, SILENCE_DBFS)
        else:
            decision = detector.feed(pcm)
        if decision is not Decision.NONE:
            self._apply(DECISIONS[decision])

    def _echo_unsettled(self) -> bool:
        """Over the answer, until the canceller has learnt the room, what it leaves is echo."""
        echo = self._parts.echo
        return (
            echo is not None and self._conversation().state is State.SPEAKING and not echo.settled
        )

    def _listen_for_wake_word(self, pcm: bytes) -> bool:
        """Feed the wake word detector (never while muted); True if its word opened a turn."""
        wake = self._parts.wake
        if wake is None:
            return False
        conversation = self._conversation()
        before = conversation.state
        if before is State.MUTED or conversation.muted:
            # Muted means not listened to, not even on the box (nor while a ring plays over
            # the mute).
            self._wake_stale = True
            return False
        if self._wake_stale:
            wake.reset()  # what it heard before the mute is not part of this stream
            self._wake_stale = False
        detection = wake.process(pcm)
        if detection is None:
            return False
        self._counters.wake_words += 1
        log.info(
            "wake word %s heard (probability %.2f) while %s",
            detection.model_id,
            detection.probability,
            before,
        )
        self._apply(WakeWordHeard(wake_word=detection.model_id))
        return before is not State.LISTENING and self._conversation().state is State.LISTENING
