"""The mDNS advertisement Home Assistant discovers the box by: `_esphomelib._tcp`, as ESPHome's.

The TXT record carries what HA's ESPHome integration reads at discovery (docs/home-assistant.md
§4): the MAC (its unique id for the device), the ESPHome version, the friendly name and, when
the API is encrypted, the Noise protocol's name, so HA asks for the key before it connects.
"""

from __future__ import annotations

import ipaddress
import logging
from types import TracebackType
from typing import Final, Self

import ifaddr
from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from talkbox.homeassistant.server import ESPHOME_VERSION, DeviceOptions
from talkbox.homeassistant.wire import NOISE_PROTOCOL

log = logging.getLogger(__name__)

SERVICE_TYPE: Final = "_esphomelib._tcp.local."


def advertised_addresses(bound: tuple[str, ...]) -> list[str]:
    """The addresses to advertise: each bound one, or for a wildcard the box's own of that kind."""
    found: list[str] = []
    for text in bound:
        address = ipaddress.ip_address(text)
        if not address.is_unspecified:
            found.append(text)
            continue
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                value = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
                candidate = ipaddress.ip_address(value.split("%")[0])
                if (
                    candidate.version == address.version
                    and not candidate.is_loopback
                    and not candidate.is_link_local
                ):
                    found.append(str(candidate))
    return list(dict.fromkeys(found))


def service_info(options: DeviceOptions, addresses: list[str], port: int) -> AsyncServiceInfo:
    """The service record: name, port, addresses and the TXT properties HA reads."""
    properties = {
        "version": ESPHOME_VERSION,
        "mac": options.mac.replace(":", "").lower(),
        "friendly_name": options.name,
        "platform": "HOST",
        "board": "talkbox",
        "network": "ethernet",
        "project_name": "talkbox.talkbox",
        "project_version": options.version,
    }
    if options.psk is not None:
        properties["api_encryption"] = NOISE_PROTOCOL.decode()
    return AsyncServiceInfo(
        SERVICE_TYPE,
        f"{options.name}.{SERVICE_TYPE}",
        port=port,
        parsed_addresses=addresses,
        properties=properties,
        server=f"{options.name}.local.",
    )


class Advertisement:
    """The box's service on mDNS while entered (registered, then unregistered)."""

    def __init__(self, options: DeviceOptions, port: int) -> None:
        """Advertise the API of `options` on `port`."""
        self.options = options
        self.port = port
        self._zeroconf: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    async def __aenter__(self) -> Self:
        """Register the service (on the bound addresses' interfaces, or all for a wildcard)."""
        bound = self.options.addresses
        wildcard = any(ipaddress.ip_address(a).is_unspecified for a in bound)
        try:
            addresses = advertised_addresses(bound)
            zeroconf = AsyncZeroconf(interfaces=InterfaceChoice.All if wildcard else list(bound))
        except OSError as exc:
            # Home Assistant can still add the box by its address; the API itself is served.
            log.warning(
                "Home Assistant: no mDNS advertisement (%s); add the box in HA by its address, "
                "or name it in TALKBOX_HOME_ASSISTANT_ADDRESSES",
                exc,
            )
            return self
        self._zeroconf = zeroconf
        info = service_info(self.options, addresses, self.port)
        try:
            await zeroconf.async_register_service(info)
        except BaseException:
            await zeroconf.async_close()
            raise
        self._info = info
        log.info("Home Assistant: advertised as %s on mDNS (%s)", info.name, ", ".join(addresses))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Say goodbye on mDNS and close the sockets."""
        zeroconf = self._zeroconf
        if zeroconf is None:
            return
        try:
            if self._info is not None:
                await zeroconf.async_unregister_service(self._info)
        finally:
            await zeroconf.async_close()
