"""What `ask` writes: answer files always inside --out-dir, never a blank line for an answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.ask import Answer, answer_line, answer_wav


@pytest.mark.parametrize(
    "conversation_id",
    ["../../x", "/etc/passwd", "a/b", "..", "", "x\ny", "é" * 10, "a" * 300],
)
def test_no_conversation_id_names_a_file_outside_the_out_dir(
    tmp_path: Path, conversation_id: str
) -> None:
    wav = answer_wav(tmp_path, conversation_id, 3)
    assert wav.parent == tmp_path
    assert wav.resolve().parent == tmp_path.resolve()
    assert wav.name.startswith("talkbox-")
    assert wav.name.endswith("-003.wav")
    assert len(wav.name) <= 90


def test_an_ordinary_id_is_kept_as_it_is(tmp_path: Path) -> None:
    assert answer_wav(tmp_path, "3f2a9c0d11e4", 12).name == "talkbox-3f2a9c0d11e4-012.wav"


def answer(transcript: str) -> Answer:
    return Answer(
        turn=1,
        conversation="c",
        transcript=transcript,
        wav=Path("/out/talkbox-c-001.wav"),
        audio_s=2.04,
        first_audio_ms=10.0,
        resumed=False,
        reconnects=0,
    )


def test_an_answer_prints_its_transcript() -> None:
    assert answer_line(answer("It is noon.")) == "It is noon."


def test_an_answer_without_a_transcript_says_where_the_audio_went() -> None:
    line = answer_line(answer(""))
    assert line == "(no transcript) 2.0s of audio saved to /out/talkbox-c-001.wav"
