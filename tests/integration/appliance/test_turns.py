"""Turns end to end: the appliance on fake devices, the real link, the emulator on 3.8."""

from __future__ import annotations

import asyncio
from pathlib import Path

from talkbox.appliance.parts import new_fake_world
from talkbox.audio.format import INPUT_RATE_HZ, seconds
from talkbox.conversation import ButtonReleased, Earcon, State
from talkbox.fakes import frame_bytes

from .conftest import (
    MakeEmulator,
    answer_sent,
    answers_by_connection,
    audio_received,
    audio_records,
    recording,
    running_box,
    speech_span,
    until,
)

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
    # What was said, the pre-roll, and the room's silence until the release lands (a loaded
    # machine may take most of a second to notice the speech ended and release).
    assert 3.0 <= sent <= 3.0 + 0.5 + 1.0
    assert box.world.speaker.audio
    assert box.world.speaker.earcons[:2] == [Earcon.START, Earcon.END]
    assert box.world.indicator.states()[-5:] == [
        State.LISTENING,
        State.THINKING,
        State.SPEAKING,
        State.IDLE,
        None,  # turned off on leaving
    ]


async def test_a_release_takes_the_frames_the_mic_still_holds_back_so_nothing_said_is_lost(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """The mic hands frames over in batches; the end of a held utterance still goes up."""
    emulator = await make_emulator(realtime=True)
    world = new_fake_world()
    # A batch longer than the whole turn: no frame arrives by itself, so everything sent
    # was taken when an event (the press, the release) came.
    world.mic.batch = 10_000
    question = recording(QUESTION)[: 2 * 32_000]
    async with running_box(emulator, tmp_path, world=world, button_mode="hold") as box:
        await box.state_is(State.IDLE)
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(question)
        await until(lambda: not box.room.speaking, within=6, what="spoken")
        box.world.button.release()
        await box.state_is(State.THINKING, within=5)
        await until(
            lambda: bool(emulator.log.client_messages("realtime_input.activityEnd")),
            within=5,
            what="activityEnd",
        )
    sent = audio_received(emulator)
    assert question in sent
    activity_end = emulator.log.client_messages("realtime_input.activityEnd")[0].t
    assert all(t <= activity_end for t, _ in audio_records(emulator))


async def test_a_release_overtaking_frames_on_their_way_still_sends_them_before_the_end(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    # The capture thread hands frames over a moment after they were said; a release posted
    # in that moment must not close the turn without the utterance's last words.
    emulator = await make_emulator(realtime=True)
    frame = frame_bytes()
    tail = recording(QUESTION)[32_000 : 32_000 + 5 * frame]
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        await box.state_is(State.IDLE)
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.stalled = True
        fed = box.room.frames_fed
        await until(lambda: box.world.mic.frames_read >= fed, within=2, what="mic drained")
        # One synchronous step: the release is queued first, the said frames behind it.
        box.app.post(ButtonReleased())
        box.world.mic.feed(tail)
        await box.state_is(State.THINKING, within=2)
        await until(
            lambda: bool(emulator.log.client_messages("realtime_input.activityEnd")),
            within=5,
            what="activityEnd",
        )
    assert audio_received(emulator).endswith(tail)


def offset_in(recording_pcm: bytes, pcm: bytes) -> float:
    """Where the first 20 ms of `pcm` sit in `recording_pcm`, in seconds (fake audio is exact)."""
    index = recording_pcm.find(pcm[:640])
    assert index >= 0, "the audio sent is not from the recording"
    return seconds(index, INPUT_RATE_HZ)


async def test_a_tapped_turn_ends_when_the_local_vad_hears_the_speech_end(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    question = recording(QUESTION)
    _, speech_end = speech_span(QUESTION)
    async with running_box(emulator, tmp_path, follow_up_s=0) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        said_at = asyncio.get_running_loop().time()
        box.room.say(question)
        await box.state_is(State.THINKING, within=8)
        closed_after = asyncio.get_running_loop().time() - said_at
        await box.state_is(State.IDLE, within=15)
    # VAD_END_MS (0.8 s) of silence after the last word, and not before it.
    assert speech_end + 0.6 <= closed_after <= speech_end + 0.8 + 1.2
    assert len(emulator.log.client_messages("realtime_input.activityEnd")) == 1
    assert box.world.speaker.audio


async def test_the_pre_roll_carries_the_first_300_ms_of_speech_to_the_service(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    question = recording(QUESTION)
    speech_start, _ = speech_span(QUESTION)
    async with running_box(emulator, tmp_path) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(question)
        await box.state_is(State.THINKING, within=8)
        await until(lambda: bool(audio_received(emulator)), within=5, what="audio received")
    sent_from = offset_in(question, audio_received(emulator))
    # activityStart goes up VAD_START_MS into the speech; the pre-roll reaches further back.
    assert sent_from <= speech_start - 0.3 + 0.2


async def test_speech_soon_after_an_answer_opens_a_follow_up_turn_without_a_press(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    question = recording(QUESTION)
    async with running_box(emulator, tmp_path, follow_up_s=4) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(question)
        await box.state_is(State.SPEAKING, within=10)
        await box.state_is(State.IDLE, within=15)
        box.room.say(question)
        await box.state_is(State.LISTENING, within=3)
        await box.state_is(State.THINKING, within=8)
    assert len(emulator.log.client_messages("realtime_input.activityStart")) == 2


async def test_a_press_while_the_answer_plays_silences_it_and_opens_a_new_turn(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION))
        await until(lambda: not box.room.speaking, within=8, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        flushes = box.world.speaker.flushes
        box.world.button.press()
        assert box.world.speaker.flushes == flushes  # posted: nothing happens in the callback
        await box.state_is(State.LISTENING, within=2)
        assert box.world.speaker.flushes == flushes + 1
        flushed_at = box.world.speaker.flush_marks[-1]
        # What the server still sends of the interrupted answer is not played.
        await asyncio.sleep(0.3)
        assert len(box.world.speaker.audio) == flushed_at
        box.world.button.release()
        await box.state_is(State.IDLE, within=15)
    assert len(emulator.log.client_messages("realtime_input.activityStart")) == 2


async def test_the_server_interrupting_its_answer_silences_it_and_the_box_rests(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True, faults=["interrupt:after_ms=300@turn=1"])
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 2 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        await box.state_is(State.IDLE, within=5)
        assert box.world.speaker.flushes >= 1
        assert box.app.last_turn is not None
        assert box.app.last_turn.interrupted


async def test_a_long_press_starts_a_new_conversation(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        first = box.app.link.status().conversation_id
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.world.button.hold_long()  # nobody spoke: a new conversation
        await box.state_is(State.IDLE, within=2)
        box.world.button.release()
        await until(
            lambda: box.app.link.status().conversation_id != first,
            within=5,
            what="a new conversation",
        )
        await until(lambda: box.app.link.status().connected, within=10, what="reconnected")
        assert Earcon.END in box.world.speaker.earcons
        assert not box.app.link.status().resumed


async def test_an_answer_sent_four_times_faster_than_real_time_is_played_whole(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True, fast_audio_factor=4.0)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 3 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        started = asyncio.get_running_loop().time()
        await box.state_is(State.IDLE, within=15)
        spoke_for = asyncio.get_running_loop().time() - started
    answer = answer_sent(emulator)
    assert box.world.speaker.audio == answer
    # Speaking lasts as the answer plays, not as it took to arrive.
    assert spoke_for >= seconds(answer, 24_000) - 0.1


async def test_a_turn_resent_after_a_lost_connection_plays_its_answer_once(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True, faults=["abort@turn=1"])
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 2 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        box.world.button.release()
        await until(lambda: box.app.link.status().reconnects >= 1, within=10, what="reconnect")
        await box.state_is(State.SPEAKING, within=10)
        await box.state_is(State.IDLE, within=15)
    answers = answers_by_connection(emulator)
    assert len(answers) == 2
    flushed_at = box.world.speaker.flush_marks[-1]
    assert box.world.speaker.audio[flushed_at:] == answers[-1]
