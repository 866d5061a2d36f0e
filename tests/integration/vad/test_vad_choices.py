"""Both VADs (TALKBOX_VAD=webrtc|silero), with and without noise suppression, on real speech.

The same endpointer decides for both; the files and tests/data/speech.json come from
scripts/make-test-audio. Each frame goes through the denoiser (when on) before the VAD, as on
the capture path.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from talkbox.audio.denoise import DenoiseOptions, Denoiser
from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.hearing.vad import FRAME_BYTES, FRAME_MS, SpeechDetector, VadKind, make_vad

DATA = Path(__file__).parents[2] / "data"
SPEECH = json.loads((DATA / "speech.json").read_text(encoding="utf-8"))
PAUSED_FILES = [name for name, facts in SPEECH.items() if facts["pauses"]]
CLEANUPS = {
    "raw": DenoiseOptions(),
    "denoised": DenoiseOptions(noise_suppression=2),
    "denoised+gain": DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0),
}


def decisions(
    name: str, kind: VadKind, cleanup: str = "raw", **options: float
) -> list[tuple[float, Decision]]:
    """The endpointer's decisions on a file, each with the time at the end of its frame."""
    with wave.open(str(DATA / name)) as wav:
        pcm = wav.readframes(wav.getnframes())
    denoiser = Denoiser(CLEANUPS[cleanup])
    detector = SpeechDetector(
        make_vad(kind),
        Endpointer(EndpointOptions(**options)),  # type: ignore[arg-type]
    )
    detector.endpointer.reset(no_speech_timeout_s=5.0)
    found = []
    for i in range(len(pcm) // FRAME_BYTES):
        frame = denoiser.process(pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES])
        decision = detector.feed(frame)
        if decision is not Decision.NONE:
            found.append((round((i + 1) * FRAME_MS / 1000, 3), decision))
    return found


@pytest.mark.parametrize("cleanup", CLEANUPS)
@pytest.mark.parametrize("kind", list(VadKind))
@pytest.mark.parametrize("name", list(SPEECH))
def test_either_vad_starts_the_turn_with_the_speech_and_ends_it_after_the_sentence(
    name: str, kind: VadKind, cleanup: str
) -> None:
    speech_start, speech_end = SPEECH[name]["speech"]
    (started_at, first), (ended_at, second) = decisions(name, kind, cleanup, end_ms=800)
    assert (first, second) == (Decision.STARTED, Decision.ENDED)
    # Silero judges 32 ms chunks and its probability trails off after the last syllable, so
    # it may start and end a chunk or two later than webrtcvad.
    assert speech_start + 0.2 <= started_at <= speech_start + 0.35
    assert speech_end + 0.7 <= ended_at <= speech_end + 1.0


@pytest.mark.parametrize("cleanup", CLEANUPS)
@pytest.mark.parametrize("kind", list(VadKind))
@pytest.mark.parametrize("end_ms", [500, 800])
@pytest.mark.parametrize("name", PAUSED_FILES)
def test_neither_vad_ends_the_turn_at_a_400_ms_pause_inside_a_sentence(
    name: str, end_ms: int, kind: VadKind, cleanup: str
) -> None:
    speech_end = SPEECH[name]["speech"][1]
    found = decisions(name, kind, cleanup, end_ms=end_ms)
    assert [d for _, d in found] == [Decision.STARTED, Decision.ENDED]
    assert found[1][0] > speech_end


@pytest.mark.parametrize("kind", list(VadKind))
def test_both_vads_hear_the_pause_itself_so_a_hangover_as_short_ends_the_turn_in_it(
    kind: VadKind,
) -> None:
    # The contrast to the test above: each VAD really calls the pause silence.
    name = "question-story-pause.wav"
    pause_start, pause_end = SPEECH[name]["pauses"][0]
    (_, _), (ended_at, decision) = decisions(name, kind, end_ms=300)
    assert decision is Decision.ENDED
    assert pause_start < ended_at <= pause_end + 0.1


def test_silero_ends_the_turn_over_a_loud_fan_that_the_lenient_webrtcvad_calls_speech() -> None:
    # webrtcvad in mode 0 needs an energy floor above the fan (test_speech_files.py);
    # silero ends the turn with the default floor, where the fan is loud enough to count.
    name = "question-moon-pause-fan.wav"
    speech_end = SPEECH[name]["speech"][1]
    found = decisions(name, VadKind.SILERO)
    assert [d for _, d in found] == [Decision.STARTED, Decision.ENDED]
    assert speech_end + 0.7 <= found[1][0] <= speech_end + 1.0
