"""The Home Assistant bridge: the ESPHome API server and its mDNS advertisement, kept current.

    async with HomeAssistantBridge(settings, box) as bridge:   # listening, advertised
        bridge.heard(event)        # each event the control task took: button events, changes
        await bridge.run()         # publishes changed states until cancelled

States are published when the box says something happened (`heard`, `changed`) and at least
every `POLL_S`, which catches what changes without an event (the volume set by the model's
tool or `talkbox ctl volume`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from talkbox.config import Settings, wake_word_choices
from talkbox.conversation import ButtonPressed, DoublePressed, Event, LongPressed
from talkbox.homeassistant.mdns import Advertisement
from talkbox.homeassistant.server import ApiServer, Box, DeviceOptions

log = logging.getLogger(__name__)

POLL_S: Final = 0.5
"""The longest a change without an event waits before HA sees it."""
BUTTON_EVENTS: Final[dict[type, str]] = {
    ButtonPressed: "press",
    DoublePressed: "double_press",
    LongPressed: "long_press",
}
"""The button events HA's event entity fires, by the conversation's event."""


MACHINE_ID = Path("/etc/machine-id")


def box_mac(machine_id: Path = MACHINE_ID) -> str:
    """The box's MAC address (HA's unique id for the device), as ESPHome writes it.

    It must not change between starts: HA takes another MAC at the same address for another
    device. When no interface has one, uuid makes up a random number (the multicast bit set)
    anew each start; the box then uses a locally administered address made from the
    machine id, which stays.
    """
    node = uuid.getnode()
    if node & (1 << 40):
        try:
            digest = hashlib.sha256(machine_id.read_bytes().strip()).digest()
        except OSError:
            log.warning(
                "Home Assistant: no MAC address and no %s; HA may see a new device", machine_id
            )
        else:
            # Locally administered (0x02), unicast (0x01 clear).
            node = (int.from_bytes(digest[:6], "big") & ~(1 << 40)) | (1 << 41)
    return ":".join(f"{(node >> shift) & 0xFF:02X}" for shift in range(40, -8, -8))


def device_options(settings: Settings, *, mac: str | None = None) -> DeviceOptions:
    """The ESPHome device the settings describe."""
    return DeviceOptions(
        name=settings.home_assistant_name,
        mac=mac or box_mac(),
        addresses=settings.home_assistant_addresses,
        port=settings.home_assistant_port,
        psk=settings.noise_key(),
        transcripts=settings.log_transcripts,
        wake_words=tuple(wake_word_choices(settings.wake_word)),
    )


class HomeAssistantBridge:
    """The ESPHome API and its advertisement for one box, while entered."""

    def __init__(self, settings: Settings, box: Box) -> None:
        """Serve `box` as the settings say (TALKBOX_HOME_ASSISTANT=esphome)."""
        self.options = device_options(settings)
        self.server = ApiServer(self.options, box)
        self._mdns = settings.home_assistant_mdns
        self._stack = contextlib.AsyncExitStack()
        self._dirty = asyncio.Event()

    async def __aenter__(self) -> Self:
        """Listen, then advertise; a port in use stops the start here (OSError)."""
        try:
            await self._stack.enter_async_context(self.server)
            if self._mdns:
                port = self.server.ports[0]
                await self._stack.enter_async_context(Advertisement(self.options, port))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop advertising, close the connections and the sockets."""
        await self._stack.aclose()

    def heard(self, event: Event) -> None:
        """An event the control task took: a button event fires in HA; states may have moved."""
        kind = BUTTON_EVENTS.get(type(event))
        if kind is not None:
            self.server.fire(kind)
        self._dirty.set()

    def changed(self) -> None:
        """Something HA shows may have changed: publish soon."""
        self._dirty.set()

    async def run(self) -> None:
        """Publish changed states until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._dirty.wait()
            self._dirty.clear()
            self.server.publish()
