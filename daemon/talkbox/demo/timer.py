"""`talkbox demo --timer`: a timer asked for, set through the SDK's tool path, rung, stopped.

On the demo's bench (`talkbox.demo.bench`) with the emulator in process: the box is asked,
as `talkbox ctl say` would ask it, "set a pasta timer for 3 seconds"; the emulator's model
calls `set_timer` as a model does and speaks its answer; three seconds later the box rings
(its own tone on the ALSA file speaker, the ringing pattern on the mock RGB LED), and the
mock button's press stops it. Prints what was called and answered, the LED timeline and
the ring's figures, and saves what the speaker played as `ring.wav`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.audio.format import ANSWER_RATE_HZ, seconds
from talkbox.audio.wav import write_wav
from talkbox.config import load_settings
from talkbox.conversation import State, TextAsked
from talkbox.demo.bench import BUTTON_PIN, LED_PINS, DemoFailed, open_bench, until
from talkbox.demo.report import Timeline, timeline_lines
from talkbox.demo.run import DEMO_KEY, MODEL, bench_settings, recorded
from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.errors import ExitCode
from talkbox.sigterm import stop_on_sigterm
from talkbox.timers.ring import CYCLE_S, RING_NOTES, ring_heard_s

REQUEST: Final = "set a pasta timer for 3 seconds"
RING_WAV: Final = "ring.wav"
LET_RING_S: Final = 3.0
"""How long the demo lets it ring before pressing the button."""
TAP_S: Final = 0.15
RING_BEEPS_S: Final = sum(s for frequency, s in RING_NOTES if frequency)


def run_timer_demo(*, out_dir: Path) -> int:
    """Set a short timer by asking for it, let it ring, stop it with a press; 0 if all happened."""
    try:
        return asyncio.run(stop_on_sigterm(_demo(out_dir)))
    except DemoFailed as exc:
        print(f"talkbox demo: failed: {exc}", file=sys.stderr)
        return ExitCode.CRASH


async def _demo(out_dir: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="talkbox-demo-") as tmp:
        work = Path(tmp)
        state = work / "state"
        state.mkdir()
        timeline = Timeline()
        async with contextlib.AsyncExitStack() as stack:
            options = EmulatorOptions(api_key=DEMO_KEY, ca_out=work / "emulator-ca.pem")
            emulator = await stack.enter_async_context(Emulator(options))
            settings = load_settings(
                None,
                api_key=DEMO_KEY,
                base_url=emulator.base_url,
                ca_file=emulator.ca_file,
                model=MODEL,
                state_dir=state,
                **bench_settings(),
            )
            print(
                f"talkbox demo --timer: the appliance on stand-ins, talking to talkbox's Live "
                f"API emulator ({settings.model}); button GPIO{BUTTON_PIN}, RGB LED "
                f"GPIO{'/'.join(map(str, LED_PINS))} on gpiozero's MockFactory"
            )
            bench = await stack.enter_async_context(open_bench(work))
            parts = recorded(hardware_parts(settings, pin_factory=bench.pins.factory), timeline)
            async with Appliance(settings, parts) as app:
                figures = await _ring_once(app, bench, timeline, emulator)
                pins = [bench.pins.levels(pin) for pin in LED_PINS]
        played = bench.played()
    heard = ring_heard_s(played)
    if heard <= 0:
        raise DemoFailed("the ring was not heard on the speaker")
    print("LED timeline (seconds from the request):")
    for line in timeline_lines(timeline, pins, zero=figures["asked"], since=figures["since"]):
        print(line)
    print("the ring:")
    print(
        f"  due {figures['due'] - figures['set']:+.3f} s after it was set, rang at "
        f"{figures['rang'] - figures['set']:+.3f} s"
    )
    print(
        f"  ring tones heard on the speaker: {heard:.2f} s in {LET_RING_S:g} s of ringing "
        f"(each {CYCLE_S:g} s cycle beeps for {RING_BEEPS_S:g} s)"
    )
    print(f"  stopped by the press in {figures['stopped'] * 1000:.0f} ms")
    wav = write_wav(out_dir / RING_WAV, played, ANSWER_RATE_HZ)
    print(f"what the speaker played ({seconds(played, ANSWER_RATE_HZ):.1f} s) written to {wav}")
    return ExitCode.OK


async def _ring_once(
    app: Appliance, bench: Any, timeline: Timeline, emulator: Emulator
) -> dict[str, float]:
    await until(
        lambda: app.state is State.IDLE and app.link.status().connected,
        within=60,
        what="the appliance going idle, connected",
    )
    since = bench.pins.mark(LED_PINS)
    asked = time.monotonic()
    print(f'asked (as `talkbox ctl say` asks): "{REQUEST}"')
    app.post(TextAsked(text=REQUEST))
    await until(lambda: bool(app.timers.table.entries), within=30, what="the timer being set")
    wall_set = time.time()
    entry = app.timers.table.entries[0]
    for record in emulator.log.server_messages("toolCall"):
        for call in record.message["toolCall"]["functionCalls"]:
            print(f"  the model called {call['name']}({call['args']})")
    timer = app.timer_tools.describe(entry, wall_set)
    print(
        f"  the box set {entry.label}: rings at {timer['rings_at']} "
        f"({app.timer_tools.report()['time_zone']})"
    )
    await until(lambda: app.state is State.RINGING, within=30, what="the timer ringing")
    rang = time.time()
    await asyncio.sleep(LET_RING_S)
    bench.pins.press(BUTTON_PIN)
    pressed = time.monotonic()
    await until(lambda: app.state is not State.RINGING, within=5, what="the press stopping it")
    stopped = time.monotonic() - pressed
    await asyncio.sleep(TAP_S)
    bench.pins.release(BUTTON_PIN)
    return {
        "asked": asked,
        "since": since,
        "set": entry.set_at,
        "due": entry.due,
        "rang": rang,
        "stopped": stopped,
    }
