"""Home Assistant's own client, aioesphomeapi's APIClient, drives the running appliance.

The box serves the ESPHome native API on loopback, encrypted (Noise) or in plaintext; the
client lists its entities, follows its states through a turn, mutes and unmutes it (the LED
follows; a press while muted opens nothing), sets its volume and opens a turn with the talk
button, as HA's ESPHome integration would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import socket
import threading
import wave
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aioesphomeapi import (
    APIClient,
    ButtonInfo,
    EntityState,
    Event,
    EventInfo,
    MediaPlayerEntityState,
    MediaPlayerInfo,
    MediaPlayerState,
    NumberInfo,
    NumberState,
    SelectState,
    SensorState,
    SwitchInfo,
    SwitchState,
    TextSensorInfo,
    TextSensorState,
)
from aioesphomeapi.core import InvalidEncryptionKeyAPIError, RequiresEncryptionAPIError
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from talkbox.appliance.control import Request
from talkbox.appliance.requests import answer
from talkbox.conversation import State

from .conftest import Box, MakeEmulator, audio_received, recording, running_box, until

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
QUESTION = "question-weather.wav"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Home:
    """What HA's client saw: the entities by object id, and every state in order."""

    def __init__(self, client: APIClient, entities: list[Any]) -> None:
        self.client = client
        self.entities = {e.object_id: e for e in entities}
        self.states: list[EntityState] = []

    def key(self, object_id: str) -> int:
        key: int = self.entities[object_id].key
        return key

    def seen(self, object_id: str) -> list[Any]:
        key = self.key(object_id)
        return [
            getattr(s, "state", None)
            for s in self.states
            if s.key == key and not isinstance(s, Event)
        ]

    def events(self) -> list[str]:
        return [s.event_type for s in self.states if isinstance(s, Event)]

    def now(self, object_id: str) -> Any:
        seen = self.seen(object_id)
        return seen[-1] if seen else None


@contextlib.asynccontextmanager
async def home_assistant(port: int, key: str | None) -> AsyncIterator[Home]:
    client = APIClient("127.0.0.1", port, None, noise_psk=key, client_info="talkbox test")
    await asyncio.wait_for(client.connect(login=True), 10)
    try:
        info, entities, _ = await asyncio.wait_for(client.device_info_and_list_entities(), 10)
        assert info.name == "talkbox"
        home = Home(client, entities)
        client.subscribe_states(home.states.append)
        yield home
    finally:
        await client.disconnect()


@contextlib.asynccontextmanager
async def box_with_home_assistant(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    *,
    key: str | None,
    mdns: bool = False,
    **overrides: Any,
) -> AsyncIterator[tuple[Box, int]]:
    emulator = await make_emulator(realtime=True)
    port = free_port()
    security: dict[str, Any] = (
        {"home_assistant_encryption_key": key} if key else {"home_assistant_plaintext": True}
    )
    async with running_box(
        emulator,
        tmp_path,
        home_assistant="esphome",
        home_assistant_addresses="127.0.0.1",
        home_assistant_port=port,
        home_assistant_mdns=mdns,
        **security,
        **overrides,
    ) as box:
        yield box, port


