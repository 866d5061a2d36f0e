"""Rings on the real adapters: the ALSA file speaker drained in real time, the LED and the
button on gpiozero's MockFactory pins, the emulator on gemini-3.8-live.

The ring is heard when the speaker's output holds its tones (`ring_heard_s`), and seen when
the LED pin blinks its rhythm (long flashes, `leds.PATTERNS[LED][RINGING]`); idle with a
timer set flashes briefly (`leds.TIMER_RUNNING`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.audio.standins import AsoundConf, LiveMic, correlation, file_pcm
from talkbox.conversation import PATTERNS, TIMER_RUNNING, LedKind, State
from talkbox.emulator import Emulator
from talkbox.gpio import MockPins
from talkbox.live.backoff import RetryPolicy
from talkbox.timers.ring import ring_heard_s

from .conftest import FAST_POLICY, MakeEmulator, answer_sent, box_settings, recording, until
from .test_alsa_box import PacedSpeaker

BUTTON, LED = 5, 6
QUESTION = "question-weather.wav"
BYTES_PER_S = 48_000
"""The speaker's output: 24 kHz mono S16_LE."""


@dataclass
class RingBox:
    app: Appliance
    mic: LiveMic
    speaker: PacedSpeaker
    pins: MockPins

    def press(self) -> None:
        self.pins.press(BUTTON)

    def release(self) -> None:
        self.pins.release(BUTTON)

    def set_timer(self, seconds: float, name: str) -> None:
        """A timer as the tool sets it, due `seconds` from now."""
        table, _ = self.app.timers.table.add_timer(time.time(), seconds, name)
        self.app.timers.commit(table)


@pytest.fixture
def alsa_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    conf = tmp_path / "asound.conf"
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))
    return conf


@contextlib.asynccontextmanager
async def ring_box(
    emulator: Emulator,
    tmp_path: Path,
    conf: Path,
    *,
    policy: RetryPolicy = FAST_POLICY,
    **overrides: Any,
) -> AsyncIterator[RingBox]:
    mic = LiveMic(tmp_path / "mic.fifo")
    speaker = PacedSpeaker(tmp_path / "speaker.fifo", tmp_path / "played.raw")
    pins = MockPins()
    AsoundConf(conf).write(
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=tmp_path / "mic.fifo"),
            "speaker": file_pcm(output=tmp_path / "speaker.fifo"),
        }
    )
    try:
        await until(speaker.listening, within=10, what="the speaker reads")
        settings = box_settings(
            emulator,
            tmp_path / "state",
            capture_device="mic",
            playback_device="speaker",
            button_mode="hold",
            button_pin=BUTTON,
            led_kind="led",
            led_pins=(LED,),
            **overrides,
        )
        parts = hardware_parts(settings, pin_factory=pins.factory)
        async with Appliance(settings, parts, policy=policy) as app:
            await until(lambda: app.state is not State.STARTING, within=15, what="started")
            yield RingBox(app=app, mic=mic, speaker=speaker, pins=pins)
    finally:
        speaker.kill()
        mic.close()
        pins.close()


def on_times(levels: list[tuple[float, float]]) -> list[float]:
    """How long each whole flash of a pin lasted (high to low), in order."""
    flashes, rose = [], None
    for at, level in levels:
        if level > 0.5 and rose is None:
            rose = at
        elif level <= 0.5 and rose is not None:
            flashes.append(at - rose)
            rose = None
    return flashes


async def wait_s(seconds: float) -> None:
    await asyncio.sleep(seconds)


def ring_since(box: RingBox, offset: int) -> float:
    return ring_heard_s(box.speaker.audio()[offset:])


