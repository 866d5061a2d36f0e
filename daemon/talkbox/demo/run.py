"""`talkbox demo`: the whole appliance on built-in stand-ins, with no Pi, sound card or internet.

The real `Appliance` runs on its real adapters (`talkbox.appliance.hardware`: ALSA capture and
playback, webrtcvad, the gpiozero button and LED) over the bench of `talkbox.demo.bench`,
talking to the project's emulator in process (gemini-3.8-live, paced as the model is) or,
with `--live`, to Gemini with the user's settings. One trigger (`talkbox.demo.trigger`)
opens the turn and speaks the bundled question; the demo then waits, every wait bounded,
for the turn to close, the answer to play and the box to go idle, prints the LED timeline
and the turn's figures (`talkbox.demo.report`) and saves what the speaker played.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from talkbox.appliance.app import Appliance, OpenParts
from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.parts import Parts, Post
from talkbox.appliance.status import LastTurn
from talkbox.audio.format import ANSWER_RATE_HZ, seconds
from talkbox.audio.wav import write_wav
from talkbox.config import Settings, load_settings
from talkbox.conversation import State
from talkbox.demo.bench import (
    BUTTON_PIN,
    LED_PINS,
    SETTINGS,
    Bench,
    DemoFailed,
    open_bench,
    question,
    until,
)
from talkbox.demo.report import (
    PinLevels,
    RecordingIndicator,
    Timeline,
    Wire,
    figure_lines,
    timeline_lines,
)
from talkbox.demo.trigger import BUTTON_TAP, Asked, Stage, Trigger
from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.errors import ExitCode
from talkbox.sigterm import stop_on_sigterm

DEMO_KEY: Final = "talkbox-demo-key"
MODEL: Final = "gemini-3.8-live"
ANSWER_WAV: Final = "answer.wav"
# Every wait is bounded, generously: a loaded 2-core machine, or arm64 under qemu.
READY_S: Final = 60.0
"""Devices open, connected and idle."""
CLOSED_S: Final = 30.0
"""From the end of the question's speech to the turn closing (VAD end)."""
ANSWER_S: Final = 60.0
"""From the turn closing to the answer starting to play (and to failing, in `error`)."""
PLAYED_S: Final = 120.0
"""From the answer starting to play to the box idle again, with the turn's facts."""


def bench_settings(trigger: Trigger = BUTTON_TAP) -> dict[str, Any]:
    """The settings the demo runs with on top of the user's (or the defaults)."""
    return {**SETTINGS, **trigger.settings}


def run_demo(*, out_dir: Path, live: Settings | None = None, trigger: Trigger = BUTTON_TAP) -> int:
    """Run one turn of the appliance on its stand-ins; save what it played in `out_dir`.

    `live`: the user's settings for Gemini itself, loaded with `bench_settings(trigger)`;
    None: the emulator in process.
    """
    try:
        return asyncio.run(stop_on_sigterm(_demo(out_dir, live, trigger)))
    except DemoFailed as exc:
        print(f"talkbox demo: failed: {exc}", file=sys.stderr)
        return ExitCode.CRASH


@dataclass(frozen=True, slots=True)
class _Turn:
    """What one turn on the bench left to report."""

    timeline: Timeline
    asked: Asked
    since: float
    """When the LED pins' history starts (just before the trigger)."""
    pins: Sequence[PinLevels]
    facts: LastTurn


async def _demo(out_dir: Path, live: Settings | None, trigger: Trigger) -> int:
    spoken = question(trigger.recording)
    with tempfile.TemporaryDirectory(prefix="talkbox-demo-") as tmp:
        work = Path(tmp)
        # A conversation of its own: a daemon's handle and mute in the state dir stay as
        # they are (and a new emulator would only refuse an old handle).
        state = work / "state"
        state.mkdir()
        emulator: Emulator | None = None
        async with contextlib.AsyncExitStack() as stack:
            if live is None:
                options = EmulatorOptions(api_key=DEMO_KEY, ca_out=work / "emulator-ca.pem")
                emulator = await stack.enter_async_context(Emulator(options))
                settings = load_settings(
                    None,
                    api_key=DEMO_KEY,
                    base_url=emulator.base_url,
                    ca_file=emulator.ca_file,
                    model=MODEL,
                    state_dir=state,
                    **bench_settings(trigger),
                )
                service = f"talkbox's Live API emulator at {emulator.base_url}"
            else:
                # Loaded and checked by the caller with bench_settings(); only the place moves.
                settings = live.model_copy(update={"state_dir": state})
                where = f" at {settings.base_url}" if settings.base_url else ""
                service = f"Gemini's Live API{where}"
            _say_setup(settings, service, trigger)
            bench = await stack.enter_async_context(open_bench(work))
            turn = await _one_turn(settings, bench, trigger, spoken)
            wire = _wire(emulator, turn.since) if emulator is not None else None
        # The bench is closed: the speaker's subprocess has written all it played.
        played = bench.played()
    _check(turn.facts, played)
    _report(turn, wire, played, earcons=settings.earcons, opened_by=trigger.name)
    answer = write_wav(out_dir / ANSWER_WAV, played, ANSWER_RATE_HZ)
    print(f"answer written to {answer}")
    return ExitCode.OK


