"""The emulated model: echoes, tone phrases, transcripts, tool choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkbox.emulator import model


def tone(seconds: float, rate: int, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * 10000).astype("<i2").tobytes()


@given(st.integers(0, 4000), st.sampled_from([8000, 16000, 22050, 24000, 48000]))
def test_resampling_keeps_the_duration(samples: int, rate: int) -> None:
    out = model.resample(bytes(samples * 2), rate, 24000)
    assert len(out) // 2 == round(samples * 24000 / rate)


def test_an_echo_keeps_the_pitch() -> None:
    turn = model.UserTurn("audio", bytearray(tone(0.5, 16000)), 16000)
    reply = model.answer(turn)
    samples = np.frombuffer(reply.pcm, dtype="<i2").astype(np.float64)
    peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 24000 / samples.size
    assert abs(peak_hz - 440) < 5
    assert reply.description == "echo of 0.50 s of audio"


def test_tone_phrases_grow_with_the_text_and_are_deterministic() -> None:
    short = model.tone_phrase("hi")
    longer = model.tone_phrase("hello, how are you")
    assert len(longer) > len(short) > 0
    assert model.tone_phrase("hello") == model.tone_phrase("hello")
    assert model.tone_phrase("hello") != model.tone_phrase("world")


def test_transcripts_name_the_input_and_the_turn() -> None:
    audio = model.UserTurn("audio", bytearray(bytes(16000)), 16000)
    assert model.input_transcript(audio) == "audio 0.50 s"
    text = model.UserTurn("text", text="what time is it")
    assert model.input_transcript(text) == "what time is it"
    reply = model.answer(text)
    assert model.output_transcript(7, reply).startswith("turn 7: tone phrase of ")
    assert model.output_transcript(7, reply).endswith('for "what time is it"')


def test_chunks_cover_the_audio_in_pieces_of_the_chosen_length() -> None:
    pcm = bytes(24000 * 2)  # 1 s
    pieces = model.chunks(pcm, 100)
    assert len(pieces) == 10
    assert {len(p) for p in pieces} == {4800}
    assert b"".join(pieces) == pcm


def test_a_declared_function_is_named_by_its_name_or_its_words() -> None:
    declared = ["get_weather", "set_timer"]
    assert model.named_function("please call get_weather now", declared) == "get_weather"
    assert model.named_function("Set timer for five minutes", declared) == "set_timer"
    assert model.named_function("what's up", declared) is None
    assert model.named_function("get weather", []) is None


@pytest.mark.parametrize(
    ("text", "declared"),
    [
        ("what is the capital of France", ["f"]),
        ("please reset timers", ["set_timer"]),
        ("the offset timer", ["set_timer"]),
        ("get weathers", ["get_weather"]),
    ],
)
def test_a_function_name_inside_another_word_does_not_call_it(
    text: str, declared: list[str]
) -> None:
    assert model.named_function(text, declared) is None


def test_a_long_text_turn_is_echoed_in_its_transcript_cut_to_2000_characters() -> None:
    turn = model.UserTurn("text", text="x" * 1_000_000)
    transcript = model.input_transcript(turn)
    assert len(transcript) == model.MAX_TRANSCRIPT_CHARS
    assert transcript.endswith("...")


def test_rms_tells_silence_from_sound() -> None:
    assert model.rms(bytes(640)) == 0.0
    assert model.rms(tone(0.02, 16000)) > 5000
    assert model.rms(b"") == 0.0


def test_an_empty_audio_turn_is_answered_with_a_moment_of_silence() -> None:
    reply = model.answer(model.UserTurn("audio"))
    assert reply.pcm == bytes(4800)
    assert reply.description == "echo of 0.00 s of audio"


@given(st.text(max_size=200))
def test_text_chunks_join_back_to_the_text(text: str) -> None:
    pieces = model.text_chunks(text)
    assert "".join(pieces) == text
    assert all(pieces) or text == ""


def test_an_answer_text_is_streamed_in_several_pieces() -> None:
    assert model.text_chunks('turn 1: tone phrase of 0.40 s for "hello"') == [
        "turn 1: tone phrase of ",
        '0.40 s for "hello"',
    ]


TIMER_TOOLS = ["set_timer", "set_alarm", "list_timers", "change_timer", "cancel_timer"]


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("Set a pasta timer for 9 minutes", ("set_timer", {"minutes": 9, "name": "pasta"})),
        ("set a timer for 1 hour 30 minutes", ("set_timer", {"hours": 1, "minutes": 30})),
        ("start a timer for 3 seconds", ("set_timer", {"seconds": 3})),
        ("set a tea timer for five minutes", ("set_timer", {"minutes": 5, "name": "tea"})),
        ("set a timer for forty-five seconds", ("set_timer", {"seconds": 45})),
        ("start a timer for an hour", ("set_timer", {"hours": 1})),
        ("wake me at 7:30", ("set_alarm", {"time": "07:30"})),
        ("set an alarm at 6 pm", ("set_alarm", {"time": "18:00"})),
        ("how long is left on the pasta?", ("list_timers", {})),
        ("add 2 minutes to the pasta timer", ("change_timer", {"minutes": 2, "name": "pasta"})),
        ("cancel the pasta timer", ("cancel_timer", {"name": "pasta"})),
        ("cancel all timers", ("cancel_timer", {"all": True})),
        ("what is the weather", None),
    ],
)
def test_timer_requests_become_calls_with_the_arguments_a_model_sends(
    text: str, call: tuple[str, dict[str, object]] | None
) -> None:
    assert model.timer_call(text, TIMER_TOOLS) == call


def test_a_timer_request_calls_nothing_undeclared() -> None:
    assert model.timer_call("set a timer for 3 seconds", ["get_time"]) is None


HOME_TOOL = {
    "name": "control_home",
    "description": "Control or ask about the person's home through Home Assistant.",
    "parameters": {"type": "OBJECT", "properties": {"request": {"type": "STRING"}}},
}


@pytest.mark.parametrize(
    "text",
    ["turn on the kitchen light", "Switch off the fan please", "is the garage door open"],
)
def test_a_home_request_is_handed_to_the_home_function_in_the_persons_words(text: str) -> None:
    assert model.home_call(text, {"control_home": HOME_TOOL}) == ("control_home", {"request": text})


def test_only_a_home_request_and_only_a_home_function_with_one_string_make_a_home_call() -> None:
    assert model.home_call("what time is it", {"control_home": HOME_TOOL}) is None
    not_home = {**HOME_TOOL, "description": "Set the speaker volume."}
    assert model.home_call("turn on the kitchen light", {"set_volume": not_home}) is None
    number = {**HOME_TOOL, "parameters": {"properties": {"request": {"type": "INTEGER"}}}}
    assert model.home_call("turn on the kitchen light", {"control_home": number}) is None
