"""ICE settings for aiortc peers: the servers to use and which host addresses to offer.

aiortc reaches for Google's STUN server when given no list, so a list (perhaps empty) is always
passed. aioice never offers 127.0.0.1; `use_host_addresses` replaces its address lookup so tests
and single-machine demos connect over loopback only. That replacement is process-wide, by
necessity: aioice reads the addresses through a module function.
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from signaling.messages import IceServer


def rtc_configuration(servers: Sequence[IceServer]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in servers
        ]
    )


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Offer exactly these host addresses as ICE candidates (for example ["127.0.0.1"])."""
    fixed = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses
