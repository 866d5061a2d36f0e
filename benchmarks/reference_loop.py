"""The seed's reference loop: the Live API get-started example's structure, on pyalsaaudio.

Run (as benchmarks/appliance.py does, in a child process):
    ALSA_CONFIG_PATH=... python benchmarks/reference_loop.py BASE_URL CA_FILE [--model M]

An asyncio program with a microphone queue and a speaker queue: one task reads the mic with an
`asyncio.to_thread` pyalsaaudio read per chunk (1024 frames, as the example's CHUNK_SIZE) and
puts it on the out queue; one task sends the out queue with `send_realtime_input`; one
receives each turn into the speaker queue (and, as the example does, empties that queue when
a turn ends, which is how an interruption reaches it); one plays the speaker queue with a
`to_thread` write per chunk. Nothing drops the PCM on a barge-in. The google-genai SDK is used
directly (`client.aio.live.connect`).

What the example lacks and a button box needs, added in its style: automatic activity
detection is disabled (as talkbox configures it, talkbox/live/session_config.py), a gpiozero
button on a MockFactory pin puts activityStart/activityEnd on the out queue, and mic audio is
sent only while the button is held. `press`/`release` on stdin drive the pin; `ready` is said
once connected; `mic_frames` answers how many frames the microphone gave so far.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from typing import Any

import alsaaudio
from google import genai
from google.genai import types
from gpiozero import Button
from gpiozero.pins.mock import MockFactory, MockPWMPin

from _common import announce, drive_from_stdin

BUTTON_PIN = 5
SEND_RATE = 16_000
RECEIVE_RATE = 24_000
CHUNK_SIZE = 1024
START = "activity_start"
END = "activity_end"

CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    realtime_input_config=types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
    ),
)


class ReferenceLoop:
    """AudioLoop of the get-started example, with a push-to-talk button."""

    def __init__(self, capture: str, playback: str, pin_factory: Any) -> None:
        """Read `capture`, play on `playback`; the button's pin comes from `pin_factory`."""
        self.capture = capture
        self.playback = playback
        self.pin_factory = pin_factory
        self.out_queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=5)
        self.audio_in_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.held = False
        self.session: Any = None
        self.mic_frames = 0
        """Frames (samples) read from the microphone so far: the bench checks the rate."""

    def _signal(self, loop: asyncio.AbstractEventLoop, what: str) -> None:
        asyncio.run_coroutine_threadsafe(self.out_queue.put(what), loop)

    async def listen_audio(self) -> None:
        """Mic → out queue, a to_thread read per chunk."""
        pcm = alsaaudio.PCM(
            alsaaudio.PCM_CAPTURE,
            alsaaudio.PCM_NORMAL,
            device=self.capture,
            channels=1,
            rate=SEND_RATE,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=CHUNK_SIZE,
            periods=4,
        )
        while True:
            frames, data = await asyncio.to_thread(pcm.read)
            self.mic_frames += max(frames, 0)
            if frames > 0 and self.held:
                await self.out_queue.put({"data": data, "mime_type": f"audio/pcm;rate={SEND_RATE}"})

    async def send_realtime(self) -> None:
        """Out queue → the session."""
        while True:
            msg = await self.out_queue.get()
            if msg == START:
                self.held = True
                await self.session.send_realtime_input(activity_start=types.ActivityStart())
            elif msg == END:
                self.held = False
                await self.session.send_realtime_input(activity_end=types.ActivityEnd())
            else:
                await self.session.send_realtime_input(audio=types.Blob(**msg))

    async def receive_audio(self) -> None:
        """Each turn's audio → the speaker queue."""
        while True:
            turn = self.session.receive()
            async for response in turn:
                if data := response.data:
                    self.audio_in_queue.put_nowait(data)
            # As the example: "If you interrupt the model, it sends a turn_complete. For
            # interruptions to work, we need to stop playback", by emptying the queue.
            while not self.audio_in_queue.empty():
                self.audio_in_queue.get_nowait()

    async def play_audio(self) -> None:
        """Speaker queue → ALSA, a to_thread write per chunk."""
        pcm = alsaaudio.PCM(
            alsaaudio.PCM_PLAYBACK,
            alsaaudio.PCM_NORMAL,
            device=self.playback,
            channels=1,
            rate=RECEIVE_RATE,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=CHUNK_SIZE,
            periods=4,
        )
        while True:
            bytestream = await self.audio_in_queue.get()
            await asyncio.to_thread(pcm.write, bytestream)

    async def run(self, client: genai.Client, model: str) -> None:
        """Connect and run the four tasks until stdin says quit."""
        loop = asyncio.get_running_loop()
        button = Button(BUTTON_PIN, pin_factory=self.pin_factory)
        button.when_pressed = lambda: self._signal(loop, START)
        button.when_released = lambda: self._signal(loop, END)
        quit_event = asyncio.Event()
        async with client.aio.live.connect(model=model, config=CONFIG) as session:
            self.session = session
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self.send_realtime())
                    tg.create_task(self.listen_audio())
                    tg.create_task(self.receive_audio())
                    tg.create_task(self.play_audio())
                    drive_from_stdin(
                        self.pin_factory.pin(BUTTON_PIN),
                        lambda: loop.call_soon_threadsafe(quit_event.set),
                        {"mic_frames": lambda: float(self.mic_frames)},
                    )
                    announce("ready")
                    await quit_event.wait()
                    raise asyncio.CancelledError
            except asyncio.CancelledError:
                pass
        button.close()


def main() -> None:
    """Parse the arguments and run the loop against the emulator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("ca_file")
    parser.add_argument("--model", default="gemini-3.8-live")
    parser.add_argument("--api-key", default="emu-test-key")
    parser.add_argument("--capture", default="mic")
    parser.add_argument("--playback", default="speaker")
    args = parser.parse_args()
    client = genai.Client(
        api_key=args.api_key,
        http_options=types.HttpOptions(
            base_url=args.base_url,
            api_version="v1beta",
            async_client_args={
                "ssl": ssl.create_default_context(cafile=args.ca_file),
                "proxy": None,
            },
        ),
    )
    factory = MockFactory(pin_class=MockPWMPin)
    loop = ReferenceLoop(args.capture, args.playback, factory)
    asyncio.run(loop.run(client, args.model))
    factory.reset()
    sys.exit(0)


if __name__ == "__main__":
    main()
