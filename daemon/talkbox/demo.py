"""`talkbox demo`: talkbox on its built-in stand-ins, with no Pi, sound card or internet."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from pathlib import Path

from talkbox.ask import ask
from talkbox.config import load_settings
from talkbox.emulator import Emulator, EmulatorOptions

DEMO_KEY = "talkbox-demo-key"
DEMO_TEXT = "Hello talkbox, what can you do?"


async def _one_text_turn(out_dir: Path) -> int:
    options = EmulatorOptions(api_key=DEMO_KEY, ca_out=out_dir / "emulator-ca.pem")
    async with Emulator(options) as emulator:
        print(f"emulator listening on {emulator.base_url}")
        # Each demo's emulator is new, so a handle stored by an earlier demo would only be
        # refused: the conversation state lives in a directory of its own run.
        with tempfile.TemporaryDirectory(prefix="talkbox-demo-") as state_dir:
            settings = load_settings(
                api_key=DEMO_KEY,
                base_url=emulator.base_url,
                ca_file=emulator.ca_file,
                state_dir=Path(state_dir),
            )
            print(f"you: {DEMO_TEXT}")
            answers = io.StringIO()
            code = await ask(settings, [DEMO_TEXT], out_dir=out_dir, as_json=True, out=answers)
    for line in answers.getvalue().splitlines():
        answer = json.loads(line)
        print(f"gemini (emulated): {answer['transcript']}")
        print(
            f"answer: {answer['audio_s']:.2f} s of 24 kHz audio, "
            f"first audio after {answer['first_audio_ms']:.0f} ms"
        )
        print(f"answer written to {answer['wav']}")
    return code


def run_demo(*, out_dir: Path) -> int:
    """Start the emulator and `ask` it one text turn through the link; save the answer as WAV."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_one_text_turn(out_dir))
