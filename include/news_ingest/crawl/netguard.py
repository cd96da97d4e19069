"""SSRF guard: feed links are untrusted input, so a link (or a redirect) into loopback,
private, link-local or cloud-metadata space is refused before any connection is made."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(Exception):
    """The host resolves to an address the pipeline must not contact."""


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def check_host(host: str, *, allow_private: bool) -> None:
    """Raise BlockedAddressError unless every address of ``host`` is public.

    Every address must pass, not just the first: a resolver may hand the HTTP client any
    of them. The check resolves separately from the connection, so a DNS answer that
    changes in between (rebinding) is not covered; production deployments should also
    egress through a proxy that enforces the same rule.
    """
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses: set[IPAddress] = {literal}
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise BlockedAddressError(f"cannot resolve {host}: {exc}") from None
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    blocked = sorted(str(a) for a in addresses if not is_public_address(a))
    if blocked:
        raise BlockedAddressError(f"{host} resolves to non-public address {', '.join(blocked)}")
