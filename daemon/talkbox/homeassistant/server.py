"""The ESPHome native API server: Home Assistant's ESPHome integration connects here.

One `ApiServer` listens on each configured address; each connection runs the API's
conversation as an ESPHome device does (docs/home-assistant.md §3): hello, (password-less)
authentication, device info, the entity list, the state subscription, pings, disconnect, and
the commands of the box's entities, which go to the `Box` (the appliance's requests, as
`talkbox ctl`'s go). States are sent to every subscribed connection when they change
(`publish`), button presses as events (`fire`).

What a client can cost is bounded: `MAX_CONNECTIONS` at once, a handshake (Noise) or hello
within `HELLO_TIMEOUT_S`, frames of at most 64 KiB, and a connection silent for
`SILENT_TIMEOUT_S` (HA pings every 20 s) is closed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol, Self

from aioesphomeapi.api_pb2 import (  # type: ignore[attr-defined]
    AuthenticationRequest,
    AuthenticationResponse,
    ButtonCommandRequest,
    DeviceInfoRequest,
    DeviceInfoResponse,
    DisconnectRequest,
    DisconnectResponse,
    EventResponse,
    HelloRequest,
    HelloResponse,
    ListEntitiesDoneResponse,
    ListEntitiesRequest,
    MediaPlayerCommandRequest,
    NumberCommandRequest,
    PingRequest,
    PingResponse,
    SelectCommandRequest,
    SubscribeStatesRequest,
    SwitchCommandRequest,
)
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import DecodeError

from talkbox.errors import ConfigError, StateBusyError
from talkbox.homeassistant.announce import AnnouncementError, decode_wav, fetch
from talkbox.homeassistant.entities import Key, entity_list, states
from talkbox.homeassistant.snapshot import Snapshot
from talkbox.homeassistant.wire import Framing, Message, NoiseFraming, PlaintextFraming, WireError

log = logging.getLogger(__name__)

TYPE_OF: Final[dict[type, int]] = {cls: type_id for type_id, cls in MESSAGE_TYPE_TO_PROTO.items()}
"""Each protobuf class's message type id."""
API_VERSION: Final = (1, 10)
"""The API version the box speaks: what it implements of 1.10 is enough for HA (entities,
states, commands), as linux-voice-assistant also answers."""
ESPHOME_VERSION: Final = "2025.9.0"
"""The ESPHome release the box says it matches; HA's integration reads features from it."""
MAX_CONNECTIONS: Final = 4
HELLO_TIMEOUT_S: Final = 10.0
SILENT_TIMEOUT_S: Final = 90.0


