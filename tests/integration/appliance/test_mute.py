"""The privacy mute: a person or the model mutes, only a person unmutes, a restart keeps it."""

from __future__ import annotations

from pathlib import Path

from talkbox.conversation import Earcon, State
from talkbox.emulator import Emulator

from .conftest import MakeEmulator, audio_received, recording, running_box, until

QUESTION = "question-weather.wav"


def tool_responses(emulator: Emulator) -> list[str]:
    """The names of the functions the appliance answered, in order."""
    return [
        call["name"]
        for r in emulator.log.client_messages("tool_response")
        for call in r.message["toolResponse"]["functionResponses"]
    ]


async def test_a_double_press_mutes_and_the_mute_survives_a_restart(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path) as box:
        box.world.button.double_press()
        await box.state_is(State.MUTED, within=2)
    assert (tmp_path / "mute.json").read_text(encoding="utf-8") == '{"muted": true}'
    async with running_box(emulator, tmp_path) as box:
        await box.state_is(State.MUTED, within=2)
        box.world.button.press()  # muted: the press opens nothing
        box.room.say(recording(QUESTION))
        await until(lambda: not box.room.speaking, within=8, what="spoken")
        assert box.app.state is State.MUTED
        assert audio_received(emulator) == b""
        box.world.button.double_press()
        await box.state_is(State.IDLE, within=2)
    assert (tmp_path / "mute.json").read_text(encoding="utf-8") == '{"muted": false}'


async def test_the_model_can_mute_the_microphone_and_only_a_person_unmutes_it(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True, faults=["tool_call:name=mute_microphone@turn=1"])
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[:32_000])
        await until(lambda: not box.room.speaking, within=3, what="spoken")
        box.world.button.release()
        await box.state_is(State.MUTED, within=5)
        assert box.world.speaker.earcons[:2] == [Earcon.START, Earcon.END]
        await until(
            lambda: "mute_microphone" in tool_responses(emulator), within=3, what="answered"
        )
        box.world.button.double_press()  # a person
        await box.state_is(State.IDLE, within=2)
