"""A tapped turn on real speech: conversation, pre-roll, webrtcvad and endpointer together.

Frames are handled as the appliance handles them: each frame is applied to the conversation
first (sent, or kept for the pre-roll), then fed to the endpointer while one runs, and its
decision is applied.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

import talkbox.conversation as cv
from talkbox.conversation import events as ev
from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions, PreRoll
from talkbox.hearing.vad import FRAME_BYTES, FRAME_MS, SpeechDetector, WebRtcVad
from talkbox.live import events as link

DATA = Path(__file__).parents[2] / "data"
SPEECH = json.loads((DATA / "speech.json").read_text(encoding="utf-8"))
PREROLL_MS = 500
DECISIONS = {
    Decision.STARTED: ev.SpeechStarted(),
    Decision.ENDED: ev.SpeechEnded(),
    Decision.LIMIT: ev.UtteranceLimitReached(),
    Decision.NO_SPEECH: ev.NoSpeechTimedOut(),
}


class Appliance:
    """The frame handling of talkbox.appliance.app, without devices: records what went upstream."""

    def __init__(self) -> None:
        self.c, _ = cv.start(cv.TurnOptions(mode=cv.Mode.TAP))
        self.preroll = PreRoll(max_bytes=PREROLL_MS * 32)
        self.detector = SpeechDetector(WebRtcVad(3), Endpointer(EndpointOptions()))
        self.endpointing = False
        self.upstream: list[tuple[str, int]] = []  # (what, frame index)
        self.frame_index = 0
        self.apply(link.LinkConnected(resumed=False, conversation_id="c", reconnects=0, reason=""))

    def apply(self, event: cv.Event) -> None:
        self.c, actions = cv.apply(self.c, event)
        for action in actions:
            match action:
                case cv.SendActivityStart():
                    self.upstream.append(("activityStart", self.frame_index))
                    self.apply(ev.TurnOpened(turn_id=1))
                case cv.SendPreroll():
                    pcm = self.preroll.take()
                    first = self.frame_index - len(pcm) // FRAME_BYTES + 1
                    self.upstream += [("audio", i) for i in range(first, self.frame_index + 1)]
                case cv.SendAudio():
                    self.upstream.append(("audio", self.frame_index))
                case cv.SendActivityEnd():
                    self.upstream.append(("activityEnd", self.frame_index))
                case cv.RememberForPreroll(pcm=pcm):
                    self.preroll.remember(pcm)
                case cv.ClearPreroll():
                    self.preroll.clear()
                case cv.StartEndpointing(end_on_silence=end, no_speech_timeout_s=wait):
                    self.detector.endpointer.reset(end_on_silence=end, no_speech_timeout_s=wait)
                    self.endpointing = True
                case cv.StopEndpointing():
                    self.endpointing = False
                case _:
                    pass

    def frame(self, pcm: bytes) -> None:
        self.apply(ev.MicFrameCaptured(pcm=pcm))
        if self.endpointing:
            decision = self.detector.feed(pcm)
            if decision is not Decision.NONE:
                self.apply(DECISIONS[decision])
        self.frame_index += 1


def frames(name: str) -> list[bytes]:
    with wave.open(str(DATA / name)) as wav:
        pcm = wav.readframes(wav.getnframes())
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]


@pytest.mark.parametrize("name", sorted(SPEECH))
def test_a_tapped_turn_sends_the_whole_sentence_from_before_its_first_syllable(name: str) -> None:
    speech_start, speech_end = SPEECH[name]["speech"]
    box = Appliance()
    pcm = frames(name)
    box.apply(ev.ButtonPressed())  # tapped before the file starts
    for frame in pcm:
        box.frame(frame)
    kinds = [what for what, _ in box.upstream]
    assert kinds[0] == "activityStart"
    assert kinds.count("activityEnd") == 1
    assert box.c.state is cv.State.THINKING
    sent = [i for what, i in box.upstream if what == "audio"]
    assert sent == list(range(sent[0], sent[-1] + 1)), "a frame was lost or sent twice"
    first_s, last_s = sent[0] * FRAME_MS / 1000, (sent[-1] + 1) * FRAME_MS / 1000
    # The pre-roll reaches back before the first syllable; the turn ends after the last.
    assert first_s <= speech_start - 0.1
    assert last_s >= speech_end + 0.5
