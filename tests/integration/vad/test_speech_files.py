"""webrtcvad and the endpointer on real (synthesized) speech from tests/data.

The files are made by scripts/make-test-audio; tests/data/speech.json says where their speech
and the 400 ms pauses inside sentences are.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.hearing.vad import FRAME_BYTES, FRAME_MS, SpeechDetector, WebRtcVad

DATA = Path(__file__).parents[2] / "data"
SPEECH = json.loads((DATA / "speech.json").read_text(encoding="utf-8"))
QUIET_FILES = [name for name, facts in SPEECH.items() if "fan" not in name]
PAUSED_FILES = [name for name, facts in SPEECH.items() if facts["pauses"]]


def decisions(name: str, aggressiveness: int, **options: float) -> list[tuple[float, Decision]]:
    """The endpointer's decisions on a file, each with the time at the end of its frame."""
    with wave.open(str(DATA / name)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        pcm = wav.readframes(wav.getnframes())
    detector = SpeechDetector(
        WebRtcVad(aggressiveness),
        Endpointer(EndpointOptions(**options)),  # type: ignore[arg-type]
    )
    detector.endpointer.reset(no_speech_timeout_s=5.0)
    found = []
    for i in range(len(pcm) // FRAME_BYTES):
        decision = detector.feed(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES])
        if decision is not Decision.NONE:
            found.append((round((i + 1) * FRAME_MS / 1000, 3), decision))
    return found


@pytest.mark.parametrize("aggressiveness", [1, 2, 3])
@pytest.mark.parametrize("name", QUIET_FILES)
def test_the_turn_starts_with_the_speech_and_ends_after_the_sentence(
    name: str, aggressiveness: int
) -> None:
    speech_start, speech_end = SPEECH[name]["speech"]
    (started_at, first), (ended_at, second) = decisions(name, aggressiveness, end_ms=800)
    assert (first, second) == (Decision.STARTED, Decision.ENDED)
    # 200 ms of voiced audio start it; a 500 ms pre-roll then still holds the first syllable.
    assert speech_start + 0.2 <= started_at <= speech_start + 0.35
    assert speech_end + 0.7 <= ended_at <= speech_end + 0.9


@pytest.mark.parametrize("end_ms", [500, 800, 1200])
@pytest.mark.parametrize("name", PAUSED_FILES)
def test_a_400_ms_pause_inside_a_sentence_never_ends_the_turn(name: str, end_ms: int) -> None:
    speech_end = SPEECH[name]["speech"][1]
    found = decisions(name, 3, end_ms=end_ms)
    assert [d for _, d in found] == [Decision.STARTED, Decision.ENDED]
    assert found[1][0] > speech_end


def test_an_end_hangover_as_short_as_the_pause_would_end_the_turn_inside_it() -> None:
    # The contrast to the test above: the pause is real silence the VAD sees.
    name = "question-story-pause.wav"
    pause_start, pause_end = SPEECH[name]["pauses"][0]
    (_, _), (ended_at, decision) = decisions(name, 3, end_ms=300)
    assert decision is Decision.ENDED
    assert pause_start < ended_at <= pause_end + 0.1


def test_a_loud_fan_the_lenient_vad_calls_speech_is_cut_only_by_the_energy_floor() -> None:
    name = "question-moon-pause-fan.wav"
    # Mode 0 calls the fan speech, and it is louder than the default floor: no end.
    assert [d for _, d in decisions(name, 0)] == [Decision.STARTED]
    # A floor above the fan ends the turn after the sentence.
    speech_end = SPEECH[name]["speech"][1]
    found = decisions(name, 0, min_energy_dbfs=-30.0)
    assert [d for _, d in found] == [Decision.STARTED, Decision.ENDED]
    assert found[1][0] > speech_end
