"""The endpointer: start threshold, end hangover, energy floor, limits; fed durations only."""

from __future__ import annotations

import pytest

from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions, Phase, PreRoll

FRAME_S = 0.02
LOUD, QUIET = -20.0, -70.0
#: One character per 20 ms frame: S voiced and loud, _ silence, n the VAD's "speech" on
#: audio below the energy floor (a fan, hiss), T loud and "speech" (a tone, a loud fan).
FRAMES = {"S": (True, LOUD), "_": (False, QUIET), "n": (True, QUIET), "T": (True, LOUD)}


def run(endpointer: Endpointer, frames: str) -> list[tuple[int, Decision]]:
    """Feed the frames; the decisions other than NONE with the index of their frame."""
    decisions = []
    for i, kind in enumerate(frames):
        is_speech, energy = FRAMES[kind]
        decision = endpointer.feed(FRAME_S, is_speech, energy)
        if decision is not Decision.NONE:
            decisions.append((i, decision))
    return decisions


def tapped(no_speech_timeout_s: float | None = 5.0, **options: float) -> Endpointer:
    endpointer = Endpointer(EndpointOptions(**options))  # type: ignore[arg-type]
    endpointer.reset(no_speech_timeout_s=no_speech_timeout_s)
    return endpointer


def test_speech_starts_after_the_start_threshold_of_voiced_frames() -> None:
    assert run(tapped(start_ms=200), "____" + "S" * 12) == [(13, Decision.STARTED)]


def test_short_gaps_between_syllables_are_bridged_but_clicks_do_not_add_up() -> None:
    assert run(tapped(start_ms=200), "SSS__SSS__SSSS") == [(13, Decision.STARTED)]
    clicks = ("S" + "_" * 10) * 20
    assert run(tapped(start_ms=200, no_speech_timeout_s=None), clicks) == []


def test_the_utterance_ends_after_the_end_hangover_of_silence() -> None:
    decisions = run(tapped(start_ms=200, end_ms=800), "S" * 10 + "_" * 40)
    assert decisions == [(9, Decision.STARTED), (49, Decision.ENDED)]


def test_a_400_ms_pause_inside_a_sentence_does_not_end_the_utterance() -> None:
    sentence = "S" * 30 + "_" * 20 + "S" * 30 + "_" * 39
    assert run(tapped(end_ms=800), sentence) == [(9, Decision.STARTED)]


def test_quiet_frames_the_vad_calls_speech_neither_start_nor_prolong_an_utterance() -> None:
    assert run(tapped(no_speech_timeout_s=None), "n" * 200) == []
    decisions = run(tapped(end_ms=800), "S" * 20 + "n" * 40)
    assert decisions == [(9, Decision.STARTED), (59, Decision.ENDED)]


def test_loud_steady_noise_above_the_floor_is_cut_by_the_utterance_limit() -> None:
    decisions = run(tapped(max_utterance_s=2.0), "T" * 200)
    assert decisions == [(9, Decision.STARTED), (99, Decision.LIMIT)]


def test_the_utterance_limit_counts_from_the_start_of_speech() -> None:
    decisions = run(tapped(max_utterance_s=1.0), "_" * 100 + "S" * 100)
    assert decisions == [(109, Decision.STARTED), (149, Decision.LIMIT)]


def test_no_speech_within_the_timeout_ends_the_wait() -> None:
    assert run(tapped(no_speech_timeout_s=1.0), "_" * 100) == [(49, Decision.NO_SPEECH)]


def test_a_held_button_ignores_silence_and_counts_the_limit_from_the_press() -> None:
    endpointer = Endpointer(EndpointOptions(max_utterance_s=2.0))
    endpointer.reset(end_on_silence=False, no_speech_timeout_s=1.0)
    decisions = run(endpointer, "_" * 60 + "S" * 10 + "_" * 200)
    assert decisions == [(69, Decision.STARTED), (99, Decision.LIMIT)]


def test_after_its_decision_the_endpointer_is_silent_until_reset() -> None:
    endpointer = tapped(no_speech_timeout_s=0.1)
    assert run(endpointer, "_____") == [(4, Decision.NO_SPEECH)]
    assert endpointer.phase is Phase.DONE
    assert run(endpointer, "S" * 50) == []
    endpointer.reset(no_speech_timeout_s=None)
    assert run(endpointer, "S" * 10) == [(9, Decision.STARTED)]


def test_the_same_frames_give_the_same_decisions() -> None:
    frames = "__SSS_SSSSSSSS___S_SSSS" + "_" * 45 + "SSSS"
    assert run(tapped(), frames) == run(tapped(), frames)


@pytest.mark.parametrize(
    "options",
    [{"start_ms": 0}, {"end_ms": 50}, {"min_energy_dbfs": 0.0}, {"max_utterance_s": 500.0}],
)
def test_endpoint_options_refuse_values_out_of_range(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be between"):
        EndpointOptions(**options)  # type: ignore[arg-type]


def test_the_preroll_keeps_the_newest_whole_frames_and_empties_when_taken() -> None:
    preroll = PreRoll(max_bytes=6)
    for chunk in (b"aa", b"bb", b"cc", b"dd"):
        preroll.remember(chunk)
    assert len(preroll) == 6
    assert preroll.take() == b"bbccdd"
    assert preroll.take() == b""
    preroll.remember(b"ee")
    preroll.clear()
    assert len(preroll) == 0
