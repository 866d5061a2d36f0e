"""The wake word detector on real (synthesized) speech from tests/data.

The clips are made by scripts/make-test-audio; tests/data/wake/clips.json says which wake
word each holds and where it ends. The question files (tests/data/question-*.wav) and the
near misses hold none. All three models that hear espeak-ng's voices listen at once, as a
box configured with several wake words would, so a clip must fire its own model only.
"""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from talkbox.audio.denoise import DenoiseOptions, Denoiser
from talkbox.hearing.wake import (
    Detection,
    WakeOptions,
    WakeWordDetector,
    WakeWordSpec,
    resolve_config,
)

DATA = Path(__file__).parents[2] / "data"
CLIPS = json.loads((DATA / "wake" / "clips.json").read_text(encoding="utf-8"))
POSITIVE = sorted(name for name, facts in CLIPS.items() if "model" in facts)
NEGATIVE = sorted(f"wake/{n}" for n, f in CLIPS.items() if "model" not in f) + sorted(
    p.name for p in DATA.glob("question-*.wav")
)
LISTENING = "okay_nabu,alexa,hey_mycroft"  # hey_jarvis does not hear espeak-ng's voices
FRAME_BYTES = 640


def read(name: str) -> bytes:
    """A clip's audio in whole 20 ms frames, as the microphone delivers it."""
    with wave.open(str(DATA / name)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        pcm = wav.readframes(wav.getnframes())
    return pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES]


