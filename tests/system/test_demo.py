from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from talkbox.audio.wav import read_wav

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("proxied", [False, True], ids=["direct", "behind-an-https-proxy"])
def test_the_demo_answers_one_turn_and_saves_it_as_24khz_wav(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxied: bool
) -> None:
    if proxied:
        # A proxy that refuses every connection: the demo must not send loopback through it.
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.delenv("no_proxy")
    done = subprocess.run(
        [sys.executable, "-m", "talkbox", "demo", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = [line for line in done.stdout.splitlines() if line.startswith("answer written to ")]
    assert len(written) == 1, done.stdout
    wav = Path(written[0].removeprefix("answer written to "))
    assert wav.parent == tmp_path
    pcm, rate = read_wav(wav)
    assert rate == 24_000
    # The emulator's text answer is a tone phrase: real audio, not silence.
    assert len(pcm) > 24_000 * 2 * 0.2
    assert any(pcm)