async def test_two_timers_due_at_once_ring_once_heard_and_seen_and_a_press_stops_it(
    make_emulator: MakeEmulator, tmp_path: Path, alsa_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True)
    async with ring_box(emulator, tmp_path, alsa_env) as box:
        assert box.app.state is State.IDLE
        box.pins.mark((LED,))
        table, _ = box.app.timers.table.add_timer(time.time(), 2, "pasta")
        table, _ = table.add_timer(time.time(), 2, "tea")
        box.app.timers.commit(table)
        await until(lambda: box.app.state is State.RINGING, within=5, what="ringing")
        # Idle with the timers set: the LED's brief flash, not the steady off of idle.
        hint = on_times(box.pins.levels(LED))
        assert hint, "idle showed no timer pattern"
        assert hint[0] == pytest.approx(TIMER_RUNNING[LedKind.LED].on_s, abs=0.1)
        box.pins.mark((LED,))
        await wait_s(2.5)
        flashes = on_times(box.pins.levels(LED))
        ringing = PATTERNS[LedKind.LED][State.RINGING]
        assert len(flashes) >= 3
        assert sorted(flashes)[len(flashes) // 2] == pytest.approx(ringing.on_s, abs=0.15)
        await until(
            lambda: ring_heard_s(box.speaker.audio()) >= 0.8, within=5, what="two cycles heard"
        )
        box.press()
        await until(lambda: box.app.state is State.IDLE, within=2, what="stopped by the press")
        box.release()
        # What was already in the FIFO's buffer still reaches the file; nothing after it.
        await wait_s(1.5)
        after = len(box.speaker.audio())
        await wait_s(2.0)
        assert ring_since(box, after) == 0.0
        assert box.app.state is State.IDLE
    rang = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ringing:")]
    assert rang == ["ringing: the pasta timer, the tea timer"]
    assert any(r.getMessage() == "the ring stopped: stopped by a press" for r in caplog.records)


async def test_a_spoken_timer_request_goes_through_the_sdk_and_its_ring_cuts_an_answer(
    make_emulator: MakeEmulator, tmp_path: Path, alsa_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # The model calls set_timer for the spoken question as it would for "set a pasta timer
    # for a minute": whole numbers, the name as said.
    emulator = await make_emulator(
        realtime=True,
        faults=['tool_call:name=set_timer,args={"minutes": 1, "name": "pasta"}@turn=1'],
    )
    question = recording(QUESTION)[: 4 * 32_000]
    async with ring_box(emulator, tmp_path, alsa_env, timer_ring_s=5) as box:
        box.press()
        await until(lambda: box.app.state is State.LISTENING, within=2, what="listening")
        box.mic.say(question)
        await until(lambda: not box.mic.speaking, within=10, what="spoken")
        box.release()
        await until(lambda: box.app.state is State.SPEAKING, within=10, what="speaking")
        (pasta,) = box.app.timers.table.entries
        assert pasta.name == "pasta"
        assert pasta.seconds == 60
        # The pasta timer falls due a moment from now, mid-answer.
        now = time.time()
        table, _ = box.app.timers.table.change(now, pasta, -(pasta.left(now) - 0.3))
        box.app.timers.commit(table)
        await until(lambda: box.app.state is State.RINGING, within=3, what="the ring cut in")
        rang_at = time.monotonic()
        await until(lambda: ring_heard_s(box.speaker.audio()) >= 0.4, within=5, what="heard")
        # Nobody stops it: it ends after TIMER_RING_S.
        await until(lambda: box.app.state is State.IDLE, within=10, what="timed out")
        rang_for = time.monotonic() - rang_at
        played = box.speaker.audio()
    assert 4.5 <= rang_for <= 8.0
    responses = [
        response
        for r in emulator.log.client_messages("tool_response")
        for response in r.message["toolResponse"]["functionResponses"]
    ]
    assert [r["response"]["result"] for r in responses] == ["the pasta timer is set"]
    messages = [r.getMessage() for r in caplog.records]
    assert "the pasta timer rang for 5 s and nobody stopped it (TALKBOX_TIMER_RING_S)" in messages
    states = [m.removeprefix("state: ") for m in messages if m.startswith("state: ")]
    assert states[states.index("speaking") + 1] == "ringing"
    # The answer was cut: the rest of it never played, after the ring or ever.
    answer = answer_sent(emulator)
    assert len(answer) >= 3 * BYTES_PER_S
    assert correlation(played, answer) < 0.8


async def test_a_timer_due_while_offline_rings_all_the_same(
    make_emulator: MakeEmulator, tmp_path: Path, alsa_env: Path
) -> None:
    emulator = await make_emulator(
        realtime=True, faults=["abort@t=0.3,conn=1", "reject_upgrade:status=503@conn=2-"]
    )
    policy = RetryPolicy(
        base_s=0.05, cap_s=0.2, fatal_retry_s=30.0, stable_after_s=5.0, offline_after_s=1.0
    )
    async with ring_box(emulator, tmp_path, alsa_env, policy=policy) as box:
        await until(lambda: box.app.state is State.OFFLINE, within=10, what="offline")
        box.set_timer(1, "bread")
        await until(lambda: box.app.state is State.RINGING, within=4, what="ringing offline")
        await until(lambda: ring_heard_s(box.speaker.audio()) >= 0.4, within=5, what="heard")
        box.press()
        await until(lambda: box.app.state is State.OFFLINE, within=2, what="back to offline")
        box.release()
