"""Turns end to end: the appliance on fake devices, the real link, the emulator on 3.8."""

from __future__ import annotations

from pathlib import Path

from talkbox.audio.format import INPUT_RATE_HZ, seconds
from talkbox.conversation import Earcon, State

from .conftest import MakeEmulator, audio_received, recording, running_box, until

QUESTION = "question-weather.wav"


async def test_a_held_button_sends_what_is_said_while_held_and_the_answer_plays(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        await box.state_is(State.IDLE)
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 3 * 32_000])
        await until(lambda: not box.room.speaking, within=6, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        await box.state_is(State.IDLE, within=15)
    assert emulator.log.client_messages("realtime_input.activityStart")
    assert emulator.log.client_messages("realtime_input.activityEnd")
    sent = seconds(audio_received(emulator), INPUT_RATE_HZ)
    assert 3.0 <= sent <= 3.0 + 0.5 + 0.3  # what was said, the pre-roll, a few frames late
    assert box.world.speaker.audio
    assert box.world.speaker.earcons[:2] == [Earcon.START, Earcon.END]
    assert box.world.indicator.states()[-5:] == [
        State.LISTENING,
        State.THINKING,
        State.SPEAKING,
        State.IDLE,
        None,  # turned off on leaving
    ]
