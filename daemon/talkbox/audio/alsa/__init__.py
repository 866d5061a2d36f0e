"""ALSA capture and playback threads (pyalsaaudio); the only package that imports alsaaudio.

Each direction runs one thread that owns its PCM: it opens the device, reads or writes
period-sized chunks, and closes it (only that thread ever closes it). The asyncio side
never blocks on ALSA:

    async with AlsaCapture(CaptureOptions(device="plughw:CARD=Device,DEV=0")) as mic:
        frame = await mic.read()            # 20 ms, 16 kHz, exactly 640 bytes

    async with AlsaPlayback(PlaybackOptions(device="default")) as speaker:
        speaker.play(pcm)                   # 24 kHz answer audio; returns at once
        played_whole = await speaker.finished()
        speaker.flush()                     # barge-in: pcm.drop() within one period

A device that is missing, busy or vanishes is reported once as an `AudioDeviceError` (to
`on_status`, on the event loop, and as one ERROR line), then reopened with capped backoff;
when it comes back a `DeviceStatus` without error says so. Overruns (read -32) and
underruns (write -32: the chunk is written again) are counted and logged at debug.

`pcm` holds what both threads share (opening a PCM, the reopen loop), `capture` and
`playback` one direction each, `cards` the mixer and the device listing. The names below are
the package's interface; the options and statuses are re-exported from `talkbox.audio.devices`
so that a caller of the adapter needs one import.
"""

from talkbox.audio.alsa.capture import AlsaCapture
from talkbox.audio.alsa.cards import (
    DeviceList,
    card_mixers,
    list_devices,
    mixer_card,
    open_mixer,
)
from talkbox.audio.alsa.pcm import EPIPE, Opened, Pcm, PcmOpener, alsa_problem, open_alsa_pcm
from talkbox.audio.alsa.playback import AlsaPlayback
from talkbox.audio.devices import (
    CaptureOptions,
    CaptureStats,
    DeviceStatus,
    Direction,
    PlaybackOptions,
    PlaybackStats,
    StatusCallback,
)

__all__ = [
    "EPIPE",
    "AlsaCapture",
    "AlsaPlayback",
    "CaptureOptions",
    "CaptureStats",
    "DeviceList",
    "DeviceStatus",
    "Direction",
    "Opened",
    "Pcm",
    "PcmOpener",
    "PlaybackOptions",
    "PlaybackStats",
    "StatusCallback",
    "alsa_problem",
    "card_mixers",
    "list_devices",
    "mixer_card",
    "open_alsa_pcm",
    "open_mixer",
]
