"""A press before the link has loaded the SDK is a press while the box is starting.

The daemon says READY=1 before google.genai is imported (the link loads it on a thread, then
connects). Until the first connection the conversation rests in `starting`, whatever keeps
the link from it: a press then is refused with the error earcon, as a press while the first
connection opens always was, and nothing goes up. Here the SDK's load is held open while the
person presses and speaks; once it loads, the box connects, rests idle and answers a turn.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from talkbox.conversation import Earcon, State
from talkbox.live import link as link_module

from .conftest import MakeEmulator, audio_received, recording, running_box, until

QUESTION = "question-weather.wav"


async def test_a_press_while_the_sdk_loads_is_refused_as_while_starting_then_turns_work(
    make_emulator: MakeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = await make_emulator(realtime=True)
    loaded = threading.Event()
    real_load = link_module._load_sdk

    def held_load() -> None:
        # Bounded: a failing test must not leave the executor's thread waiting for good.
        loaded.wait(30)
        real_load()

    monkeypatch.setattr(link_module, "_load_sdk", held_load)
    question = recording(QUESTION)[: 2 * 32_000]
    try:
        async with running_box(
            emulator, tmp_path, connected=False, button_mode="hold", follow_up_s=0
        ) as box:
            await box.state_is(State.STARTING, within=2)
            box.world.button.press()
            await until(
                lambda: box.world.speaker.earcons == [Earcon.ERROR], within=2, what="refused"
            )
            box.room.say(question)
            await until(lambda: not box.room.speaking, within=6, what="spoken")
            box.world.button.release()
            assert box.app.state is State.STARTING
            assert not box.app.link.status().connected
            assert box.app.counters.frames_sent == 0
            loaded.set()
            await box.state_is(State.IDLE, within=15)
            assert audio_received(emulator) == b""
            box.world.button.press()
            await box.state_is(State.LISTENING, within=2)
            box.room.say(question)
            await until(lambda: not box.room.speaking, within=6, what="spoken")
            box.world.button.release()
            await box.state_is(State.SPEAKING, within=15)
            await box.state_is(State.IDLE, within=20)
    finally:
        loaded.set()
    assert len(emulator.log.client_messages("realtime_input.activityStart")) == 1
    assert question in audio_received(emulator)
    assert box.world.speaker.audio
