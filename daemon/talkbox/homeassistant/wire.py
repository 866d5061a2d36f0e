"""The ESPHome native API's framing, server side, without I/O: plaintext and Noise.

Each connection gets one `Framing`: `feed(bytes)` returns the messages (type id, protobuf
bytes) that arrived whole and puts what must be sent back (handshake answers) in `outgoing`;
`encode(messages)` makes the bytes that send messages. A `WireError` ends the connection,
after its `reply` (if any) is sent. The frame layouts are in docs/home-assistant.md §2:

- plaintext: 0x00, varint length, varint type, payload;
- Noise: 0x01, 16-bit length, frame. The first frame is the client's hello (empty), the
  second its handshake message (0x00 + Noise message 1 of `Noise_NNpsk0_25519_ChaChaPoly_SHA256`);
  the server answers the hello with the protocol it chose (0x01), its name and MAC, and the
  handshake with 0x00 + Noise message 2; then every frame is encrypted
  (16-bit type, 16-bit length, payload).

aioesphomeapi implements only the initiator (the client) of this handshake, so the responder
is built here on `noiseprotocol`, the library aioesphomeapi's initiator uses, with the same
protocol name and prologue.
"""

from __future__ import annotations

from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from noise.connection import NoiseConnection

Message = tuple[int, bytes]
"""One API message: its type id (aioesphomeapi's MESSAGE_TYPE_TO_PROTO) and protobuf bytes."""

MAX_FRAME: Final = 65535
"""The largest frame either transport carries (Noise's 16-bit length; ESPHome caps plaintext
at the same)."""
NOISE_PROTOCOL: Final = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PROLOGUE: Final = b"NoiseAPIInit"
"""The prologue's start; the client's hello frame (its 16-bit length and bytes) follows."""
ZERO_PSK: Final = b"0" * 32
"""The key HA's config flow probes an encrypted device with: its ZERO_NOISE_PSK, base64 of
32 ASCII zeros (not zero bytes; HA core's esphome/config_flow.py, docs/home-assistant.md §8)."""
CHOSEN_PROTOCOL: Final = 0x01
"""The server hello's first byte: the one protocol ESPHome defines (NNpsk0, above)."""


class WireError(Exception):
    """The connection cannot go on; `reply` is sent before it closes (b"": nothing).

    `expected`: the end is part of an ordinary exchange (HA's adoption probe), not a fault.
    """

    def __init__(self, message: str, reply: bytes = b"", *, expected: bool = False) -> None:
        super().__init__(message)
        self.reply = reply
        self.expected = expected


class Framing(Protocol):
    """One connection's framing, either transport."""

    outgoing: bytearray
    """Bytes the framing itself must send (handshake answers); the server takes them."""

    def feed(self, data: bytes) -> list[Message]:
        """Take received bytes; the messages complete in them. WireError ends the connection."""
        ...

    def encode(self, messages: list[Message]) -> bytes:
        """The bytes that send `messages`."""
        ...

    @property
    def ready(self) -> bool:
        """Whether messages may be sent (the handshake, if any, is done)."""
        ...