def detections(detector: WakeWordDetector, pcm: bytes) -> list[Detection]:
    """Feed `pcm` in 20 ms frames, as the control task does."""
    found = [detector.process(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]
    return [d for d in found if d is not None]


def listening(value: str = LISTENING, refractory_s: float = 2.0) -> WakeWordDetector:
    return WakeWordDetector(
        WakeOptions(
            wake_words=tuple(WakeWordSpec(source=word) for word in value.split(",")),
            refractory_s=refractory_s,
        )
    )


@pytest.fixture(scope="module")
def detector() -> WakeWordDetector:
    return listening()


def test_the_positive_and_negative_sets_are_all_there() -> None:
    assert len(POSITIVE) == 6
    assert {CLIPS[n]["model"] for n in POSITIVE} == {"okay_nabu", "alexa", "hey_mycroft"}
    assert {CLIPS[n]["condition"] for n in POSITIVE} == {"clean", "fan", "answer6"}
    assert len(NEGATIVE) == 5


@pytest.mark.parametrize("name", POSITIVE)
def test_each_wake_word_fires_its_own_model_once_just_after_it_is_said(
    detector: WakeWordDetector, name: str
) -> None:
    detector.reset()
    facts = CLIPS[name]
    (detection,) = detections(detector, read(f"wake/{name}"))
    assert detection.model_id == facts["model"]
    (model,) = [m for m in detector.models if m.id == detection.model_id]
    assert detection.probability > model.probability_cutoff
    # The averaged probability crosses the cutoff near the end of the word: well within the
    # last syllable at the earliest, and within 0.6 s after it.
    assert facts["wake_end_s"] - 0.3 <= detection.audio_s <= facts["wake_end_s"] + 0.6


@pytest.mark.parametrize("name", NEGATIVE)
def test_speech_without_a_wake_word_fires_nothing(detector: WakeWordDetector, name: str) -> None:
    detector.reset()
    assert detections(detector, read(name)) == []


def test_the_wake_word_fires_before_the_question_that_follows_it(
    detector: WakeWordDetector,
) -> None:
    detector.reset()
    facts = CLIPS["okay_nabu-question-en-gb.wav"]
    (detection,) = detections(detector, read("wake/okay_nabu-question-en-gb.wav"))
    # So the turn opens before the question: the audio after the detection holds it whole.
    assert detection.audio_s < facts["question_start_s"]


def test_a_wake_word_said_again_within_the_refractory_time_fires_once() -> None:
    clip = read("wake/okay_nabu-en-us.wav")
    # Back to back, the second word crosses the cutoff 1.84 s after the first detection.
    assert len(detections(listening("okay_nabu", refractory_s=2.0), clip + clip)) == 1
    assert len(detections(listening("okay_nabu", refractory_s=1.5), clip + clip)) == 2


def test_a_wake_word_said_again_after_the_refractory_time_fires_again() -> None:
    clip = read("wake/okay_nabu-en-us.wav")
    first, second = detections(
        listening("okay_nabu", refractory_s=2.0), clip + bytes(32_000) + clip
    )
    # 20 ms frames and 30 ms model strides fall differently on the second copy.
    assert second.audio_s - first.audio_s == pytest.approx(len(clip) / 32_000 + 1.0, abs=0.1)


def test_one_utterance_fires_once_even_with_the_shortest_refractory_time() -> None:
    # The average stays over the cutoff for half a second after the word: it must fall back
    # under it before the model can fire again.
    for name in POSITIVE:
        wake = listening(CLIPS[name]["model"], refractory_s=0.5)
        assert len(detections(wake, read(f"wake/{name}"))) == 1, name


def test_reset_forgets_the_audio_so_the_same_clip_fires_at_the_same_time() -> None:
    wake = listening("alexa")
    before = read("wake/near-miss-en-us.wav")
    clip = read("wake/alexa-en-gb-x-rp.wav")
    (first,) = detections(wake, before + clip)
    wake.reset()
    assert wake.audio_s == 0.0
    (again,) = detections(wake, clip)
    assert again.audio_s == pytest.approx(first.audio_s - len(before) / 32_000, abs=0.1)
    wake.reset()
    (third,) = detections(wake, clip)
    assert third == again


def test_a_custom_model_fires_under_its_own_name(tmp_path: Path) -> None:
    shipped = resolve_config("okay_nabu")
    shutil.copy(shipped.with_suffix(".tflite"), tmp_path / "kitchen.tflite")
    config = json.loads(shipped.read_text(encoding="utf-8"))
    config.update(model="kitchen.tflite", wake_word="Kitchen")
    (tmp_path / "kitchen.json").write_text(json.dumps(config), encoding="utf-8")
    wake = listening(f"alexa,{tmp_path / 'kitchen.json'}")
    (detection,) = detections(wake, read("wake/okay_nabu-en-us.wav"))
    assert (detection.model_id, detection.wake_word) == ("kitchen", "Kitchen")


def test_a_cutoff_above_anything_the_model_outputs_never_fires() -> None:
    # The models' outputs are 8-bit: at most 255/256.
    never = WakeWordSpec(source="okay_nabu", probability_cutoff=0.999)
    wake = WakeWordDetector(WakeOptions(wake_words=(WakeWordSpec(source="alexa"), never)))
    assert detections(wake, read("wake/okay_nabu-en-us.wav")) == []
    wake.reset()
    assert [d.model_id for d in detections(wake, read("wake/alexa-en-gb-x-rp.wav"))] == ["alexa"]


def test_a_shorter_sliding_window_fires_sooner() -> None:
    clip = read("wake/okay_nabu-en-us.wav")

    def fired_at(window: int) -> float:
        spec = WakeWordSpec(source="okay_nabu", sliding_window=window)
        (detection,) = detections(WakeWordDetector(WakeOptions(wake_words=(spec,))), clip)
        return detection.audio_s

    assert fired_at(1) < fired_at(5) < fired_at(10)


@pytest.mark.parametrize("name", POSITIVE)
def test_noise_suppression_and_auto_gain_before_the_detector_keep_every_detection(
    detector: WakeWordDetector, name: str
) -> None:
    detector.reset()
    denoiser = Denoiser(DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0))
    pcm = read(f"wake/{name}")
    cleaned = b"".join(
        denoiser.process(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)
    )
    assert [d.model_id for d in detections(detector, cleaned)] == [CLIPS[name]["model"]]


@pytest.mark.parametrize("name", NEGATIVE)
def test_noise_suppression_and_auto_gain_add_no_false_detection(
    detector: WakeWordDetector, name: str
) -> None:
    detector.reset()
    denoiser = Denoiser(DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0))
    pcm = read(name)
    cleaned = b"".join(
        denoiser.process(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)
    )
    assert detections(detector, cleaned) == []
