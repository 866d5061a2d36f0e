"""The privacy invariant end to end: the emulator's log of received audio against the LED.

Audio may reach the service only while the LED shows `listening` (plus the time a frame
takes to cross the loopback socket), whatever the person does: tap, hold, barge in, mute.
"""

from __future__ import annotations

from pathlib import Path

from talkbox.conversation import MuteRequested, State
from talkbox.fakes import FakeIndicator

from .conftest import MakeEmulator, audio_records, recording, running_box, until

QUESTION = "question-weather.wav"
DELIVERY_S = 0.5
"""How long a frame sent just before the LED changed may take to be logged by the emulator."""


def listening_spans(indicator: FakeIndicator) -> list[tuple[float, float]]:
    """When the LED showed `listening`: (from, to) in monotonic seconds."""
    spans = []
    history = indicator.history
    for index, (at, state) in enumerate(history):
        if state is State.LISTENING:
            until_t = history[index + 1][0] if index + 1 < len(history) else float("inf")
            spans.append((at, until_t))
    return spans


async def test_audio_reaches_the_service_only_while_the_led_shows_listening(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    question = recording(QUESTION)
    async with running_box(emulator, tmp_path, follow_up_s=0) as box:
        # Speech while idle: kept for a pre-roll at most, never sent.
        box.room.say(question[: 2 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        # A tapped turn, answered.
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(question)
        await box.state_is(State.SPEAKING, within=10)
        # Barge in, say something, then mute in the middle of the turn.
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(question)
        await until(lambda: bool(audio_records(emulator)), within=5, what="audio")
        await until(
            lambda: box.app.link.status().pending_turns > 0, within=5, what="the second turn"
        )
        box.app.post(MuteRequested(source="ctl"))
        await box.state_is(State.MUTED, within=2)
        await until(lambda: not box.room.speaking, within=8, what="spoken while muted")
    records = audio_records(emulator)
    spans = listening_spans(box.world.indicator)
    assert len(spans) == 2
    assert records
    outside = [t for t, _ in records if not any(a <= t <= b + DELIVERY_S for a, b in spans)]
    assert outside == []
    # Every message carries one or more of the box's sends (the link sends the audio queued
    # together as one message), and every send at least one 20 ms frame.
    sent = box.app.counters.frames_sent
    assert len(records) <= sent <= sum(len(pcm) for _, pcm in records) // 640