class Box(Protocol):
    """What the server needs of the box: a look at it, and a person's requests."""

    def snapshot(self) -> Snapshot:
        """The box as HA should see it now."""
        ...

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute, as a person (the button's double press, `ctl mute`) does."""
        ...

    def set_volume(self, percent: int) -> None:
        """Set the speaker's volume."""
        ...

    def press(self) -> None:
        """Open a turn, as a press of the button does (refused while muted, offline, ...)."""
        ...

    def announce(self, pcm: bytes, rate: int) -> bool:
        """Play 16-bit mono audio without opening the microphone; False: the box is busy."""
        ...

    def set_wake_word(self, option: str, who: str, done: Callable[[], None]) -> None:
        """Switch to the wake word select's `option`; `done` once the switch is over."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceOptions:
    """Who the box says it is, and how it is reached."""

    name: str
    mac: str
    addresses: tuple[str, ...]
    port: int
    psk: bytes | None
    """The Noise key; None: plaintext."""
    transcripts: bool = False
    """Whether the last transcript is an entity (TALKBOX_LOG_TRANSCRIPTS)."""
    wake_words: tuple[str, ...] = ()
    """The wake word select's options (`talkbox.config.wake_word_choices`)."""
    version: str = "0.1.0"


class ApiServer:
    """The listening sockets and the connections: an async context manager."""

    def __init__(self, options: DeviceOptions, box: Box) -> None:
        """Serve `box` as the device `options` describes (listening once entered)."""
        self.options = options
        self.box = box
        self._servers: list[asyncio.Server] = []
        self.connections: set[_Connection] = set()
        self._sent: dict[Key, bytes] = {}
        """The serialized state of each entity as last published."""
        self.ports: list[int] = []
        """The port each address listens on (the configured one, or the kernel's for 0)."""
        self._fetches: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        """Listen on each address; an address in use is an OSError here, before READY=1."""
        loop = asyncio.get_running_loop()
        try:
            for address in self.options.addresses:
                server = await self._listen(loop, address)
                self._servers.append(server)
                self.ports.append(server.sockets[0].getsockname()[1])
        except BaseException:
            await self._close()
            raise
        log.info(
            "Home Assistant: ESPHome API on %s (%s)",
            ", ".join(f"{a}:{p}" for a, p in zip(self.options.addresses, self.ports, strict=True)),
            "Noise encrypted" if self.options.psk is not None else "plaintext, not encrypted",
        )
        return self

    async def _listen(self, loop: asyncio.AbstractEventLoop, address: str) -> asyncio.Server:
        port = self.options.port
        try:
            return await loop.create_server(
                lambda: _Connection(self), address, port, reuse_address=True
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StateBusyError(
                    f"the ESPHome API's port {address}:{port} is in use by another program "
                    "(another talkbox, an ESPHome emulation?): stop it, or set "
                    "TALKBOX_HOME_ASSISTANT_PORT"
                ) from None
            raise ConfigError(
                [
                    f"TALKBOX_HOME_ASSISTANT_ADDRESSES: cannot listen on {address}:{port} "
                    f"({exc.strerror}); name an address of this machine, or 0.0.0.0"
                ]
            ) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connections and the sockets."""
        await self._close()

    async def _close(self) -> None:
        for task in list(self._fetches):
            task.cancel()
        for connection in list(self.connections):
            connection.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def framing(self) -> Framing:
        """A new connection's framing."""
        if self.options.psk is None:
            return PlaintextFraming()
        return NoiseFraming(self.options.psk, name=self.options.name, mac=self.options.mac)

    def current_states(self) -> list[Any]:
        """Every entity's state message now."""
        return list(states(self.box.snapshot(), transcripts=self.options.transcripts).values())

    def publish(self) -> None:
        """Send each state that changed since the last publish to every subscribed client."""
        changed: list[Any] = []
        for key, message in states(
            self.box.snapshot(), transcripts=self.options.transcripts
        ).items():
            data = message.SerializeToString()
            if self._sent.get(key) != data:
                self._sent[key] = data
                changed.append(message)
        if changed:
            self._broadcast(changed)

    def announce(self, url: str) -> None:
        """Fetch the audio at `url` and have the box play it (in the background)."""
        task = asyncio.get_running_loop().create_task(self._announce(url), name="ha-announce")
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _announce(self, url: str) -> None:
        try:
            pcm, rate = decode_wav(await fetch(url))
        except AnnouncementError as err:
            log.warning("Home Assistant's announcement not played: %s", err)
            return
        seconds = len(pcm) / 2 / rate
        if self.box.announce(pcm, rate):
            log.info("Home Assistant's announcement: %.1f s of audio", seconds)
        else:
            log.warning("Home Assistant's announcement not played: the box is busy")
        self.publish()

    def fire(self, event_type: str) -> None:
        """A button event, to every subscribed client."""
        self._broadcast([EventResponse(key=Key.BUTTON, event_type=event_type)])

    def _broadcast(self, messages: list[Any]) -> None:
        for connection in self.connections:
            if connection.subscribed:
                connection.send(messages)

    def device_info(self) -> Any:
        """DeviceInfoResponse: the box as a device page in HA."""
        options = self.options
        return DeviceInfoResponse(
            uses_password=False,
            name=options.name,
            friendly_name=options.name,
            mac_address=options.mac,
            esphome_version=ESPHOME_VERSION,
            model="talkbox",
            manufacturer="talkbox",
            project_name="talkbox.talkbox",
            project_version=options.version,
            api_encryption_supported=options.psk is not None,
        )


class _Connection(asyncio.Protocol):
    """One client's connection: framing, then the API's requests."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.framing = server.framing()
        self.transport: asyncio.Transport | None = None
        self.subscribed = False
        self.peer = "?"
        self._hello = False
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if len(self.server.connections) >= MAX_CONNECTIONS:
            log.warning(
                "Home Assistant: refusing %s: %d connections already", self.peer, MAX_CONNECTIONS
            )
            transport.abort()
            return
        self.server.connections.add(self)
        self._arm(HELLO_TIMEOUT_S, "no hello")
        log.info("Home Assistant: %s connected", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None
        log.info("Home Assistant: %s disconnected", self.peer)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.framing.feed(data)
        except WireError as err:
            # HA's adoption probe is expected; anything else is worth a warning.
            level = logging.INFO if err.expected else logging.WARNING
            log.log(level, "Home Assistant: closing %s: %s", self.peer, err)
            self._flush()
            if self.transport is not None:
                if err.reply:
                    self.transport.write(err.reply)
                self.transport.close()
            return
        self._flush()
        if self._hello:
            self._arm(SILENT_TIMEOUT_S, "silent")
        for type_id, payload in messages:
            self._receive(type_id, payload)

    # ------------------------------------------------------------------ sending

    def send(self, messages: list[Any]) -> None:
        """Send protobuf messages (dropped before the handshake is done or after close)."""
        if self.transport is None or self.transport.is_closing() or not self.framing.ready:
            return
        wire: list[Message] = [(TYPE_OF[type(m)], m.SerializeToString()) for m in messages]
        self.transport.write(self.framing.encode(wire))

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        out = self.framing.outgoing
        if out and self.transport is not None:
            self.transport.write(bytes(out))
        out.clear()

    def _arm(self, delay: float, why: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire, why)

    def _expire(self, why: str) -> None:
        log.warning("Home Assistant: closing %s: %s", self.peer, why)
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ the API

    def _receive(self, type_id: int, payload: bytes) -> None:
        kind = MESSAGE_TYPE_TO_PROTO.get(type_id)
        if kind is None:
            log.debug("Home Assistant: %s sent unknown message type %d", self.peer, type_id)
            return
        try:
            message = kind.FromString(payload)
        except DecodeError:
            log.warning("Home Assistant: closing %s: a malformed %s", self.peer, kind.__name__)
            self.close()
            return
        if not self._hello and not isinstance(message, HelloRequest):
            log.warning("Home Assistant: closing %s: %s before hello", self.peer, kind.__name__)
            self.close()
            return
        handler = self._HANDLERS.get(type(message))
        if handler is None:
            # HA also subscribes to logs, services and HA states; the box offers none of them.
            log.debug("Home Assistant: %s: %s not served", self.peer, kind.__name__)
            return
        handler(self, message)

    def _on_hello(self, message: Any) -> None:
        self._hello = True
        self._arm(SILENT_TIMEOUT_S, "silent")
        log.info(
            "Home Assistant: %s is %s (API %d.%d)",
            self.peer,
            message.client_info[:64] or "a client",
            message.api_version_major,
            message.api_version_minor,
        )
        major, minor = API_VERSION
        self.send(
            [
                HelloResponse(
                    api_version_major=major,
                    api_version_minor=minor,
                    server_info=f"talkbox {self.server.options.version}",
                    name=self.server.options.name,
                )
            ]
        )

    def _on_authentication(self, _: Any) -> None:
        # No password: an empty answer says it was accepted.
        self.send([AuthenticationResponse()])

    def _on_device_info(self, _: Any) -> None:
        self.send([self.server.device_info()])

    def _on_list_entities(self, _: Any) -> None:
        options = self.server.options
        listed = entity_list(transcripts=options.transcripts, wake_words=options.wake_words)
        self.send([*listed, ListEntitiesDoneResponse()])

    def _on_subscribe_states(self, _: Any) -> None:
        self.subscribed = True
        self.send(self.server.current_states())

    def _on_ping(self, _: Any) -> None:
        self.send([PingResponse()])

    def _on_disconnect(self, _: Any) -> None:
        self.send([DisconnectResponse()])
        self.close()

    def _on_switch(self, message: Any) -> None:
        if message.key == Key.MUTE:
            log.info(
                "Home Assistant: %s asks to %s", self.peer, "mute" if message.state else "unmute"
            )
            # The mute is the conversation's: its new state is published once the control
            # task took it (the bridge's `changed`), not guessed here.
            self.server.box.set_muted(bool(message.state))

    def _on_number(self, message: Any) -> None:
        if message.key == Key.VOLUME:
            percent = max(0, min(100, round(message.state)))
            log.info("Home Assistant: %s sets the volume to %d %%", self.peer, percent)
            self.server.box.set_volume(percent)
            self.server.publish()

    def _on_button(self, message: Any) -> None:
        if message.key == Key.TALK:
            log.info("Home Assistant: %s presses talk", self.peer)
            self.server.box.press()

    def _on_select(self, message: Any) -> None:
        if message.key == Key.WAKE_WORD:
            # Logged once, by the switch, with its outcome and who asked.
            # The select follows the box: its state is published once the switch is over
            # (or failed, when HA's own view must be put back), not guessed here.
            who = f"Home Assistant ({self.peer})"
            self.server.box.set_wake_word(message.state, who, self.server.publish)

    def _on_media_player(self, message: Any) -> None:
        if message.key != Key.SPEAKER:
            return
        if message.has_volume:
            self._on_number(NumberCommandRequest(key=Key.VOLUME, state=message.volume * 100))
        if message.has_media_url:
            log.info(
                "Home Assistant: %s asks the speaker to play %s",
                self.peer,
                "an announcement" if message.announcement else "media",
            )
            self.server.announce(message.media_url)

    _HANDLERS: Final[dict[type, Callable[[_Connection, Any], None]]] = {
        HelloRequest: _on_hello,
        AuthenticationRequest: _on_authentication,
        DeviceInfoRequest: _on_device_info,
        ListEntitiesRequest: _on_list_entities,
        SubscribeStatesRequest: _on_subscribe_states,
        PingRequest: _on_ping,
        DisconnectRequest: _on_disconnect,
        SwitchCommandRequest: _on_switch,
        NumberCommandRequest: _on_number,
        ButtonCommandRequest: _on_button,
        MediaPlayerCommandRequest: _on_media_player,
        SelectCommandRequest: _on_select,
    }
