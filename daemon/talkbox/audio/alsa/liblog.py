"""alsa-lib's own messages: to this logger at debug level, not to the daemon's stderr.

alsa-lib prints a line to stderr for each failed name lookup ("ALSA lib confmisc.c:165:
(snd_config_get_card) Cannot get card index for Loopback"), and systemd files stderr in the
journal. While a card is away the reopen loop retries every few seconds, so the journal
would fill with lines that say, without context, what the daemon's own ERROR line already
said once (the device, and `talkbox devices`). alsa-lib takes one process-wide handler
(`snd_lib_error_set_handler`); pyalsaaudio sets none, so installing it here changes nothing
else. The handler is variadic in C; it reads only the fixed arguments, which every ABI
Debian ships passes as a plain call does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)

_Handler = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def _to_debug(
    file: bytes | None, line: int, function: bytes | None, err: int, fmt: bytes | None
) -> None:
    # The arguments of `fmt` are variadic and not read: the format shows what was said.
    log.debug(
        "alsa-lib %s:%d (%s) %s%s",
        _text(file),
        line,
        _text(function),
        _text(fmt),
        f" (errno {err})" if err else "",
    )


# Kept referenced for the life of the process: alsa-lib calls it from C.
_TO_DEBUG = _Handler(_to_debug)
_lock = threading.Lock()
_routed = False


def route_alsa_lib_messages() -> bool:
    """Send alsa-lib's stderr lines to debug logging (once per process); False if not found."""
    global _routed
    with _lock:
        if _routed:
            return True
        name = ctypes.util.find_library("asound") or "libasound.so.2"
        try:
            library = ctypes.CDLL(name)
        except OSError:
            return False
        library.snd_lib_error_set_handler.argtypes = [_Handler]
        library.snd_lib_error_set_handler.restype = ctypes.c_int
        library.snd_lib_error_set_handler(_TO_DEBUG)
        _routed = True
        return True
