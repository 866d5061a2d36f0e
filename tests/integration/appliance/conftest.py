"""The appliance in process: fake devices acting like the world, the real link and emulator.

`Room` is the air in front of the microphone: it feeds the fake microphone a 20 ms frame
every 20 ms, silence unless someone speaks (`say`). Every wait is bounded (`until`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkbox.appliance.app import Appliance
from talkbox.appliance.parts import FakeWorld, fake_parts, new_fake_world
from talkbox.appliance.systemd import Notifier
from talkbox.config import Settings, load_settings
from talkbox.conversation import State
from talkbox.emulator import Emulator
from talkbox.fakes import FakeMic, frame_bytes
from talkbox.live.backoff import RetryPolicy

DATA = Path(__file__).parents[2] / "data"
SPEECH = json.loads((DATA / "speech.json").read_text(encoding="utf-8"))
MODEL = "gemini-3.8-live"
MakeEmulator = Callable[..., Awaitable[Emulator]]

FAST_POLICY = RetryPolicy(
    base_s=0.05,
    cap_s=0.4,
    quota_base_s=0.2,
    quota_cap_s=0.8,
    fatal_retry_s=30.0,
    stable_after_s=5.0,
)


def recording(name: str) -> bytes:
    """A 16 kHz mono recording from tests/data."""
    with wave.open(str(DATA / name), "rb") as wav:
        assert wav.getframerate() == 16_000
        assert wav.getnchannels() == 1
        return wav.readframes(wav.getnframes())


def speech_span(name: str) -> tuple[float, float]:
    """Where the speech of a recording starts and ends, in seconds."""
    start, end = SPEECH[name]["speech"]
    return float(start), float(end)


def audio_received(emulator: Emulator) -> bytes:
    """All microphone audio the emulator received, in order."""
    return b"".join(pcm for _, pcm in audio_records(emulator))


def audio_records(emulator: Emulator) -> list[tuple[float, bytes]]:
    """Each audio message the emulator received: (monotonic time, PCM)."""
    return [
        (r.t, base64.urlsafe_b64decode(r.message["realtimeInput"]["audio"]["data"]))
        for r in emulator.log.client_messages("realtime_input.audio")
    ]


def answers_by_connection(emulator: Emulator) -> list[bytes]:
    """The answer audio the emulator sent on each connection that sent any, in order."""
    by_conn: dict[int, bytearray] = {}
    for record in emulator.log.server_messages("serverContent.modelTurn"):
        for part in record.message["serverContent"]["modelTurn"].get("parts", []):
            data = part.get("inlineData", {}).get("data")
            if data:
                by_conn.setdefault(record.conn, bytearray()).extend(base64.b64decode(data))
    return [bytes(pcm) for _, pcm in sorted(by_conn.items())]


def answer_sent(emulator: Emulator) -> bytes:
    """All answer audio the emulator sent."""
    return b"".join(answers_by_connection(emulator))


async def until(condition: Callable[[], bool], *, within: float, what: str) -> None:
    """Wait (at most `within` s) until `condition()` holds."""
    try:
        async with asyncio.timeout(within):
            # Polled: the conditions span the appliance, its fakes and the emulator's thread.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {within} s: {what}") from None


class Room:
    """Feeds the microphone in real time: silence, or what someone says."""

    def __init__(self, mic: FakeMic) -> None:
        self.mic = mic
        self.frame = frame_bytes()
        self._speech = bytearray()
        self.spoken = asyncio.Event()
        self.frames_fed = 0
        self.stalled = False
        """True: the device delivers nothing (a stalled capture thread)."""

    def say(self, pcm: bytes) -> None:
        """Speak `pcm` from the next frame on (after what is still being said)."""
        self._speech += pcm[: len(pcm) - len(pcm) % self.frame]
        self.spoken.clear()

    @property
    def speaking(self) -> bool:
        """Whether speech is still being fed."""
        return bool(self._speech)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        silence = bytes(self.frame)
        while True:
            if self._speech:
                pcm = bytes(self._speech[: self.frame])
                del self._speech[: self.frame]
                if not self._speech:
                    self.spoken.set()
            else:
                pcm = silence
            if not self.stalled:
                self.mic.feed(pcm)
            self.frames_fed += 1
            await asyncio.sleep(max(0.0, start + self.frames_fed * 0.02 - loop.time()))


@dataclass
class Box:
    """A running appliance and what the test drives it with."""

    app: Appliance
    world: FakeWorld
    room: Room
    emulator: Emulator
    settings: Settings

    seen: int = 0
    """How much of the LED's history the test has gone through."""

    async def state_is(self, state: State, *, within: float = 10.0) -> None:
        """Wait until the LED shows `state` after what the test saw before (in order)."""
        history = self.world.indicator.history

        def shown() -> bool:
            for index in range(self.seen, len(history)):
                if history[index][1] is state:
                    self.seen = index + 1
                    return True
            return False

        await until(shown, within=within, what=f"state {state}")


def box_settings(emulator: Emulator, state_dir: Path, **overrides: Any) -> Settings:
    """Settings for the emulator's gemini-3.8-live with state in `state_dir`."""
    values: dict[str, Any] = {
        "api_key": "emu-test-key",
        "base_url": emulator.base_url,
        "ca_file": emulator.ca_file,
        "state_dir": state_dir,
        "model": MODEL,
    }
    values.update(overrides)
    return load_settings(None, **values)


@contextlib.asynccontextmanager
async def running_box(
    emulator: Emulator,
    state_dir: Path,
    *,
    world: FakeWorld | None = None,
    notifier: Notifier | None = None,
    control_socket: Path | None = None,
    connected: bool = True,
    policy: RetryPolicy = FAST_POLICY,
    **overrides: Any,
) -> AsyncIterator[Box]:
    """The appliance on fakes, talking to `emulator`; idle (connected) when entered."""
    settings = box_settings(emulator, state_dir, **overrides)
    world = world or new_fake_world()
    room = Room(world.mic)
    async with asyncio.TaskGroup() as tg:
        feeder = tg.create_task(room.run(), name="test-room")
        try:
            async with Appliance(
                settings,
                fake_parts(world, settings),
                policy=policy,
                notifier=notifier,
                control_socket=control_socket,
            ) as app:
                box = Box(app=app, world=world, room=room, emulator=emulator, settings=settings)
                if connected:
                    # Connected, and the control task has taken the news (the link says it
                    # first): a test may look at the state at once.
                    await until(
                        lambda: app.link.status().connected and app.state is not State.STARTING,
                        within=10,
                        what="connected",
                    )
                yield box
        finally:
            feeder.cancel()
