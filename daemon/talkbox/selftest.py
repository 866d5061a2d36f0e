"""`talkbox selftest`: each part of the box tried once by a person standing next to it.

Steps, each reported PASS, FAIL or SKIP on a line of its own:

1. say "speak now", then record 3 s from the microphone (frames arrive, and how loud they
   were; only zeros, digital silence, is a FAIL: no microphone signal reaches ALSA);
2. play the recording back on the speaker (it plays to its end);
3. cycle the LED through every state's pattern (SKIP when none is configured, or when one is
   but this machine has no GPIO, each said as such);
4. wait for a button press (SKIP likewise).

The exit code is 0 when nothing failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO

from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.parts import Parts, button_options, led_options
from talkbox.audio.format import INPUT_RATE_HZ, pcm_bytes, seconds
from talkbox.audio.frames import Resampler, level_dbfs
from talkbox.config import Settings
from talkbox.conversation import ApplianceEvent, AudioDeviceFailed, ButtonPressed, State

RECORD_S = 3.0
PATTERN_S = 0.6
PRESS_WAIT_S = 15.0
QUIET_DBFS = -60.0
"""A recording whose loudest 100 ms stays below this heard no one speak."""
LOUDEST_WINDOW = pcm_bytes(0.1, INPUT_RATE_HZ)
NO_GPIO = "no GPIO on this machine (not a Pi, or this user may not open /dev/gpiochip*)"

Verdict = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step's outcome."""

    name: str
    verdict: Verdict
    detail: str

    def line(self) -> str:
        """The step as printed."""
        return f"{self.verdict} {self.name}: {self.detail}"


async def selftest(settings: Settings, out: TextIO) -> int:
    """Run the steps on the devices the settings name; 0 when none failed."""
    events: asyncio.Queue[ApplianceEvent] = asyncio.Queue()
    steps: list[Step] = []

    def report(step: Step) -> None:
        steps.append(step)
        print(step.line(), file=out, flush=True)

    async with hardware_parts(settings)(events.put_nowait) as parts:
        recorded = await _record(parts, events, report, out)
        await _play(parts, recorded, report)
        await _cycle_led(parts, settings, report)
        await _wait_for_press(parts, settings, events, report, out)
    return 1 if any(step.verdict == "FAIL" for step in steps) else 0


def _failure(events: asyncio.Queue[ApplianceEvent], device: str) -> str | None:
    while not events.empty():
        event = events.get_nowait()
        if isinstance(event, AudioDeviceFailed) and event.device == device:
            return event.reason
    return None


async def _record(
    parts: Parts,
    events: asyncio.Queue[ApplianceEvent],
    report: Callable[[Step], None],
    out: TextIO,
) -> bytes:
    print(f"speak now: recording {RECORD_S:g} s from the microphone ...", file=out, flush=True)
    pcm = bytearray()
    try:
        async with asyncio.timeout(RECORD_S + 2.0):
            while seconds(pcm, INPUT_RATE_HZ) < RECORD_S:
                pcm += (await parts.mic.read()).pcm
    except TimeoutError:
        reason = _failure(events, "capture") or "no audio arrived in time"
        report(Step("record 3 s", "FAIL", reason))
        return bytes(pcm)
    level = level_dbfs(bytes(pcm))
    if level == -math.inf:
        # Every sample 0: no microphone signal reaches ALSA at all (a muted capture mixer, a
        # capture device without a mic behind it); no room is that quiet.
        report(
            Step(
                "record 3 s",
                "FAIL",
                "only digital silence (every sample 0): no signal from the microphone; check "
                "TALKBOX_CAPTURE_DEVICE (talkbox devices) and the capture mixer (alsamixer)",
            )
        )
        return bytes(pcm)
    loudest = max(
        level_dbfs(bytes(pcm[i : i + LOUDEST_WINDOW])) for i in range(0, len(pcm), LOUDEST_WINDOW)
    )
    detail = f"{RECORD_S:g} s at {level:.0f} dBFS, loudest {loudest:.0f} dBFS"
    if loudest < QUIET_DBFS:
        detail += "; that is quiet: if you spoke, raise TALKBOX_MIC_GAIN or the capture mixer"
    report(Step("record 3 s", "PASS", detail))
    return bytes(pcm)


async def _play(parts: Parts, pcm: bytes, report: Callable[[Step], None]) -> None:
    if not pcm:
        report(Step("play it back", "SKIP", "nothing was recorded"))
        return
    answer_rate = 24_000
    speaker = parts.speaker
    resample = Resampler(INPUT_RATE_HZ, answer_rate)
    speaker.play(resample.process(pcm) + resample.flush(), answer_rate)
    try:
        async with asyncio.timeout(RECORD_S + 5.0):
            played = await speaker.finished()
    except TimeoutError:
        played = False
    if played:
        report(Step("play it back", "PASS", "the recording played to its end"))
    else:
        report(Step("play it back", "FAIL", "the speaker did not play it (see the log)"))


async def _cycle_led(parts: Parts, settings: Settings, report: Callable[[Step], None]) -> None:
    led = parts.indicator
    if led is None:
        options = led_options(settings)
        if options is None:
            reason = "no LED configured (set TALKBOX_LED_PINS, or TALKBOX_HAT)"
        else:
            pins = ",".join(map(str, options.pins))
            reason = f"an LED is configured (GPIO {pins}), but {NO_GPIO}"
        report(Step("LED patterns", "SKIP", reason))
        return
    for state in State:
        led.show(state)
        await asyncio.sleep(PATTERN_S)
    led.show(State.IDLE)
    report(Step("LED patterns", "PASS", f"showed {len(State)} patterns; did each look different?"))


async def _wait_for_press(
    parts: Parts,
    settings: Settings,
    events: asyncio.Queue[ApplianceEvent],
    report: Callable[[Step], None],
    out: TextIO,
) -> None:
    if parts.button is None:
        options = button_options(settings)
        if options is None:
            reason = "no button configured (set TALKBOX_BUTTON_PIN, or TALKBOX_HAT)"
        else:
            reason = f"a button is configured (GPIO {options.pin}), but {NO_GPIO}"
        report(Step("button", "SKIP", reason))
        return
    print(f"press the button within {PRESS_WAIT_S:g} s ...", file=out, flush=True)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(PRESS_WAIT_S):
            while not isinstance(await events.get(), ButtonPressed):
                pass
            report(Step("button", "PASS", "a press arrived"))
            return
    report(Step("button", "FAIL", f"no press within {PRESS_WAIT_S:g} s"))
