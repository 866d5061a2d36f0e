"""The appliance's parts: which devices it runs on, and the settings each part takes.

`Parts` holds the ports (`talkbox.ports`) the appliance uses. Each way of opening them is an
async context manager taking the appliance's `post` (where device events go) and closing
what it opened: `fake_parts` for tests and for trying things by hand, `gpio_parts` adds the
real button and LED (gpiozero) to given audio parts, and the ALSA microphone and speaker
come from `talkbox.audio.alsa`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from talkbox.audio.denoise import DenoiseOptions, Denoiser
from talkbox.config import Settings, wake_word_key
from talkbox.conversation import ApplianceEvent, LedKind, Mode, TurnOptions
from talkbox.fakes import FakeButton, FakeIndicator, FakeMic, FakeSpeaker
from talkbox.gpio import HATS, ButtonOptions, LedOptions, open_gpio
from talkbox.hearing.endpoint import EndpointOptions
from talkbox.hearing.vad import VadKind, WebRtcVad, make_vad
from talkbox.ports import (
    AudioFilter,
    AudioSink,
    AudioSource,
    Button,
    EchoCanceller,
    Indicator,
    Vad,
    WakeWords,
)

log = logging.getLogger(__name__)

CAPTURE = "capture"
"""The microphone's name in AudioDeviceFailed/Recovered."""
PLAYBACK = "playback"
"""The speaker's name in AudioDeviceFailed/Recovered."""

Post = Callable[[ApplianceEvent], None]


@dataclass(slots=True)
class Parts:
    """The devices the appliance runs on."""

    mic: AudioSource
    speaker: AudioSink
    vad: Vad
    button: Button | None = None
    indicator: Indicator | None = None
    wake: WakeWords | None = None
    """Listens for the wake words (None: TALKBOX_WAKE_WORD is off)."""
    cleaner: AudioFilter | None = None
    """Noise suppression and automatic gain before anything hears a frame (None: both off)."""
    echo: EchoCanceller | None = None
    """Takes the speaker's echo out first (None: TALKBOX_ECHO_CANCEL off or hardware)."""
    device_counters: Callable[[], dict[str, Any]] | None = None
    """The sound devices' own counters (ALSA overruns and underruns), for `ctl status`."""


@dataclass(slots=True)
class Hearing:
    """What listens to the microphone on the box: the VAD, the wake words, the cleaner."""

    vad: Vad
    wake: WakeWords | None = None
    cleaner: AudioFilter | None = None


@contextlib.contextmanager
def hearing(settings: Settings) -> Iterator[Hearing]:
    """The VAD, wake word detector and audio cleaner the settings name; released after.

    A wake word model that cannot be loaded is a ConfigError here, before READY=1.
    """
    vad = make_vad(
        VadKind(settings.vad),
        aggressiveness=settings.vad_aggressiveness,
        silero_threshold=settings.silero_threshold,
    )
    options = DenoiseOptions(
        noise_suppression=settings.noise_suppression or 0, auto_gain_dbfs=settings.auto_gain
    )
    cleaner = Denoiser(options) if options.enabled else None
    if not settings.wake_word:
        yield Hearing(vad=vad, cleaner=cleaner)
        return
    detector = wake_detector(settings, settings.wake_word)
    try:
        yield Hearing(vad=vad, wake=detector, cleaner=cleaner)
    finally:
        detector.close()


def wake_detector(settings: Settings, words: tuple[str, ...], *, quiet: bool = False) -> WakeWords:
    """A detector for `words` (TALKBOX_WAKE_WORD's form) with the settings' overrides.

    A model that cannot be loaded is a ConfigError. It takes TFLite a few milliseconds per
    model: run off the event loop once the box is up (`talkbox.appliance.wake_choice`).
    """
    # Imported only when wanted: loading pymicro-wakeword and its TFLite runtime costs
    # about 0.2 s of start-up.
    from talkbox.hearing.wake import WakeOptions, WakeWordDetector, WakeWordSpec

    specs = tuple(
        WakeWordSpec(
            source=word,
            probability_cutoff=settings.wake_cutoff.get(wake_word_key(word)),
            sliding_window=settings.wake_window.get(wake_word_key(word)),
        )
        for word in words
    )
    options = WakeOptions(wake_words=specs, refractory_s=settings.wake_refractory_s)
    return WakeWordDetector(options, quiet=quiet)


def turn_options(settings: Settings) -> TurnOptions:
    """The conversation's settings."""
    return TurnOptions(
        mode=Mode(settings.button_mode),
        no_speech_timeout_s=settings.no_speech_timeout_s,
        follow_up_s=settings.follow_up_s,
        follow_up_turns=settings.follow_up_turns,
        answer_timeout_s=settings.answer_timeout_s,
        ring_s=settings.timer_ring_s,
        barge_in_by_voice=settings.barge_in == "voice",
    )


def endpoint_options(settings: Settings) -> EndpointOptions:
    """The endpointer's settings."""
    return EndpointOptions(
        start_ms=settings.vad_start_ms,
        end_ms=settings.vad_end_ms,
        min_energy_dbfs=settings.vad_min_energy,
        max_utterance_s=settings.max_utterance_s,
    )


def button_options(settings: Settings) -> ButtonOptions | None:
    """The button's wiring: BUTTON_PIN, else the HAT's pin, else no button."""
    pin = settings.button_pin if settings.button_pin is not None else HATS[settings.hat].button_pin
    if pin is None:
        return None
    pull = {"up": True, "down": False, "none": None}[settings.button_pull]
    return ButtonOptions(
        pin=pin,
        pull_up=pull,
        active_high=settings.button_active_high,
        bounce_s=settings.button_bounce_ms / 1000,
        long_press_s=settings.long_press_s,
        double_press_s=settings.double_press_s,
    )


