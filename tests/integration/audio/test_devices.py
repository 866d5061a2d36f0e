"""Device listing over the real pyalsaaudio, on a config whose PCMs carry name hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


_OPEN_A_MISSING_CARD = """
import logging, sys
from talkbox.audio.alsa import liblog
from talkbox.audio.alsa.pcm import open_alsa_pcm
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG, format="%(name)s: %(message)s")
if sys.argv[1] == "unrouted":
    liblog._routed = True  # as if routed: alsa-lib keeps its own stderr handler
for _ in range(3):
    try:
        open_alsa_pcm("capture", "hw:CARD=NoSuchCard,DEV=0", 16000, 320, 4)
    except Exception as exc:
        print("refused:", exc)
"""


@pytest.mark.parametrize("routed", [True, False])
def test_alsa_libs_own_lines_go_to_debug_logging_not_to_the_journal(routed: bool) -> None:
    # Under systemd stderr is the journal: a card away for minutes would add a line per retry.
    run = subprocess.run(
        [sys.executable, "-c", _OPEN_A_MISSING_CARD, "routed" if routed else "unrouted"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout.count("refused: No such device") == 3
    if routed:
        assert "ALSA lib" not in run.stderr
        assert "talkbox.audio.alsa.liblog: alsa-lib confmisc.c" in run.stdout
        assert "(snd_config_get_card) Cannot get card index for %s" in run.stdout
    else:
        # The same opens without the handler: what the routed run keeps out of stderr.
        assert run.stderr.count("Cannot get card index for NoSuchCard") >= 3
