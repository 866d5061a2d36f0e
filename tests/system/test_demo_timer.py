"""`talkbox demo --timer` as a subprocess: a timer asked for, set, rung and stopped by a press."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.audio.wav import read_wav
from talkbox.timers.ring import ring_heard_s

from .test_demo import demo, led_states

pytestmark = pytest.mark.slow


def test_the_timer_demo_sets_a_timer_by_asking_and_rings_it_on_the_stand_ins(
    tmp_path: Path,
) -> None:
    done = demo("--timer", "--out-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "  the model called set_timer({'seconds': 3, 'name': 'pasta'})" in out.splitlines()
    states = [state for _, state in led_states(out)]
    assert "ringing" in states
    assert states[states.index("ringing") + 1] == "idle"  # the press stopped it
    assert "ringing    LED yellow, blinking" in out
    wav = tmp_path / "out" / "ring.wav"
    assert "what the speaker played" in out
    pcm, rate = read_wav(wav)
    assert ring_heard_s(pcm, rate) >= 0.8


def test_the_timer_demo_runs_on_the_emulator_alone(tmp_path: Path) -> None:
    done = demo("--timer", "--wake", cwd=tmp_path)
    assert done.returncode == 2
    assert "without --live or --wake" in done.stderr
