"""ALSA's cards: the mixer of a playback device's card, and what ALSA offers (`talkbox devices`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import alsaaudio

from talkbox.audio.alsa.liblog import route_alsa_lib_messages
from talkbox.audio.alsa.pcm import alsa_problem
from talkbox.audio.devices import DEVICES_HINT
from talkbox.errors import AudioDeviceError


def open_mixer(control: str, device: str) -> Any:
    """Open ALSA mixer `control` on the card of playback `device`; AudioDeviceError if none."""
    card = mixer_card(device)
    route_alsa_lib_messages()
    try:
        return alsaaudio.Mixer(control=control, device=card)
    except alsaaudio.ALSAAudioError as err:
        raise AudioDeviceError(
            f"mixer {control!r} on {card!r} cannot be used: {alsa_problem(err)} "
            f"({DEVICES_HINT} and their mixers)"
        ) from err


def card_mixers(card: str) -> tuple[str, ...] | None:
    """The mixer controls of control device `card` (`hw:CARD=X`), None if it cannot be opened."""
    route_alsa_lib_messages()
    try:
        return tuple(alsaaudio.mixers(device=card))
    except alsaaudio.ALSAAudioError:
        return None


def mixer_card(device: str) -> str:
    """The control device holding the mixers of PCM `device` (`hw:CARD=X` or `default`)."""
    if by_id := re.search(r"CARD=([^,]+)", device):
        return f"hw:CARD={by_id.group(1)}"
    if by_index := re.match(r"(?:plug)?hw:(\d+)", device):
        return f"hw:{by_index.group(1)}"
    return "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceList:
    """What ALSA offers: PCM names for each direction, and the cards with their mixers."""

    capture: tuple[str, ...]
    playback: tuple[str, ...]
    cards: tuple[str, ...]
    mixers: dict[str, tuple[str, ...]]
    """Card id → its mixer controls."""


def list_devices() -> DeviceList:
    """The ALSA capture and playback PCMs and the cards (with mixers), for `talkbox devices`."""
    cards = tuple(alsaaudio.cards())
    mixers: dict[str, tuple[str, ...]] = {}
    for card in cards:
        try:
            mixers[card] = tuple(alsaaudio.mixers(device=f"hw:CARD={card}"))
        except alsaaudio.ALSAAudioError:
            mixers[card] = ()
    return DeviceList(
        capture=tuple(alsaaudio.pcms(alsaaudio.PCM_CAPTURE)),
        playback=tuple(alsaaudio.pcms(alsaaudio.PCM_PLAYBACK)),
        cards=cards,
        mixers=mixers,
    )
