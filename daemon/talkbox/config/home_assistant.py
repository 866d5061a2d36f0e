"""The Home Assistant area: the box as an ESPHome device in the home, and the Assist tool.

Off by default. With `TALKBOX_HOME_ASSISTANT=esphome` the daemon serves the ESPHome native API
on the addresses named here (docs/home-assistant.md), encrypted with the Noise key; plaintext
only when the person opts out of encryption in writing (`TALKBOX_HOME_ASSISTANT_PLAINTEXT`).
With a URL and a long-lived token, the model gets a tool that hands home requests to HA's
Assist (its conversation API).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BeforeValidator, SecretStr, field_validator
from pydantic_settings import NoDecode

from talkbox.config.credentials import CREDSTORE
from talkbox.config.fields import GIVEN, Area, LowerCase, Problem, setting
from talkbox.config.files import exists, read_text

TOKEN_CREDENTIAL: Final = "home_assistant_token"
"""The systemd credential (and /etc/credstore file) that may hold HA's long-lived token."""
ESPHOME_PORT: Final = 6053
"""The ESPHome native API's port, which HA's ESPHome integration asks for by default."""
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,29}[a-z0-9])?$")
"""An ESPHome device name: what mDNS and HA's device registry take (lower case, digits, -)."""


def _addresses(value: object) -> object:
    # systemd env files have no lists: the addresses are comma-separated.
    if not isinstance(value, str):
        return value
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    found: list[str] = []
    for entry in entries:
        try:
            found.append(str(ipaddress.ip_address(entry)))
        except ValueError:
            raise Problem(
                f"{entry} is not an IP address (a host name is not bound: name the address)",
                show_input=False,
            ) from None
    return tuple(dict.fromkeys(found))


