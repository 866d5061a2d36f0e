"""Announcements: the audio Home Assistant asks the box's speaker to play, fetched and decoded.

HA's media player commands carry a URL. The box's media player entity asks for WAV, 16-bit,
mono, 24 kHz (its `supported_formats`), which HA's own proxy converts any TTS or media to
(docs/home-assistant.md §7); a WAV of another rate or with more channels is taken too (its
first channel, at its own rate). The fetch is bounded in time and size, and a WAV streamed by a
converter that could not write its final length (a data size of 0 or 0xFFFFFFFF) is read to
its end.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final

import httpx

FETCH_TIMEOUT_S: Final = 15.0
MAX_BYTES: Final = 12 * 1024 * 1024
"""About four minutes of 24 kHz mono 16-bit audio: more is refused, not played in part."""
RATE_HZ: Final = 24_000
"""The rate the box asks HA for: the Live answers' own, so nothing is resampled twice."""


class AnnouncementError(Exception):
    """The audio could not be had or read; the message says why, for the log."""


async def fetch(
    url: str, *, timeout_s: float = FETCH_TIMEOUT_S, max_bytes: int = MAX_BYTES
) -> bytes:
    """The bytes at `url` (http or https), within `timeout_s` and `max_bytes`."""
    if not url.startswith(("http://", "https://")):
        raise AnnouncementError(f"not an http(s) URL: {url[:80]}")
    body = bytearray()
    try:
        async with (
            asyncio.timeout(timeout_s),
            httpx.AsyncClient(timeout=timeout_s) as client,
            client.stream("GET", url) as reply,
        ):
            if reply.status_code != 200:
                raise AnnouncementError(f"HTTP {reply.status_code} from {url[:80]}")
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise AnnouncementError(f"longer than {max_bytes} bytes")
    except TimeoutError:
        raise AnnouncementError(f"no whole answer within {timeout_s:.0f} s") from None
    except httpx.HTTPError as exc:
        raise AnnouncementError(f"{type(exc).__name__} fetching {url[:80]}") from None
    return bytes(body)


def decode_wav(data: bytes) -> tuple[bytes, int]:
    """(16-bit mono PCM, rate) of a PCM WAV file: its first channel."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AnnouncementError("not a WAV file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk == b"data":
            if fmt is None:
                raise AnnouncementError("a WAV data chunk before its format")
            tag, channels, rate, _, _, bits = fmt
            # 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which converters write for plain PCM too.
            if tag not in (1, 0xFFFE) or bits != 16 or channels < 1:
                raise AnnouncementError(f"not 16-bit PCM (format {tag}, {bits} bits)")
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            frame = 2 * channels
            pcm = data[body : body + (end - body) // frame * frame]
            if channels > 1:
                pcm = memoryview(pcm).cast("h")[::channels].tobytes()
            return pcm, rate
        pos = body + size + (size & 1)
    raise AnnouncementError("a WAV file without audio")
