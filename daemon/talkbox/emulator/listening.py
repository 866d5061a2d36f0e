"""Hearing the user: where activities start and end, and the audio each turn keeps.

With activity detection disabled the client marks turns (``activityStart``/``activityEnd``);
otherwise the `Endpointer` finds them in the audio's loudness, and ``audioStreamEnd`` ends a
turn in progress. Audio is kept at the rate of a turn's first chunk, bounded in length.
"""

from __future__ import annotations

from talkbox.emulator import model
from talkbox.emulator.endpoint import Endpointer, Step
from talkbox.emulator.protocol import INVALID_ARGUMENT, duration_text
from talkbox.emulator.side import ConnectionSide

#: Audio outside any activity kept for TURN_INCLUDES_ALL_INPUT (the newest seconds).
MAX_IDLE_S = 60
#: How often (seconds of the user's audio) interimInputTranscription is updated.
INTERIM_EVERY_S = 0.5
#: The most audio one user turn keeps (the rest is dropped): memory stays bounded whatever a
#: client streams, and the echo of it stays a sane length.
MAX_TURN_AUDIO_S = 300


class Listener:
    """Turns a connection's activity signals and audio into user turns for its Responder."""

    def __init__(self, conn: ConnectionSide, silence_s: float) -> None:
        """Hear for `conn`; automatic detection ends a turn after `silence_s` of quiet."""
        self.conn = conn
        self.activity: model.UserTurn | None = None
        #: Audio outside any activity, kept for TURN_INCLUDES_ALL_INPUT.
        self._idle_audio = model.UserTurn("audio")
        self._endpointer = Endpointer(silence_s)
        #: Seconds of client audio received, the clock of voiceActivity offsets.
        self._audio_s = 0.0
        self._speech_end_s = 0.0
        #: Seconds of the open activity the last interim transcript said.
        self._interim_s = 0.0

    async def activity_start(self) -> None:
        """`activityStart`: a turn begins (and interrupts the answer)."""
        if not self.conn.facts.manual_activity:
            await self._outside_manual_mode()
            return
        self.conn.responder.barge_in()
        self.activity = self._new_activity()

    async def activity_end(self) -> None:
        """`activityEnd`: the turn in progress ends and is answered."""
        if not self.conn.facts.manual_activity:
            await self._outside_manual_mode()
            return
        if self.activity is not None:
            self.conn.responder.end_turn(self.activity)
            self.activity = None

    async def stream_end(self) -> None:
        """`audioStreamEnd`: under automatic detection it ends a turn in progress."""
        conn = self.conn
        if conn.facts.manual_activity:
            if conn.options.stream_end_under_manual_vad == "close":
                await conn.close(1007, INVALID_ARGUMENT)
        elif self._endpointer.stream_ended() and self.activity is not None:
            conn.responder.end_turn(self.activity)
            self.activity = None
            await self._signal("ACTIVITY_END", self._speech_end_s)

    async def audio(self, pcm: bytes, rate: int) -> None:
        """A chunk of client audio at `rate` Hz."""
        conn = self.conn
        if conn.facts.manual_activity:
            if self.activity is not None:
                append(self.activity, pcm, rate)
                await self._interim(self.activity)
            else:
                self._keep_idle(pcm, rate)
            return
        loud = model.rms(pcm) >= conn.options.silence_rms
        seconds = len(pcm) / 2 / rate
        started_at = self._audio_s
        self._audio_s += seconds
        if loud:
            self._speech_end_s = self._audio_s
        step = self._endpointer.feed(loud, seconds)
        if step is Step.IDLE:
            self._keep_idle(pcm, rate)
            return
        if step is Step.START:
            conn.responder.barge_in()
            self.activity = self._new_activity()
            await self._signal("ACTIVITY_START", started_at)
        activity = self.activity
        # The endpointer is in speech exactly while an activity is open (both end together).
        assert activity is not None
        append(activity, pcm, rate)
        if step is not Step.END:
            await self._interim(activity)
        if step is Step.END:
            conn.responder.end_turn(activity)
            self.activity = None
            await self._signal("ACTIVITY_END", self._speech_end_s)

    async def _interim(self, activity: model.UserTurn) -> None:
        """While the user speaks, the models that have it send what they heard so far."""
        conn = self.conn
        if not (conn.row.combined_parts and conn.facts.input_transcription):
            return
        if activity.seconds - self._interim_s >= INTERIM_EVERY_S:
            self._interim_s = activity.seconds
            text = model.input_transcript(activity)
            await conn.send({"serverContent": {"interimInputTranscription": {"text": text}}})

    async def _outside_manual_mode(self) -> None:
        if self.conn.options.activity_under_auto_vad == "close":
            await self.conn.close(1007, INVALID_ARGUMENT)

    async def _signal(self, kind: str, at_s: float) -> None:
        if self.conn.switches.voice_activity:
            offset = duration_text(round(at_s, 3))
            await self.conn.send({"voiceActivity": {"type": kind, "audioOffset": offset}})

    def _keep_idle(self, pcm: bytes, rate: int) -> None:
        # TURN_INCLUDES_ONLY_ACTIVITY (the default) drops audio outside an activity.
        if self.conn.facts.all_input:
            idle = self._idle_audio
            append(idle, pcm, rate)
            # A client streaming with no activity for long must not grow memory forever.
            excess = len(idle.audio) - MAX_IDLE_S * idle.rate * 2
            if excess > 0:
                del idle.audio[:excess]

    def _new_activity(self) -> model.UserTurn:
        self._interim_s = 0.0
        turn, self._idle_audio = self._idle_audio, model.UserTurn("audio")
        return turn


def append(turn: model.UserTurn, pcm: bytes, rate: int) -> None:
    """Add audio to a turn at the turn's rate, up to MAX_TURN_AUDIO_S."""
    if not turn.audio:
        turn.rate = rate
    elif rate != turn.rate:
        pcm = model.resample(pcm, rate, turn.rate)
    room = MAX_TURN_AUDIO_S * turn.rate * 2 - len(turn.audio)
    turn.audio.extend(pcm[: max(0, room)])
