"""The demo's pure parts: its bundled question, the LED timeline and figures, the mock pins."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from talkbox.appliance.status import LastTurn
from talkbox.conversation import ButtonPressed, ButtonReleased, LedKind, State
from talkbox.demo.bench import (
    QUESTION,
    WAKE_QUESTION,
    first_words_end_s,
    question,
    speech_end_s,
)
from talkbox.demo.report import RecordingIndicator, Timeline, Wire, figure_lines, timeline_lines
from talkbox.fakes import FakeIndicator
from talkbox.gpio import ButtonOptions, GpioButton, GpioIndicator, LedOptions, MockPins

ROOT = Path(__file__).parents[3]


def test_the_bundled_recordings_are_the_ones_make_test_audio_wrote() -> None:
    data = ROOT / "daemon" / "talkbox" / "data"
    assert (data / QUESTION).read_bytes() == (ROOT / "tests" / "data" / QUESTION).read_bytes()
    wake = ROOT / "tests" / "data" / "wake" / WAKE_QUESTION
    assert (data / WAKE_QUESTION).read_bytes() == wake.read_bytes()
    assert sorted(path.name for path in data.glob("*.wav")) == sorted([QUESTION, WAKE_QUESTION])


def test_the_question_loads_from_the_package_and_its_speech_ends_before_its_silence() -> None:
    pcm = question()
    assert len(pcm) == 16_000 * 2 * 4.2990625
    # tests/data/speech.json: the speech spans 0.6-2.699 s, then 1.6 s of silence.
    assert abs(speech_end_s(pcm) - 2.699) < 0.02


def test_the_wake_recordings_first_words_end_where_make_test_audio_says_the_word_ends() -> None:
    clips = json.loads((ROOT / "tests" / "data" / "wake" / "clips.json").read_text())
    assert (
        abs(first_words_end_s(question(WAKE_QUESTION)) - clips[WAKE_QUESTION]["wake_end_s"]) < 0.05
    )


def test_speech_end_of_silence_is_its_start() -> None:
    assert speech_end_s(bytes(640)) == 0.0


def test_the_recording_indicator_notes_each_state_before_showing_it() -> None:
    timeline = Timeline()
    inner = FakeIndicator(clock=lambda: 5.0)
    led = RecordingIndicator(inner, timeline, clock=lambda: 4.0)
    led.show(State.LISTENING)
    led.close()
    assert timeline.states == [(4.0, State.LISTENING)]
    assert inner.history == [(5.0, State.LISTENING), (5.0, None)]


def test_pin_changes_count_in_the_row_of_the_state_that_made_them() -> None:
    timeline = Timeline(states=[(9.0, State.IDLE), (10.0, State.LISTENING), (12.0, State.IDLE)])
    timeline.mark(10.0, "button pressed")
    red = [(9.5, 0.0)]
    green = [(9.5, 0.0), (10.001, 0.2), (12.001, 0.0)]
    blue = [(9.5, 0.0), (10.001, 1.0), (12.001, 0.0)]
    lines = timeline_lines(timeline, [red, green, blue], zero=10.0, since=9.5)
    assert lines == [
        "   -0.500 s  idle       LED off              pins R/G/B max 0.00/0.00/0.00, 0 changes",
        "   +0.000 s        button pressed",
        "   +0.000 s  listening  LED blue, steady     pins R/G/B max 0.00/0.20/1.00, 2 changes",
        "   +2.000 s  idle       LED off              pins R/G/B max 0.00/0.00/0.00, 2 changes",
    ]


def test_the_figures_come_from_the_timeline_the_link_and_the_wire() -> None:
    timeline = Timeline(
        states=[
            (10.012, State.LISTENING),
            (13.500, State.THINKING),
            (13.800, State.SPEAKING),
            (16.900, State.IDLE),
        ]
    )
    facts = LastTurn(
        turn_id=1, answered=True, audio_s=3.0, first_audio_s=0.25, duration_s=3.2, transcript="hi"
    )
    lines = figure_lines(
        timeline,
        facts,
        zero=10.0,
        opened_by="press",
        speech_end=12.700,
        played_s=3.4,
        earcons=True,
        wire=Wire(activity_end=13.505, first_audio_sent=13.700),
    )
    figures = dict(line.strip().split("  ", 1) for line in lines)
    figures = {name.strip(): value.strip() for name, value in figures.items()}
    assert figures == {
        "press → LED listening": "12 ms",
        "end of speech → turn closed (VAD)": "800 ms (≈)",
        "turn closed → activityEnd on the wire": "5.0 ms",
        "activityEnd → first answer chunk sent": "195 ms",
        "turn sent → first answer audio (link)": "250 ms",
        "turn closed → LED speaking": "300 ms",
        "answer audio": "3.00 s at 24 kHz",
        "LED speaking for": "3.10 s",
        "turn sent → answer complete (link)": "3.20 s",
        "played (answer.wav)": "3.40 s, earcons included",
        "transcript": "hi",
    }


def test_mock_pins_give_the_led_pins_levels_after_the_state_that_set_them() -> None:
    pins = MockPins()
    try:
        led = GpioIndicator(
            LedOptions(kind=LedKind.RGB, pins=(17, 27, 22)), pin_factory=pins.factory
        )
        since = pins.mark((17, 27, 22))
        timeline = Timeline()
        RecordingIndicator(led, timeline).show(State.LISTENING)
        shown = timeline.states[0][0]
        levels = [pins.levels(pin) for pin in (17, 27, 22)]
        led.close()
    finally:
        pins.close()
    assert [history[-1][1] for history in levels] == [0.0, 0.2, 1.0]
    assert all(history[0][0] >= since for history in levels)
    # Each change lies after the state it shows was noted, so it counts in that state's row.
    assert all(at >= shown for history in levels for at, _ in history[1:])


async def test_mock_pins_press_and_release_the_real_button() -> None:
    pins = MockPins()
    posted: list[object] = []
    try:
        button = GpioButton(
            ButtonOptions(pin=5, bounce_s=0.0),
            loop=asyncio.get_running_loop(),
            post=posted.append,
            pin_factory=pins.factory,
        )
        pins.press(5)
        pins.release(5)
        await asyncio.sleep(0)  # call_soon_threadsafe callbacks run on the next loop pass
        button.close()
    finally:
        pins.close()
    assert posted == [ButtonPressed(), ButtonReleased()]