@pytest.mark.parametrize("key", [KEY, None], ids=["noise", "plaintext"])
async def test_home_assistant_lists_follows_mutes_sets_volume_and_presses(
    make_emulator: MakeEmulator, tmp_path: Path, key: str | None
) -> None:
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=key) as (box, port),
        home_assistant(port, key) as home,
    ):
        kinds = {oid: type(e) for oid, e in home.entities.items()}
        assert kinds["state"] is TextSensorInfo
        assert kinds["mute"] is SwitchInfo
        assert kinds["volume"] is NumberInfo
        assert kinds["talk"] is ButtonInfo
        assert kinds["button"] is EventInfo
        assert "last_transcript" not in kinds  # TALKBOX_LOG_TRANSCRIPTS is off
        await until(lambda: home.now("state") == "idle", within=5, what="idle in HA")
        assert home.now("mute") is False

        # Mute from HA: the LED shows muted, the status says so, the switch follows.
        home.client.switch_command(home.key("mute"), True)
        await box.state_is(State.MUTED, within=5)
        assert box.app.status()["muted"] is True
        await until(lambda: home.now("mute") is True, within=5, what="the switch on")
        await until(lambda: home.now("state") == "muted", within=5, what="muted in HA")

        # A press from HA while muted opens nothing: no turn, nothing sent.
        home.client.button_command(home.key("talk"))
        box.room.say(recording(QUESTION))
        await until(lambda: not box.room.speaking, within=10, what="spoken")
        assert box.app.state is State.MUTED
        assert audio_received(box.emulator) == b""

        # Unmute from HA: HA counts as a person.
        home.client.switch_command(home.key("mute"), False)
        await box.state_is(State.IDLE, within=5)
        await until(lambda: home.now("mute") is False, within=5, what="the switch off")

        # Volume from HA reaches the speaker; the number follows.
        home.client.number_command(home.key("volume"), 37)
        await until(lambda: box.world.speaker.volume == 37, within=5, what="volume 37")
        await until(lambda: home.now("volume") == 37, within=5, what="the number at 37")

        # The talk button opens a turn; HA sees it go through listening, thinking, speaking.
        home.client.button_command(home.key("talk"))
        await box.state_is(State.LISTENING, within=5)
        box.room.say(recording(QUESTION))
        await box.state_is(State.SPEAKING, within=15)
        await box.state_is(State.IDLE, within=20)
        await until(lambda: home.now("state") == "idle", within=5, what="idle again")
        seen = home.seen("state")
        last_mute = len(seen) - 1 - seen[::-1].index("muted")
        after = seen[last_mute:]
        for state in ("listening", "thinking", "speaking", "idle"):
            assert state in after, seen
        assert after.index("listening") < after.index("thinking") < after.index("speaking")
        assert audio_received(box.emulator) != b""
        await until(lambda: home.now("last_turn") == "answered", within=5, what="answered")
        latency = home.now("last_answer_latency")
        assert latency is not None
        assert latency > 0
        # HA's own talk button is not a press of the box's button: no event for it.
        assert home.events() == []


async def test_a_double_press_on_the_box_fires_the_event_and_moves_the_switch(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=KEY) as (box, port),
        home_assistant(port, KEY) as home,
    ):
        await until(lambda: home.now("mute") is False, within=5, what="the first state")
        box.world.button.double_press()
        await until(lambda: home.now("mute") is True, within=5, what="muted by the button")
        assert "double_press" in home.events()
        assert isinstance([s for s in home.states if s.key == home.key("mute")][-1], SwitchState)
        assert all(
            isinstance(
                s,
                TextSensorState
                | SwitchState
                | NumberState
                | SelectState
                | Event
                | SensorState
                | MediaPlayerEntityState,
            )
            for s in home.states
        )


async def test_a_wrong_key_and_a_plaintext_client_are_refused_in_words_ha_shows(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with box_with_home_assistant(make_emulator, tmp_path, key=KEY) as (box, port):
        wrong = APIClient("127.0.0.1", port, None, noise_psk=OTHER_KEY)
        with pytest.raises(InvalidEncryptionKeyAPIError):
            await asyncio.wait_for(wrong.connect(login=True), 10)
        plain = APIClient("127.0.0.1", port, None)
        with pytest.raises(RequiresEncryptionAPIError):
            await asyncio.wait_for(plain.connect(login=True), 10)
        # The box went on serving.
        async with home_assistant(port, KEY) as home:
            await until(lambda: home.now("state") == "idle", within=5, what="idle")
        assert box.app.state is State.IDLE


async def test_transcripts_are_an_entity_only_when_the_person_allows_them(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=KEY, log_transcripts=True) as (
            _,
            port,
        ),
        home_assistant(port, KEY) as home,
    ):
        assert isinstance(home.entities["last_transcript"], TextSensorInfo)


