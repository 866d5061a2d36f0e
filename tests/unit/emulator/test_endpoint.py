"""Automatic activity detection: turns open on loud audio and end after enough quiet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from talkbox.emulator.endpoint import Endpointer, Step


def test_a_turn_opens_on_speech_and_ends_after_the_silence_limit() -> None:
    ep = Endpointer(silence_s=0.3)
    steps = [
        ep.feed(loud, 0.1)
        for loud in (False, False, True, True, False, False, True, False, False, False, False)
    ]
    assert steps == [
        Step.IDLE, Step.IDLE, Step.START, Step.SPEECH, Step.SPEECH, Step.SPEECH,
        Step.SPEECH, Step.SPEECH, Step.SPEECH, Step.END, Step.IDLE,
    ]  # fmt: skip


def test_the_end_of_the_stream_ends_a_turn_only_if_one_is_open() -> None:
    ep = Endpointer(silence_s=1.0)
    assert ep.stream_ended() is False
    assert ep.feed(True, 0.02) is Step.START
    assert ep.stream_ended() is True
    assert ep.feed(False, 0.02) is Step.IDLE


@given(
    silence_ms=st.integers(20, 500),
    chunks=st.lists(st.tuples(st.booleans(), st.sampled_from([10, 20, 30, 100])), max_size=80),
)
def test_steps_are_consistent_for_any_audio(
    silence_ms: int, chunks: list[tuple[bool, int]]
) -> None:
    ep = Endpointer(silence_ms / 1000)
    open_turn = False
    quiet_ms = 0
    for loud, ms in chunks:
        step = ep.feed(loud, ms / 1000)
        if not open_turn:
            assert step is (Step.START if loud else Step.IDLE)
            open_turn = loud
            quiet_ms = 0
            continue
        quiet_ms = 0 if loud else quiet_ms + ms
        if quiet_ms >= silence_ms:
            assert step is Step.END
            open_turn = False
        else:
            assert step is Step.SPEECH
        assert ep.in_speech is open_turn
