"""Hands-free end to end: the real wake word detector, VADs and speex in the appliance on fakes.

The fake microphone is fed real (synthesized) speech in real time (tests/data, made by
scripts/make-test-audio); the link and the emulator on gemini-3.8-live are real. Fake audio
is exact, so where the first frame sent sits in a clip says what of it went up.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from talkbox.conversation import MuteRequested, State, UnmuteRequested

from .conftest import (
    DATA,
    MakeEmulator,
    audio_received,
    recording,
    running_box,
    speech_span,
    until,
)

CLIPS = json.loads((DATA / "wake" / "clips.json").read_text(encoding="utf-8"))
WAKE_QUESTION = "wake/okay_nabu-question-en-gb.wav"
WAKE_ALONE = "wake/okay_nabu-en-us.wav"
QUESTION = "question-weather.wav"
LISTENING = "okay_nabu,alexa,hey_mycroft"  # hey_jarvis does not hear espeak-ng's voices


def sent_from(clip: bytes, sent: bytes) -> float:
    """Where in `clip` the audio sent begins, in seconds (placed by its first unique frame)."""
    for index in range(0, len(sent), 640):
        frame = sent[index : index + 640]
        if any(frame) and clip.count(frame) == 1:
            return (clip.find(frame) - index) / 32_000
    raise AssertionError("the audio sent is not from the clip")


def activity_starts(emulator: Any) -> int:
    return len(emulator.log.client_messages("realtime_input.activityStart"))


@pytest.mark.parametrize("cleaning", [{}, {"noise_suppression": 2, "auto_gain": -20.0}])
async def test_a_wake_word_and_question_are_answered_and_only_the_question_goes_up(
    make_emulator: MakeEmulator, tmp_path: Path, cleaning: dict[str, Any]
) -> None:
    emulator = await make_emulator(realtime=True)
    clip = recording(WAKE_QUESTION)
    facts = CLIPS[WAKE_QUESTION.removeprefix("wake/")]
    async with running_box(
        emulator, tmp_path, wake_word=LISTENING, follow_up_s=0, **cleaning
    ) as box:
        await box.state_is(State.IDLE)
        box.room.say(clip)
        await box.state_is(State.LISTENING, within=5)
        await box.state_is(State.THINKING, within=10)
        await box.state_is(State.SPEAKING, within=10)
        await box.state_is(State.IDLE, within=15)
        wakes = box.app.counters.wake_words
    assert wakes == 1
    assert activity_starts(emulator) == 1
    assert box.world.speaker.audio
    if not cleaning:
        # Raw audio is exact: the first frame sent is after the word and before the question.
        start = sent_from(clip, audio_received(emulator))
        assert facts["wake_end_s"] <= start <= facts["question_start_s"]
    else:
        sent = len(audio_received(emulator)) / 32_000
        assert sent <= facts["duration_s"] - facts["wake_end_s"]


async def test_speech_without_a_wake_word_sends_nothing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, wake_word=LISTENING) as box:
        await box.state_is(State.IDLE)
        for name in (QUESTION, "wake/near-miss-en-us.wav", "question-story-pause.wav"):
            box.room.say(recording(name))
        await until(lambda: not box.room.speaking, within=20, what="spoken")
        await asyncio.sleep(0.5)  # the last frames reach the detector
        assert box.app.state is State.IDLE
        assert box.app.counters.wake_words == 0
    assert activity_starts(emulator) == 0
    assert audio_received(emulator) == b""
    assert State.LISTENING not in box.world.indicator.states()


async def test_a_wake_word_while_the_answer_plays_silences_it_and_opens_a_turn(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(
        emulator, tmp_path, wake_word="okay_nabu", follow_up_s=0, no_speech_timeout_s=1.0
    ) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION))
        await box.state_is(State.SPEAKING, within=10)
        flushes = box.world.speaker.flushes
        box.room.say(recording(WAKE_ALONE))
        await box.state_is(State.LISTENING, within=5)
        assert box.world.speaker.flushes == flushes + 1
        # Nothing is said after the word: the turn ends unsent.
        await box.state_is(State.IDLE, within=5)
    assert activity_starts(emulator) == 1


async def test_a_wake_word_while_muted_does_nothing_and_works_again_after_unmuting(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(
        emulator, tmp_path, wake_word="okay_nabu", no_speech_timeout_s=1.0
    ) as box:
        await box.state_is(State.IDLE)
        box.app.post(MuteRequested(source="ctl"))
        await box.state_is(State.MUTED, within=2)
        box.room.say(recording(WAKE_ALONE))
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        await asyncio.sleep(0.5)
        assert box.app.state is State.MUTED
        assert box.app.counters.wake_words == 0
        box.app.post(UnmuteRequested(source="ctl"))
        await box.state_is(State.IDLE, within=2)
        box.room.say(recording(WAKE_ALONE))
        await box.state_is(State.LISTENING, within=5)
        await box.state_is(State.IDLE, within=5)
    assert box.app.counters.wake_words == 1
    assert activity_starts(emulator) == 0


@pytest.mark.parametrize("vad", ["webrtc", "silero"])
@pytest.mark.parametrize("noise_suppression", [None, 2])
async def test_either_vad_ends_a_tapped_turn_after_the_speech_and_not_at_its_pause(
    make_emulator: MakeEmulator, tmp_path: Path, vad: str, noise_suppression: int | None
) -> None:
    emulator = await make_emulator(realtime=True)
    name = "question-story-pause.wav"
    _, speech_end = speech_span(name)
    async with running_box(
        emulator, tmp_path, vad=vad, noise_suppression=noise_suppression, follow_up_s=0
    ) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        said_at = asyncio.get_running_loop().time()
        box.room.say(recording(name))
        await box.state_is(State.THINKING, within=10)
        closed_after = asyncio.get_running_loop().time() - said_at
        await box.state_is(State.IDLE, within=15)
    # After the last word (the 400 ms pause comes 1.1 s before it), within VAD_END_MS and slack.
    assert speech_end + 0.5 <= closed_after <= speech_end + 0.8 + 1.5
    assert len(emulator.log.client_messages("realtime_input.activityEnd")) == 1
