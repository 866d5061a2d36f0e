"""`talkbox demo`: talkbox on its built-in stand-ins, with no Pi, sound card or internet."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from google import genai
from google.genai import types

from talkbox.audio.wav import write_wav
from talkbox.emulator import Emulator, EmulatorOptions

log = logging.getLogger(__name__)

DEMO_KEY = "talkbox-demo-key"
DEMO_MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"
DEMO_TEXT = "Hello talkbox, what can you do?"
ANSWER_RATE = 24_000


async def _one_text_turn(out_dir: Path) -> Path:
    options = EmulatorOptions(api_key=DEMO_KEY, ca_out=out_dir / "emulator-ca.pem")
    async with Emulator(options) as emulator:
        print(f"emulator listening on {emulator.base_url}")
        client = genai.Client(
            api_key=DEMO_KEY,
            http_options=types.HttpOptions(
                base_url=emulator.base_url,
                api_version="v1beta",
                # The emulator is on loopback: a proxy from the environment (HTTPS_PROXY)
                # must not carry the demo's traffic, so websockets gets proxy=None.
                async_client_args={"ssl": emulator.client_ssl_context(), "proxy": None},
            ),
        )
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            output_audio_transcription=types.AudioTranscriptionConfig(),
            session_resumption=types.SessionResumptionConfig(),
        )
        audio = bytearray()
        transcript: list[str] = []
        started = time.monotonic()
        first_audio: float | None = None
        async with client.aio.live.connect(model=DEMO_MODEL, config=config) as session:
            print(f"you: {DEMO_TEXT}")
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=DEMO_TEXT)]),
                turn_complete=True,
            )
            async for message in session.receive():
                if message.data:
                    first_audio = first_audio or time.monotonic()
                    audio.extend(message.data)
                content = message.server_content
                if content and content.output_transcription and content.output_transcription.text:
                    transcript.append(content.output_transcription.text)
        wav = write_wav(out_dir / "answer.wav", bytes(audio), ANSWER_RATE)
        latency_ms = ((first_audio or started) - started) * 1000
        print(f"gemini (emulated): {''.join(transcript).strip()}")
        print(
            f"answer: {len(audio) / 2 / ANSWER_RATE:.2f} s of 24 kHz audio, "
            f"first audio after {latency_ms:.0f} ms"
        )
        return wav


def run_demo(*, out_dir: Path) -> int:
    """Start the emulator, send one text turn through the real SDK, save the answer as WAV."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = asyncio.run(_one_text_turn(out_dir))
    print(f"answer written to {wav}")
    sys.stdout.flush()
    return 0
