"""The ESPHome API's framing, server side, against aioesphomeapi's own encoder and initiator."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from aioesphomeapi._frame_helper.packets import make_plain_text_packets
from aioesphomeapi.noise import NoiseHandshake

from talkbox.homeassistant.announce import AnnouncementError, decode_wav
from talkbox.homeassistant.wire import (
    IS_PLAINTEXT,
    REQUIRES_ENCRYPTION,
    NoiseFraming,
    PlaintextFraming,
    WireError,
)

PSK = bytes(range(32))
PSK_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
PROLOGUE = b"NoiseAPIInit\x00\x00"


def test_plaintext_messages_arrive_whole_however_the_bytes_are_split() -> None:
    wire = b"".join(make_plain_text_packets([(1, b"hello"), (7, b""), (300, b"x" * 200)]))
    framing = PlaintextFraming()
    got = []
    for byte in wire:
        got += framing.feed(bytes([byte]))
    assert got == [(1, b"hello"), (7, b""), (300, b"x" * 200)]
    assert framing.encode(got) == wire


def test_plaintext_refuses_noise_an_oversized_frame_and_a_runaway_varint() -> None:
    with pytest.raises(WireError) as noise:
        PlaintextFraming().feed(b"\x01\x00\x00")
    assert noise.value.reply == IS_PLAINTEXT
    with pytest.raises(WireError, match="a frame of 70000 bytes"):
        PlaintextFraming().feed(b"\x00\xf0\xa2\x04\x01")
    with pytest.raises(WireError, match="longer than 4 bytes"):
        PlaintextFraming().feed(b"\x00\xff\xff\xff\xff\x01")


def frame(payload: bytes) -> bytes:
    return bytes((1, len(payload) >> 8, len(payload) & 0xFF)) + payload


def frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        size = (data[1] << 8) | data[2]
        out.append(data[3 : 3 + size])
        data = data[3 + size :]
    return out


def test_the_noise_responder_completes_aioesphomeapis_handshake_and_both_ways_decrypt() -> None:
    client = NoiseHandshake(PSK_B64, PROLOGUE)
    server = NoiseFraming(PSK, name="talkbox", mac="AA:BB:CC:DD:EE:FF")
    assert server.feed(frame(b"") + frame(b"\x00" + client.write_message())) == []
    hello, handshake = frames(bytes(server.outgoing))
    assert hello == b"\x01talkbox\x00AA:BB:CC:DD:EE:FF\x00"
    assert handshake[0] == 0
    client.read_message(handshake[1:])
    assert server.ready
    encrypt, decrypt = client.get_ciphers()
    sent = encrypt.encrypt(struct.pack(">HH", 7, 3) + b"abc")
    assert server.feed(frame(sent)) == [(7, b"abc")]
    (answer,) = frames(server.encode([(8, b"pong")]))
    assert decrypt.decrypt(answer) == struct.pack(">HH", 8, 4) + b"pong"


def test_a_wrong_key_gets_the_words_aioesphomeapi_turns_into_invalid_key() -> None:
    client = NoiseHandshake("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", PROLOGUE)
    server = NoiseFraming(PSK, name="talkbox", mac="AA:BB:CC:DD:EE:FF")
    with pytest.raises(WireError) as wrong:
        server.feed(frame(b"") + frame(b"\x00" + client.write_message()))
    assert frames(wrong.value.reply) == [b"\x01Handshake MAC failure"]
    assert not server.ready


def test_ha_zero_key_probe_is_refused_as_a_wrong_key_but_known_as_the_adoption_probe() -> None:
    # HA's ESPHome config flow sends its ZERO_NOISE_PSK (base64 of 32 ASCII zeros) to learn the
    # name and MAC (seen in scripts/check-home-assistant against HA 2026.2.3): refused in the
    # same words, but expected. Zero bytes are not that key: a wrong key like any other.
    probe = NoiseHandshake("MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=", PROLOGUE)
    server = NoiseFraming(PSK, name="talkbox", mac="AA:BB:CC:DD:EE:FF")
    with pytest.raises(WireError) as refused:
        server.feed(frame(b"") + frame(b"\x00" + probe.write_message()))
    assert frames(refused.value.reply) == [b"\x01Handshake MAC failure"]
    assert refused.value.expected
    assert "adoption probe" in str(refused.value)
    assert frames(bytes(server.outgoing)) == [b"\x01talkbox\x00AA:BB:CC:DD:EE:FF\x00"]
    for key in ("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "A" * 43 + "="):
        wrong = NoiseHandshake(key, PROLOGUE)
        with pytest.raises(WireError) as refused:
            NoiseFraming(PSK, name="talkbox", mac="x").feed(
                frame(b"") + frame(b"\x00" + wrong.write_message())
            )
        assert not refused.value.expected


def test_a_plaintext_client_at_an_encrypted_box_is_told_encryption_is_required() -> None:
    with pytest.raises(WireError) as plain:
        NoiseFraming(PSK, name="talkbox", mac="x").feed(b"\x00\x00\x01")
    assert plain.value.reply == REQUIRES_ENCRYPTION


def wav(pcm: bytes, rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def test_wav_decoding_takes_the_first_channel_and_a_stream_of_unknown_length() -> None:
    left_right = struct.pack("<8h", 1, -1, 2, -2, 3, -3, 4, -4)
    assert decode_wav(wav(left_right, 24_000, 2)) == (struct.pack("<4h", 1, 2, 3, 4), 24_000)
    mono = struct.pack("<3h", 5, 6, 7)
    streamed = bytearray(wav(mono, 16_000, 1))
    data_at = streamed.index(b"data")
    streamed[data_at + 4 : data_at + 8] = b"\xff\xff\xff\xff"  # a converter writing to a pipe
    assert decode_wav(bytes(streamed) + struct.pack("<h", 8)) == (
        mono + struct.pack("<h", 8),
        16_000,
    )


def test_what_is_not_16_bit_pcm_wav_is_refused_in_words() -> None:
    with pytest.raises(AnnouncementError, match="not a WAV file"):
        decode_wav(b"ID3\x04mp3 data")
    eight_bit = bytearray(wav(b"\x00\x01", 8_000, 1))
    fmt = eight_bit.index(b"fmt ") + 8
    eight_bit[fmt + 14 : fmt + 16] = struct.pack("<H", 8)
    with pytest.raises(AnnouncementError, match="not 16-bit PCM"):
        decode_wav(bytes(eight_bit))
