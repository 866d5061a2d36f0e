"""Where the Gemini API key comes from and what a key looks like (the Live area's credentials).

The variables, a key file, or the systemd credential `gemini_api_key`: $CREDENTIALS_DIRECTORY
under the unit, else the /etc/credstore file the unit would load. A key is checked for its
shape only (the service is the judge of its validity); it is never shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from talkbox.config.fields import Problem, shown_path
from talkbox.config.files import exists, read_text

API_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
CREDENTIAL_NAME = "gemini_api_key"
MISSING_KEY = (
    "GEMINI_API_KEY is not set: put it in /etc/talkbox/talkbox.env, point "
    "TALKBOX_API_KEY_FILE at a file holding it, or pass the systemd credential "
    f"{CREDENTIAL_NAME} (the unit loads /etc/credstore/{CREDENTIAL_NAME}, mode 0600)"
)
"""The one line that says where the Gemini API key goes (daemon start and `check`)."""


MAX_KEY_LENGTH = 1024
"""The longest key accepted: far above a Gemini key (39) or an ephemeral token, far below the
8 KiB header limits servers apply (a 60,000-character key only ever earns HTTP 431)."""


def read_secret(path: Path) -> str:
    """Read a key file: strip the trailing newline, refuse empty, unreadable or odd contents."""
    key = read_text(path).strip()
    if not key:
        raise Problem(f"{shown_path(path)} is empty", show_input=False)
    check_key_shape(key, what=f"the key in {shown_path(path)}")
    return key


def check_key_shape(key: str, *, what: str) -> None:
    """Refuse a key that cannot be sent as an HTTP header; never echo the key itself."""
    if len(key) > MAX_KEY_LENGTH:
        raise Problem(
            f"{what} is {len(key)} characters long, more than any key "
            f"(at most {MAX_KEY_LENGTH}; value not shown)",
            show_input=False,
        )
    # A header value is visible ASCII: a typographic quote pasted from a document or a
    # control character would make every connection fail, retried forever.
    for position, ch in enumerate(key, start=1):
        if not ("!" <= ch <= "~"):
            raise Problem(
                f"{what} holds {_kind_of(ch)} at character {position} of {len(key)}, which "
                "cannot be sent in an HTTP header (value not shown)",
                show_input=False,
            )


def _kind_of(ch: str) -> str:
    """What a person calls a character a key may not hold (the position says where)."""
    if ch.isspace():
        return "whitespace"
    if not ch.isprintable():
        return "a control character"
    return "a non-ASCII character such as a typographic quote"


CREDENTIAL_VARIABLE = f"$CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME}"


CREDSTORE = Path("/etc/credstore")
"""Where the unit's `LoadCredential=gemini_api_key` reads the key from (docs/platform.md §5.2)."""


def credential_path() -> Path | None:
    """The key's credential file: systemd's $CREDENTIALS_DIRECTORY, else /etc/credstore's.

    Outside systemd (`sudo talkbox check`, `ask`) the file the unit would load is read
    directly, so what the service will use is what is checked; only root may read it.
    """
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        stored = CREDSTORE / CREDENTIAL_NAME
        return stored if os.access(stored, os.R_OK) else None
    path = Path(directory) / CREDENTIAL_NAME
    try:
        # A credential directory without our credential is normal: the unit may pass others.
        return path if exists(path) else None
    except Problem as exc:
        raise Problem(str(exc), variable=CREDENTIAL_VARIABLE, show_input=False) from None
