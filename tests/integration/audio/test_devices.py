"""Device listing over the real pyalsaaudio, on a config whose PCMs carry name hints."""

from __future__ import annotations

from pathlib import Path

from talkbox.audio.alsa import list_devices, mixer_card

from .conftest import AlsaConfig, file_pcm


def test_the_listing_names_the_pcms_the_configuration_offers(
    alsa: AlsaConfig, tmp_path: Path
) -> None:
    hint = 'hint { show on description "Stand-in speaker" }'
    alsa.pcm("standin", file_pcm(output=tmp_path / "out.raw") + "\n" + hint)
    devices = list_devices()
    assert "standin" in devices.playback
    assert "standin" in devices.capture
    assert devices.cards == ()  # no sound card on this machine
    assert devices.mixers == {}


def test_the_mixer_of_a_pcm_is_looked_up_on_its_card() -> None:
    assert mixer_card("plughw:CARD=Device,DEV=0") == "hw:CARD=Device"
    assert mixer_card("hw:1,0") == "hw:1"
    assert mixer_card("default") == "default"