def box_notes(settings: Settings) -> list[str]:
    """Warnings about the box as a whole that `check` and `run` give (not `ask`)."""
    has_button = button_options(settings) is not None
    # Home Assistant's Talk button opens turns, and its select can choose a wake word.
    by_home = settings.home_assistant == "esphome"
    if not has_button and not settings.wake_word and not by_home:
        return [
            "nothing can open a turn: no button (TALKBOX_BUTTON_PIN or TALKBOX_HAT) and no wake "
            "word (TALKBOX_WAKE_WORD); only `talkbox ctl press` and `talkbox ctl say` will"
        ]
    return []


def gpio_problems(settings: Settings) -> list[str]:
    """Wiring the settings describe that no board can have: one pin for two jobs, the wrong count.

    `check` and `run` both ask (before any pin is claimed), so what `run` would refuse,
    `check` refuses first, in words that name the settings to change.
    """
    hat = HATS[settings.hat]
    problems: list[str] = []
    if settings.led_pins is None and hat.led is not None and settings.led_kind is not None:
        wanted = 3 if settings.led_kind == "rgb" else 1
        if len(hat.led.pins) != wanted:
            pins = ",".join(f"GPIO{pin}" for pin in hat.led.pins)
            problems.append(
                f"TALKBOX_LED_KIND: {settings.led_kind} needs {wanted} pin(s), and the "
                f"{hat.name} HAT's LED has {len(hat.led.pins)} ({pins}); set TALKBOX_LED_PINS "
                f"to {wanted} pin(s) or choose another TALKBOX_LED_KIND"
            )
            return problems
    led = None if problems else led_options(settings, quiet=True)
    button = button_options(settings)
    if led is not None:
        twice = sorted({pin for pin in led.pins if led.pins.count(pin) > 1})
        if twice:
            names = ", ".join(f"GPIO{pin}" for pin in twice)
            problems.append(
                f"TALKBOX_LED_PINS: {names} named more than once; each colour of an rgb LED "
                "needs a pin of its own"
            )
    if led is not None and button is not None and button.pin in led.pins:
        whose = "TALKBOX_LED_PINS" if settings.led_pins is not None else f"the {hat.name} HAT's LED"
        button_from = (
            "TALKBOX_BUTTON_PIN" if settings.button_pin is not None else f"the {hat.name} HAT"
        )
        problems.append(
            f"{whose}: GPIO{button.pin} is also the button's pin ({button_from}); the button "
            "and the LED each need a pin of their own"
        )
    return problems


def led_options(settings: Settings, *, quiet: bool = False) -> LedOptions | None:
    """The LED: LED_PINS (and LED_KIND), else the HAT's LED, else none."""
    hat = HATS[settings.hat]
    if settings.led_pins is None:
        if hat.note and not quiet:
            log.info("%s", hat.note)
        if hat.led is None:
            return None
        kind, pins = hat.led.kind, hat.led.pins
        if settings.led_kind is not None:
            kind = LedKind(settings.led_kind)
    else:
        kind, pins = LedKind(settings.led_kind or "led"), settings.led_pins
    return LedOptions(
        kind=kind,
        pins=pins,
        active_high=settings.led_active_high,
        brightness=settings.led_brightness,
    )


@dataclass(slots=True)
class FakeWorld:
    """The fake devices `fake_parts` opened, for the test to drive and inspect."""

    mic: FakeMic
    speaker: FakeSpeaker
    button: FakeButton
    indicator: FakeIndicator


def fake_parts(
    world: FakeWorld, settings: Settings | None = None
) -> Callable[[Post], contextlib.AbstractAsyncContextManager[Parts]]:
    """Parts on `world`'s fakes, hearing as `settings` say (real VAD, wake word, cleaner).

    Without settings: webrtcvad at aggressiveness 3, no wake word, no cleaner.
    """

    @contextlib.asynccontextmanager
    async def open_parts(post: Post) -> AsyncIterator[Parts]:
        world.mic.report = world.speaker.report = world.button.post = post
        with contextlib.ExitStack() as stack:
            ears = (
                stack.enter_context(hearing(settings))
                if settings is not None
                else Hearing(vad=WebRtcVad(3))
            )
            yield Parts(
                mic=world.mic,
                speaker=world.speaker,
                vad=ears.vad,
                button=world.button,
                indicator=world.indicator,
                wake=ears.wake,
                cleaner=ears.cleaner,
            )

    return open_parts


def new_fake_world(*, speaker_speed: float = 1.0) -> FakeWorld:
    """Fresh fake devices."""
    return FakeWorld(
        mic=FakeMic(device=CAPTURE),
        speaker=FakeSpeaker(speed=speaker_speed, device=PLAYBACK),
        button=FakeButton(),
        indicator=FakeIndicator(),
    )


@contextlib.asynccontextmanager
async def gpio_parts(
    settings: Settings, post: Post, *, pin_factory: Any = None
) -> AsyncIterator[tuple[Button | None, Indicator | None]]:
    """The button and LED the settings name, or None for each (no GPIO: one WARNING)."""
    loop = asyncio.get_running_loop()
    button, indicator = open_gpio(
        button_options(settings),
        led_options(settings),
        loop=loop,
        post=post,
        pin_factory=pin_factory,
    )
    watcher = None
    try:
        if button is not None:
            # The level check catches edges lgpio missed (docs/platform.md §3.3).
            watcher = asyncio.create_task(button.watch(), name="button-level-check")
        yield button, indicator
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