def _say_setup(settings: Settings, service: str, trigger: Trigger) -> None:
    red, green, blue = LED_PINS
    print(f"talkbox demo: the appliance on stand-ins, talking to {service} ({settings.model})")
    print(
        f"  microphone: ALSA file PCM {settings.capture_device!r} reading a FIFO fed in real "
        "time with a spoken question"
    )
    print(f"  speaker: ALSA file PCM {settings.playback_device!r} into a FIFO drained in real time")
    print(
        f"  button GPIO{BUTTON_PIN}, RGB LED GPIO{red}/{green}/{blue}: gpiozero MockFactory "
        f"(MockPWMPin); turn opened by: {trigger.name}, {settings.button_mode} mode"
    )


def recorded(open_parts: OpenParts, timeline: Timeline) -> OpenParts:
    """`open_parts` with the LED's states noted in `timeline`."""

    @contextlib.asynccontextmanager
    async def opened(post: Post) -> AsyncIterator[Parts]:
        async with open_parts(post) as parts:
            if parts.indicator is None:
                raise DemoFailed("the mock LED did not open")
            parts.indicator = RecordingIndicator(parts.indicator, timeline)
            yield parts

    return opened


async def _one_turn(settings: Settings, bench: Bench, trigger: Trigger, spoken: bytes) -> _Turn:
    timeline = Timeline()
    parts = recorded(hardware_parts(settings, pin_factory=bench.pins.factory), timeline)
    async with Appliance(settings, parts) as app:

        async def watch(condition: Callable[[], bool], within: float, what: str) -> None:
            # An error (a refused key, a device) needs a person: waiting on would not help.
            failed: list[str] = []

            def done() -> bool:
                if app.state is State.ERROR:
                    failed.append(app.status_line())
                    return True
                return condition()

            try:
                await until(done, within=within, what=what)
            except DemoFailed as exc:
                raise DemoFailed(f"{exc} (the box is {app.status_line()})") from None
            if failed:
                raise DemoFailed(f"the appliance went to {failed[0]}")

        await watch(
            lambda: app.state is State.IDLE and app.link.status().connected,
            READY_S,
            "the appliance opening its devices, connecting and going idle",
        )
        # The LED is off (idle): no pattern thread is changing the pins while they are marked.
        since = bench.pins.mark(LED_PINS)
        asked = await trigger.ask(Stage(app=app, bench=bench, timeline=timeline), spoken)
        await watch(
            lambda: timeline.first(State.THINKING, after=asked.at) is not None,
            asked.speech_end - asked.at + CLOSED_S,
            "the turn closing at the end of the question (local VAD)",
        )
        await watch(
            lambda: timeline.first(State.SPEAKING, after=asked.at) is not None,
            ANSWER_S,
            "the answer starting to play",
        )
        speaking = timeline.first(State.SPEAKING, after=asked.at)
        await watch(
            lambda: (
                timeline.first(State.IDLE, after=speaking or asked.at) is not None
                and app.last_turn is not None
            ),
            PLAYED_S,
            "the answer playing to its end",
        )
        facts = app.last_turn
        assert facts is not None
    # Read before the bench releases the pins; leaving turned the LED off.
    pins = [bench.pins.levels(pin) for pin in LED_PINS]
    return _Turn(timeline=timeline, asked=asked, since=since, pins=pins, facts=facts)


def _wire(emulator: Emulator, since: float) -> Wire:
    """When the emulator received activityEnd and sent the first answer audio."""
    log = emulator.log
    ends = [r.t for r in log.client_messages("realtime_input.activityEnd") if r.t >= since]
    chunks = [r.t for r in log.server_messages("serverContent.modelTurn") if r.t >= since]
    return Wire(
        activity_end=ends[0] if ends else None, first_audio_sent=chunks[0] if chunks else None
    )


def _check(facts: LastTurn, played: bytes) -> None:
    if not facts.answered:
        raise DemoFailed(f"the turn was not answered ({facts.reason or 'interrupted'})")
    if facts.audio_s <= 0:
        raise DemoFailed("the answer held no audio")
    if not any(played):
        raise DemoFailed("the speaker played nothing")


def _report(
    turn: _Turn, wire: Wire | None, played: bytes, *, earcons: bool, opened_by: str
) -> None:
    zero = turn.asked.at
    print(f"LED timeline (seconds from the {opened_by}):")
    for line in timeline_lines(turn.timeline, turn.pins, zero=zero, since=turn.since):
        print(line)
    print("the turn:")
    figures = figure_lines(
        turn.timeline,
        turn.facts,
        zero=zero,
        opened_by=opened_by,
        speech_end=turn.asked.speech_end,
        played_s=seconds(played, ANSWER_RATE_HZ),
        earcons=earcons,
        wire=wire,
    )
    for line in figures:
        print(line)
