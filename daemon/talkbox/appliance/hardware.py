"""The real parts: the ALSA microphone and speaker, the VAD and wake word, the button and LED.

    async with hardware_parts(settings)(post) as parts:   # what `talkbox run` opens
        ...

The ALSA threads report each device failing and coming back (`DeviceStatus`); here that
becomes `AudioDeviceFailed` / `AudioDeviceRecovered` for the conversation. Entering waits
(bounded) until each device has been opened or has failed once, so READY=1 means the devices
are open or the box already shows why not. The speaker's earcons and the microphone share
one `EarconWindows`, so the mic does not take the box's own tones for speech.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Final

from talkbox.appliance.control import socket_path
from talkbox.appliance.parts import Parts, Post, gpio_parts, gpio_problems, hearing
from talkbox.audio.alsa import AlsaCapture, AlsaPlayback, card_mixers, mixer_card
from talkbox.audio.devices import CaptureOptions, DeviceStatus, PlaybackOptions
from talkbox.audio.format import ANSWER_RATE_HZ
from talkbox.audio.frames import EarconWindows, Tone
from talkbox.audio.reference import PlayedAudio
from talkbox.config import Settings
from talkbox.config.files import is_writable_dir
from talkbox.conversation import AudioDeviceFailed, AudioDeviceRecovered, Earcon
from talkbox.errors import ConfigError
from talkbox.hearing.echo import EchoCancelMode, echo_canceller

log = logging.getLogger(__name__)

TONES: Final[dict[Earcon, Tone]] = {
    Earcon.START: Tone.TURN_START,
    Earcon.END: Tone.TURN_END,
    Earcon.ERROR: Tone.ERROR,
}
"""The conversation's earcons as the speaker synthesizes them."""
FIRST_OPEN_S = 5.0
"""How long entering waits for each device's first open (or failure)."""


def capture_options(settings: Settings) -> CaptureOptions:
    """The microphone's settings."""
    return CaptureOptions(
        device=settings.capture_device, rate_hz=settings.capture_rate, gain_db=settings.mic_gain
    )


def playback_options(settings: Settings) -> PlaybackOptions:
    """The speaker's settings."""
    return PlaybackOptions(
        device=settings.playback_device,
        rate_hz=settings.playback_rate,
        period_ms=settings.period_ms,
        volume=settings.volume,
        mixer=settings.mixer,
        earcons=settings.earcons,
    )


def preflight(settings: Settings) -> list[str]:
    """What `run` would refuse at start, found without opening anything: `check` asks it too.

    Valid settings can still describe a box that cannot start: GPIO wiring no board has, a
    wake word model TFLite cannot load, a control socket directory this user cannot make, a
    mixer the (present) card does not have. Each is one line naming the setting.
    """
    problems = gpio_problems(settings)
    try:
        with hearing(settings):
            pass
    except ConfigError as err:
        problems.extend(err.problems)
    runtime = socket_path().parent
    if not is_writable_dir(runtime):
        problems.append(
            f"the control socket's directory {runtime} cannot be made or written by this user: "
            "run talkbox under systemd (RuntimeDirectory=), or set XDG_RUNTIME_DIR or "
            "RUNTIME_DIRECTORY to a directory of this user's"
        )
    if settings.mixer:
        problems.extend(_mixer_problems(settings.mixer, settings.playback_device))
    return problems


def _mixer_problems(mixer: str, device: str) -> list[str]:
    card = mixer_card(device)
    found = card_mixers(card)
    # No card (not plugged in yet, its driver not loaded): a device problem that `run`
    # reports and retries, not a setting to change.
    if found is None or mixer in found:
        return []
    offered = ", ".join(found) or "none"
    return [
        f"TALKBOX_MIXER: {mixer!r} is not a mixer of {card}, the card of "
        f"TALKBOX_PLAYBACK_DEVICE (its mixers: {offered})"
    ]


class Speaker:
    """The `AudioSink` port on AlsaPlayback: the conversation's earcons mapped to its tones."""

    def __init__(self, playback: AlsaPlayback) -> None:
        """Play on `playback`."""
        self.playback = playback

    def play(self, pcm: bytes, rate: int = ANSWER_RATE_HZ) -> None:
        """Queue answer audio."""
        self.playback.play(pcm, rate)

    def play_earcon(self, earcon: Earcon) -> bool:
        """Queue an earcon's tones."""
        return self.playback.play_earcon(TONES[earcon])

    def finished(self) -> Awaitable[bool]:
        """True once what is queued has played, False if flushed first."""
        return self.playback.finished()

    def flush(self) -> None:
        """Drop what is queued (ALSA drop())."""
        self.playback.flush()

    @property
    def volume(self) -> int:
        """The volume in percent."""
        return self.playback.volume

    def set_volume(self, percent: int) -> None:
        """Set the volume (mixer or software gain)."""
        self.playback.set_volume(percent)


def hardware_parts(
    settings: Settings, *, pin_factory: object = None
) -> Callable[[Post], contextlib.AbstractAsyncContextManager[Parts]]:
    """The real devices the settings name."""

    @contextlib.asynccontextmanager
    async def open_parts(post: Post) -> AsyncIterator[Parts]:
        first: dict[str, asyncio.Event] = {"capture": asyncio.Event(), "playback": asyncio.Event()}

        def on_status(status: DeviceStatus) -> None:
            first[status.direction].set()
            if status.error is not None:
                post(AudioDeviceFailed(device=status.direction, reason=str(status.error)))
            else:
                post(AudioDeviceRecovered(device=status.direction))

        # The wake word models load first: a bad one stops the start before any device opens.
        with hearing(settings) as ears, contextlib.ExitStack() as stack:
            earcons = EarconWindows()
            # What the speaker plays is the echo canceller's reference.
            played = PlayedAudio()
            echo = echo_canceller(EchoCancelMode(settings.echo_cancel), played)
            if echo is not None:
                stack.callback(echo.close)
            mic = AlsaCapture(capture_options(settings), earcons=earcons, on_status=on_status)
            playback = AlsaPlayback(
                playback_options(settings),
                earcons=earcons,
                reference=played if echo is not None else None,
                on_status=on_status,
            )
            async with mic, playback:
                try:
                    async with asyncio.timeout(FIRST_OPEN_S):
                        for opened in first.values():
                            await opened.wait()
                except TimeoutError:
                    # A FIFO or a busy device may take longer; the box shows starting meanwhile.
                    log.warning("the audio devices did not open within %.0f s", FIRST_OPEN_S)
                async with gpio_parts(settings, post, pin_factory=pin_factory) as (button, led):
                    yield Parts(
                        mic=mic,
                        speaker=Speaker(playback),
                        vad=ears.vad,
                        button=button,
                        indicator=led,
                        wake=ears.wake,
                        cleaner=ears.cleaner,
                        echo=echo,
                        device_counters=lambda: {
                            "capture": asdict(mic.stats),
                            "playback": asdict(playback.stats),
                        },
                    )

    return open_parts
