"""Write and read 16-bit mono PCM as WAV files (answers saved by `ask` and the demo)."""

from __future__ import annotations

import os
import wave
from pathlib import Path


def write_wav(path: Path, pcm: bytes, rate: int) -> Path:
    """Write mono S16_LE `pcm` at `rate` Hz to `path` atomically and return the path."""
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM must have an even byte count, got {len(pcm)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    # A reader never sees a half-written answer.
    os.replace(tmp, path)
    return path


def read_wav(path: Path) -> tuple[bytes, int]:
    """Read a mono 16-bit WAV file and return (pcm, rate)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        return wav.readframes(wav.getnframes()), wav.getframerate()
