from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.audio.wav import read_wav, write_wav


def test_a_written_wav_reads_back_identically(tmp_path: Path) -> None:
    pcm = bytes(range(256)) * 10
    path = write_wav(tmp_path / "a" / "answer.wav", pcm, 24000)
    assert read_wav(path) == (pcm, 24000)
    assert not list(tmp_path.glob("a/.*.tmp"))


def test_odd_byte_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even byte count"):
        write_wav(tmp_path / "x.wav", b"\x00", 16000)