def varint(value: int) -> bytes:
    """Protobuf's unsigned varint."""
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(buffer: bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), or None if the buffer ends first; WireError past 4 bytes."""
    result = shift = 0
    for index in range(pos, min(len(buffer), pos + 4)):
        byte = buffer[index]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, index + 1
        shift += 7
    if len(buffer) >= pos + 4:
        raise WireError("a varint longer than 4 bytes")
    return None


def _noise_frame(payload: bytes) -> bytes:
    return bytes((0x01, len(payload) >> 8, len(payload) & 0xFF)) + payload


REQUIRES_ENCRYPTION: Final = _noise_frame(b"\x01Bad indicator byte")
"""What an encrypted box answers a plaintext client: a Noise frame whose 0x01 tells
aioesphomeapi 'this device requires encryption' (RequiresEncryptionAPIError)."""
IS_PLAINTEXT: Final = b"\x00\x12Bad indicator byte"
"""What a plaintext box answers a Noise client: a first byte 0x00, which aioesphomeapi reads as
'the device uses the plaintext protocol' (EncryptionPlaintextAPIError)."""


class PlaintextFraming:
    """The plaintext transport: 0x00, varint length, varint type, payload."""

    def __init__(self) -> None:
        self.outgoing = bytearray()
        self._buffer = bytearray()

    @property
    def ready(self) -> bool:
        """Plaintext has no handshake."""
        return True

    def feed(self, data: bytes) -> list[Message]:
        """Split the received bytes into messages."""
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        while buffer:
            if buffer[0] != 0x00:
                raise WireError("a client speaking Noise to a plaintext box", IS_PLAINTEXT)
            length = _read_varint(buffer, 1)
            if length is None:
                break
            size, pos = length
            if size > MAX_FRAME:
                raise WireError(f"a frame of {size} bytes")
            kind = _read_varint(buffer, pos)
            if kind is None:
                break
            type_id, pos = kind
            if len(buffer) < pos + size:
                break
            messages.append((type_id, bytes(buffer[pos : pos + size])))
            del buffer[: pos + size]
        return messages

    def encode(self, messages: list[Message]) -> bytes:
        """The plaintext frames of `messages`."""
        return b"".join(
            b"\x00" + varint(len(payload)) + varint(type_id) + payload
            for type_id, payload in messages
        )


class NoiseFraming:
    """The Noise transport, responder side: hello, handshake, then encrypted frames."""

    def __init__(self, psk: bytes, *, name: str, mac: str) -> None:
        """Answer with pre-shared key `psk` (32 bytes) as device `name` with MAC `mac`."""
        self.outgoing = bytearray()
        self._psk = psk
        self._hello = CHOSEN_PROTOCOL.to_bytes(1, "big") + name.encode() + b"\0" + mac.encode()
        self._hello += b"\0"
        self._buffer = bytearray()
        self._noise: NoiseConnection | None = None
        self._prologue = b""
        self._state = "hello"

    @property
    def ready(self) -> bool:
        """Whether the handshake is done."""
        return self._state == "ready"

    def feed(self, data: bytes) -> list[Message]:
        """Take the hello and the handshake, then decrypt each frame into its message."""
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        while len(buffer) >= 3:
            if buffer[0] != 0x01:
                raise WireError("a plaintext client at an encrypted box", REQUIRES_ENCRYPTION)
            size = (buffer[1] << 8) | buffer[2]
            if len(buffer) < 3 + size:
                break
            frame = bytes(buffer[3 : 3 + size])
            del buffer[: 3 + size]
            if self._state == "hello":
                self._take_hello(frame)
            elif self._state == "handshake":
                self._take_handshake(frame)
            else:
                messages.append(self._decrypt(frame))
        return messages

    def _take_hello(self, frame: bytes) -> None:
        noise = NoiseConnection.from_name(NOISE_PROTOCOL)
        noise.set_as_responder()
        noise.set_psks(self._psk)
        # Both sides mix the client's hello into the handshake: a changed hello fails it.
        self._prologue = PROLOGUE + len(frame).to_bytes(2, "big") + frame
        noise.set_prologue(self._prologue)
        noise.start_handshake()
        self._noise = noise
        self.outgoing += _noise_frame(self._hello)
        self._state = "handshake"

    def _take_handshake(self, frame: bytes) -> None:
        noise = self._noise
        assert noise is not None
        if not frame or frame[0] != 0x00:
            raise WireError(
                "a handshake frame without its 0x00", _noise_frame(b"\x01Bad handshake")
            )
        try:
            noise.read_message(frame[1:])
        except InvalidTag:
            # The words aioesphomeapi turns into 'invalid encryption key' for HA's user.
            refusal = _noise_frame(b"\x01Handshake MAC failure")
            if self._zero_key_probe(frame[1:]):
                raise WireError(
                    "Home Assistant's adoption probe (its fixed zero key, to learn the box's "
                    "name and MAC before it asks for the key)",
                    refusal,
                    expected=True,
                ) from None
            raise WireError("the client's key is not this box's", refusal) from None
        except Exception as exc:  # noqa: BLE001 (noiseprotocol raises its own kinds for junk)
            raise WireError(
                f"a broken handshake ({exc})", _noise_frame(b"\x01Handshake error")
            ) from None
        self.outgoing += _noise_frame(b"\x00" + bytes(noise.write_message()))
        self._state = "ready"

    def _zero_key_probe(self, message: bytes) -> bool:
        """Whether Noise message 1 was made with HA's probe key (ZERO_PSK).

        HA's ESPHome config flow sends it to a box that wants a key and has no name yet, to
        read the name and MAC from the hello (docs/home-assistant.md §8): ordinary adoption.
        """
        noise = NoiseConnection.from_name(NOISE_PROTOCOL)
        noise.set_as_responder()
        noise.set_psks(ZERO_PSK)
        noise.set_prologue(self._prologue)
        noise.start_handshake()
        try:
            noise.read_message(message)
        except Exception:  # noqa: BLE001 (any failure: not the probe)
            return False
        return True

    def _decrypt(self, frame: bytes) -> Message:
        noise = self._noise
        assert noise is not None
        try:
            plain = bytes(noise.decrypt(frame))
        except InvalidTag:
            raise WireError("a frame that does not decrypt") from None
        if len(plain) < 4:
            raise WireError("a decrypted frame shorter than its header")
        # The header's own length field is not trusted: the frame's length is.
        return (plain[0] << 8) | plain[1], plain[4:]

    def encode(self, messages: list[Message]) -> bytes:
        """Encrypt each message into its frame."""
        noise = self._noise
        assert noise is not None
        assert self.ready
        out = bytearray()
        for type_id, payload in messages:
            header = bytes((type_id >> 8, type_id & 0xFF, len(payload) >> 8, len(payload) & 0xFF))
            out += _noise_frame(bytes(noise.encrypt(header + payload)))
        return bytes(out)
