"""Full duplex on the ALSA stand-ins: the box's answer comes back into its own microphone.

The speaker is a `file` PCM writing into a FIFO that `echo_room.py` (a subprocess) drains in
real time and plays back into the microphone FIFO through an echo path (soft clipping, a
room's decay, a delay), adding what the test says. So the canceller runs with the daemon's
real threads, timing and reference. The question asked holds the wake word, and the emulator
answers with its echo: the answer says the wake word too.

- With TALKBOX_ECHO_CANCEL=auto the box plays that answer to its end without hearing its
  own wake word, and the person's wake word said over the next answer interrupts it.
- With off, the same answer interrupts itself: the room does carry the wake word back.
- With TALKBOX_BARGE_IN=voice, the box's own answers, cancelled, never open a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.audio.standins import asound_conf, file_pcm
from talkbox.conversation import State
from talkbox.hearing.echo import RoomEchoCanceller

from .conftest import FAST_POLICY, MakeEmulator, box_settings, recording, until

ROOM = Path(__file__).with_name("echo_room.py")
BUTTON = 5
QUESTION = "wake/okay_nabu-question-en-gb.wav"  # "okay nabu ... What time is it in Tokyo?"
WARM_UP = "question-story-pause.wav"
STARTS = "realtime_input.activityStart"


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


class EchoRoom:
    """The echo_room.py subprocess: says what the test gives it, over the speaker's echo."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.speaker = directory / "speaker.fifo"
        self.mic = directory / "mic.fifo"
        self.said = 0
        self.process = subprocess.Popen(
            [sys.executable, str(ROOM), str(self.speaker), str(self.mic)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def say(self, *names: str) -> float:
        """Say recordings from tests/data, one after another; how long they last, in seconds."""
        pcm = b"".join(recording(name) for name in names)
        self.said += 1
        path = self.directory / f"say-{self.said}.raw"
        path.write_bytes(pcm)
        assert self.process.stdin is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        return len(pcm) / 32_000

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


async def ask(room: EchoRoom, factory: MockFactory, app: Appliance, *question: str) -> None:
    """Hold the button over the question (the whole of it goes up), then let go."""
    button = factory.pin(BUTTON)
    button.drive_low()
    await until(lambda: app.state is State.LISTENING, within=10, what="listening")
    await asyncio.sleep(room.say(*question) + 0.2)
    button.drive_high()


@pytest.mark.parametrize("echo_cancel", ["auto", "off"])
async def test_the_box_does_not_hear_itself_and_hears_the_person_over_its_answer(
    echo_cancel: str,
    make_emulator: MakeEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    factory: MockFactory,
) -> None:
    conf = tmp_path / "asound.conf"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    emulator = await make_emulator(realtime=True)
    room = EchoRoom(tmp_path)
    asound_conf(
        conf,
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=room.mic),
            "speaker": file_pcm(output=room.speaker),
        },
    )
    settings = box_settings(
        emulator,
        tmp_path / "state",
        capture_device="mic",
        playback_device="speaker",
        wake_word="okay_nabu",
        button_pin=BUTTON,
        button_mode="hold",
        follow_up_s=0,
        echo_cancel=echo_cancel,
    )
    try:
        async with Appliance(
            settings, hardware_parts(settings, pin_factory=factory), policy=FAST_POLICY
        ) as app:
            await until(lambda: app.state is State.IDLE, within=15, what="idle")
            # A first answer without the wake word: the filter learns the room on it (speex
            # converges in 1-2.5 s, docs/echo-cancellation.md §4).
            await ask(room, factory, app, WARM_UP)
            await until(lambda: app.state is State.SPEAKING, within=15, what="the 1st answer")
            await until(lambda: app.state is State.IDLE, within=30, what="the 1st answer played")
            # The answer says "okay nabu" some 5 s in. On the stand-ins the speaker's delay is
            # not reported and moves at each answer, and further when the machine is loaded
            # (playback stalls): the filter may not have followed it by then
            # (docs/echo-cancellation.md §3). So: of up to three such answers, one must play
            # whole without the box hearing itself; with off, the first one never does.
            whole = 0
            for _ in range(3):
                await ask(room, factory, app, WARM_UP, QUESTION)
                await until(lambda: app.state is State.SPEAKING, within=15, what="the answer")
                heard_before = app.counters.wake_words  # the question's own "okay nabu"
                await until(
                    lambda before=heard_before: (
                        app.state is not State.SPEAKING or app.counters.wake_words > before
                    ),
                    within=30,
                    what="the answer played or interrupted",
                )
                if app.counters.wake_words == heard_before:
                    whole += 1
                    break
                if echo_cancel == "off":
                    break
                # It heard itself: the turn it opened hears no one and ends.
                await until(lambda: app.state is State.IDLE, within=15, what="back to idle")
            if echo_cancel == "off":
                assert whole == 0
                assert app.state is State.LISTENING  # it interrupted itself
                return
            assert whole == 1
            await until(lambda: app.state is State.IDLE, within=5, what="idle after the answer")
            echo = app.parts.echo
            assert isinstance(echo, RoomEchoCanceller)
            assert echo.frames > 100  # the canceller did run over the answers
            # The next answer: the person's wake word over it interrupts it.
            await ask(room, factory, app, QUESTION)
            await until(lambda: app.state is State.SPEAKING, within=15, what="the 3rd answer")
            heard_before = app.counters.wake_words
            await asyncio.sleep(1.5)  # well into the answer: the filter has converged
            # "okay nabu ... What time is it in Tokyo?": the word interrupts, the question
            # after it goes up as the new turn.
            asked = len(emulator.log.client_messages(STARTS))
            room.say(QUESTION)
            await until(lambda: app.state is State.LISTENING, within=10, what="barge-in")
            assert app.counters.wake_words == heard_before + 1
            await until(
                lambda: len(emulator.log.client_messages(STARTS)) > asked, within=10, what="a turn"
            )
    finally:
        room.close()


async def test_with_barge_in_by_voice_the_box_own_answers_never_open_a_turn(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    factory: MockFactory,
) -> None:
    conf = tmp_path / "asound.conf"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    emulator = await make_emulator(realtime=True)
    room = EchoRoom(tmp_path)
    asound_conf(
        conf,
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=room.mic),
            "speaker": file_pcm(output=room.speaker),
        },
    )
    settings = box_settings(
        emulator,
        tmp_path / "state",
        capture_device="mic",
        playback_device="speaker",
        button_pin=BUTTON,
        button_mode="hold",
        follow_up_s=0,
        barge_in="voice",
    )
    try:
        async with Appliance(
            settings, hardware_parts(settings, pin_factory=factory), policy=FAST_POLICY
        ) as app:
            await until(lambda: app.state is State.IDLE, within=15, what="idle")
            # Two whole answers: the box's own voice, cancelled, never opens a turn. (That the
            # person's speech over a settled answer does is shown by the unit tests and
            # benchmarks/echo.py: on these stand-ins, under load, the canceller may not settle
            # within an answer, docs/echo-cancellation.md §3.)
            for question in (WARM_UP, QUESTION):
                await ask(room, factory, app, question)
                await until(lambda: app.state is State.SPEAKING, within=15, what="an answer")
                await until(lambda: app.state is State.IDLE, within=30, what="it played")
            assert len(emulator.log.client_messages(STARTS)) == 2
    finally:
        room.close()