async def test_zeroconf_finds_the_box_on_loopback_and_ha_connects_where_it_says(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    service = "_esphomelib._tcp.local."
    async with box_with_home_assistant(make_emulator, tmp_path, key=KEY, mdns=True) as (_, port):
        browser_zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_change(
            zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
        ) -> None:
            if state_change is ServiceStateChange.Added and not found.done():
                found.set_result(name)

        browser = AsyncServiceBrowser(browser_zc.zeroconf, service, handlers=[on_change])
        try:
            name = await asyncio.wait_for(found, 15)
            assert name == f"talkbox.{service}"
            info = AsyncServiceInfo(service, name)
            assert await info.async_request(browser_zc.zeroconf, 5000)
            assert info.port == port
            assert info.parsed_addresses() == ["127.0.0.1"]
            properties = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
            assert properties["api_encryption"] == "Noise_NNpsk0_25519_ChaChaPoly_SHA256"
            assert len(properties["mac"]) == 12
            async with home_assistant(port, KEY) as home:
                await until(lambda: home.now("state") == "idle", within=5, what="idle")
        finally:
            await browser.async_cancel()
            await browser_zc.async_close()


class AudioServer:
    """HA's media proxy as the box sees it: WAV files over HTTP on loopback."""

    def __init__(self, files: dict[str, bytes]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "audio/x-wav")
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wav_bytes(pcm: bytes, rate: int, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


async def test_an_announcement_plays_on_the_speaker_without_opening_the_microphone(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    spoken = recording(QUESTION)
    stereo = b"".join(spoken[i : i + 2] * 2 for i in range(0, 32_000, 2))
    files = {"/tts.wav": wav_bytes(spoken, 16_000), "/stereo.wav": wav_bytes(stereo, 16_000, 2)}
    audio = AudioServer(files)
    try:
        async with (
            box_with_home_assistant(make_emulator, tmp_path, key=KEY) as (box, port),
            home_assistant(port, KEY) as home,
        ):
            speaker = home.entities["speaker"]
            assert isinstance(speaker, MediaPlayerInfo)
            formats = {(f.format, f.sample_rate, f.num_channels) for f in speaker.supported_formats}
            assert formats == {("wav", 24_000, 1)}
            home.client.media_player_command(
                speaker.key, media_url=f"{audio.url}/tts.wav", announcement=True
            )
            await box.state_is(State.SPEAKING, within=10)
            await until(
                lambda: home.now("speaker") is MediaPlayerState.PLAYING,
                within=5,
                what="playing in HA",
            )
            await box.state_is(State.IDLE, within=15)
            assert box.world.speaker.audio == spoken
            await until(
                lambda: home.now("speaker") is MediaPlayerState.IDLE, within=5, what="idle in HA"
            )
            # The first channel of a stereo file; a press cuts it as it cuts an answer.
            home.client.media_player_command(
                speaker.key, media_url=f"{audio.url}/stereo.wav", announcement=True
            )
            await box.state_is(State.SPEAKING, within=10)
            assert box.world.speaker.chunks[-1] == spoken[:32_000]
            box.world.button.press()
            await box.state_is(State.LISTENING, within=5)
            assert box.world.speaker.flushes >= 1
            # A box that is not idle plays nothing; a missing file plays nothing either.
            before = len(box.world.speaker.chunks)
            home.client.media_player_command(speaker.key, media_url=f"{audio.url}/tts.wav")
            home.client.media_player_command(speaker.key, media_url=f"{audio.url}/none.wav")
            await asyncio.sleep(1.0)
            assert len(box.world.speaker.chunks) == before
        states = [s for _, s in box.world.indicator.history]
        # Nothing went up before the press opened a turn: the announcements never listened.
        assert states.index(State.LISTENING) > states.index(State.SPEAKING)
    finally:
        audio.close()


async def test_a_timer_the_model_sets_shows_as_the_next_timer_in_home_assistant(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=KEY) as (box, port),
        home_assistant(port, KEY) as home,
    ):
        await until(lambda: box.app.state is State.IDLE, within=10, what="idle")
        key = home.key("next_timer")
        await until(
            lambda: any(s.key == key for s in home.states), within=5, what="its first state"
        )
        (first,) = [s for s in home.states if s.key == key]
        assert isinstance(first, TextSensorState)
        assert first.missing_state  # no timer: HA shows it as unknown
        answer(box.app, Request(command="say", text="set a pasta timer for 9 minutes"))
        await until(
            lambda: str(home.now("next_timer")).startswith("pasta timer at "),
            within=15,
            what="the timer in HA",
        )


async def test_in_hold_mode_talk_ends_when_the_person_stops_speaking(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    async with (
        box_with_home_assistant(make_emulator, tmp_path, key=KEY, button_mode="hold") as (
            box,
            port,
        ),
        home_assistant(port, KEY) as home,
    ):
        await until(lambda: box.app.state is State.IDLE, within=10, what="idle")
        before = recording("question-story-pause.wav")[19_200:64_000]  # 0.6-2.0 s: speech
        box.room.say(before)  # heard before the request: never sent
        await until(lambda: not box.room.speaking, within=5, what="the first words")
        home.client.button_command(home.key("talk"))
        await box.state_is(State.LISTENING, within=5)
        box.room.say(recording(QUESTION))
        # No release comes: the local VAD ends the turn, as after the wake word.
        await box.state_is(State.THINKING, within=15)
        await box.state_is(State.IDLE, within=20)
        sent = audio_received(box.emulator)
        assert sent
        # A press in hold mode would have sent its 500 ms pre-roll at once, with these last
        # 0.1 s of the earlier words in it (the pre-roll's clearing itself: the unit tests).
        assert before[-3_200:] not in sent