def decode_key(text: str) -> bytes:
    """The 32 raw bytes of an ESPHome API encryption key (base64, as ESPHome writes it)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Problem("is not base64 (ESPHome's keys are 44 characters ending in =)") from None
    if len(raw) != 32:
        raise Problem(f"decodes to {len(raw)} bytes; an ESPHome API key is 32 bytes")
    return raw


def read_token() -> SecretStr | None:
    """HA's token from the systemd credential, else /etc/credstore's file (root's), else None."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    path = Path(directory) / TOKEN_CREDENTIAL if directory else CREDSTORE / TOKEN_CREDENTIAL
    if not directory and not os.access(path, os.R_OK):
        return None
    if not exists(path):
        return None
    token = read_text(path).strip()
    return SecretStr(token) if token else None


class HomeAssistantFields(Area):
    """Home Assistant: the box as an ESPHome device, and the Assist tool for the model."""

    home_assistant: Annotated[Literal["off", "esphome"], LowerCase] = setting(
        "off",
        doc="off: no Home Assistant. esphome: serve the ESPHome native API, so Home "
        "Assistant's ESPHome integration discovers and adopts the box (state, mute, volume, "
        "a talk button, button events, the last turn's facts).",
        allowed="off or esphome",
    )
    home_assistant_addresses: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_addresses)] = (
        setting(
            ("0.0.0.0",),
            doc="The addresses the ESPHome API listens on, comma-separated (0.0.0.0: every IPv4 "
            "address of the box; :: every IPv6 one; 127.0.0.1 only this machine).",
            allowed="IP addresses, comma-separated",
        )
    )
    home_assistant_port: int = setting(
        ESPHOME_PORT,
        doc="The ESPHome API's TCP port (Home Assistant asks 6053 unless told otherwise).",
        allowed="a port, 1 to 65535",
        ge=1,
        le=65535,
    )
    home_assistant_encryption_key: SecretStr | None = setting(
        None,
        doc="The ESPHome API encryption key (Noise), base64 of 32 bytes, as ESPHome writes it; "
        "Home Assistant asks for it when it adopts the box. Make one with: "
        "python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())'",
        allowed="base64 of 32 bytes (44 characters)",
        secret=True,
        applies_when={"home_assistant": "esphome"},
    )
    home_assistant_plaintext: bool = setting(
        False,
        doc="true: serve the ESPHome API without encryption when no key is set. Anyone on the "
        "network can then mute, unmute and press the box, and read its state. Off: the box "
        "refuses to serve without a key.",
        allowed="true/false",
        applies_when={"home_assistant": "esphome"},
    )
    home_assistant_name: str = setting(
        "talkbox",
        doc="The device's name in Home Assistant and on mDNS (talkbox.local).",
        allowed="lower-case letters, digits and -, at most 31 characters",
    )
    home_assistant_mdns: bool = setting(
        True,
        doc="Advertise the ESPHome API over mDNS (_esphomelib._tcp), as ESPHome devices do, "
        "so Home Assistant discovers the box by itself.",
        allowed="true/false",
        applies_when={"home_assistant": "esphome"},
    )
    home_assistant_url: str | None = setting(
        None,
        doc="Home Assistant's address, such as http://homeassistant.local:8123. With a token, "
        "the model gets the control_home tool, which hands a home request to HA's Assist "
        "(only what you exposed to Assist) and speaks HA's answer.",
        allowed="an http:// or https:// URL",
    )
    home_assistant_token: SecretStr | None = setting(
        None,
        doc="A long-lived access token of a Home Assistant user (its profile page, Security). "
        "Or the systemd credential home_assistant_token (/etc/credstore/home_assistant_token).",
        allowed="the token, without spaces",
        secret=True,
        applies_when={"home_assistant_url": GIVEN},
    )
    home_assistant_timeout_s: float = setting(
        10.0,
        doc="How long the control_home tool waits for Home Assistant's answer before it tells "
        "the model that Home Assistant did not answer.",
        allowed="seconds, 1 to 60",
        ge=1.0,
        le=60.0,
    )

    @field_validator("home_assistant_encryption_key")
    @classmethod
    def _check_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())
        return value

    @field_validator("home_assistant_name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME.match(value):
            raise Problem("is not a device name: lower-case letters, digits and -, 1 to 31 long")
        return value

    @field_validator("home_assistant_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise Problem("is not an http:// or https:// URL")
        return value.rstrip("/")

    def unmet_needs(self) -> list[str]:
        """Serving without a key needs the person's written opt-out; the tool needs a token."""
        problems: list[str] = []
        if (
            self.home_assistant == "esphome"
            and self.home_assistant_encryption_key is None
            and not self.home_assistant_plaintext
        ):
            problems.append(
                "TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY is not set: the ESPHome API is served "
                "encrypted only; set a key (base64 of 32 bytes), or set "
                "TALKBOX_HOME_ASSISTANT_PLAINTEXT=true to let anyone on the network drive the box"
            )
        if self.home_assistant_url is not None and self.assist_token() is None:
            problems.append(
                "TALKBOX_HOME_ASSISTANT_URL is set but no token is: set "
                "TALKBOX_HOME_ASSISTANT_TOKEN (a long-lived access token) or the systemd "
                f"credential {TOKEN_CREDENTIAL}"
            )
        return problems

    def notes(self) -> list[str]:
        """Plaintext on an address other machines reach is allowed, and worth a warning."""
        if self.home_assistant != "esphome" or self.home_assistant_encryption_key is not None:
            return []
        reachable = [
            a for a in self.home_assistant_addresses if not ipaddress.ip_address(a).is_loopback
        ]
        if not self.home_assistant_plaintext or not reachable:
            return []
        return [
            f"the ESPHome API is served unencrypted on {', '.join(reachable)}: anyone on that "
            "network can mute, unmute and press the box and read its state; set "
            "TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY"
        ]

    def assist_token(self) -> SecretStr | None:
        """The token for HA's conversation API: the setting, else the systemd credential."""
        if self.home_assistant_token is not None:
            return self.home_assistant_token
        try:
            return read_token()
        except Problem:
            return None

    def noise_key(self) -> bytes | None:
        """The Noise pre-shared key, decoded (None: plaintext)."""
        key = self.home_assistant_encryption_key
        return None if key is None else decode_key(key.get_secret_value())
