"""SSRF guard: feed links are untrusted input, so a link (or a redirect) to anything but a
globally routable address is refused before any connection is made.

"Globally routable" is ``ipaddress``'s ``is_global`` (IANA's special-purpose registries):
besides loopback, RFC 1918, link-local and metadata space it excludes carrier-grade NAT
(100.64.0.0/10, where some clouds put their metadata service), benchmarking, documentation
and reserved ranges. IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged
by that IPv4 address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedAddressError(Exception):
    """The host resolves to an address the pipeline must not contact."""


class UnresolvableHostError(Exception):
    """The host has no address (DNS failure): nothing was contacted, nothing was blocked."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that route
    to IPv4 (a client would reach that IPv4 host)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return False  # a tunnel endpoint, never a news site
        address = embedded_ipv4(address) or address
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling a resolver accepts.

    Besides dotted quads and IPv6 (with brackets or a zone), the C resolver takes decimal
    (``2130706433``), octal (``0177.0.0.1``), hex (``0x7f.1``) and short (``127.1``) forms,
    and a trailing dot: they are decoded here as ``inet_aton`` does, so the guard judges the
    address the connection would use, whatever resolver runs later.
    """
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not bare or not all(c in "0123456789abcdefxABCDEFX." for c in bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None  # a name made of hex letters ("cafe.bad"): resolve it as a name


async def check_host(host: str, *, allow_private: bool) -> None:
    """Raise BlockedAddressError unless every address of ``host`` is public, and
    UnresolvableHostError if it has none.

    Every address must pass, not just the first: a resolver may hand the HTTP client any
    of them. The check resolves separately from the connection, so a DNS answer that
    changes in between (rebinding) is not covered; production deployments should also
    egress through a proxy that enforces the same rule.
    """
    if allow_private:
        return
    literal = literal_address(host)
    if literal is not None:
        addresses: set[IPAddress] = {literal}
    else:
        loop = asyncio.get_running_loop()
        try:
            # "localhost." and "localhost" are one host; some resolvers only know the latter.
            name = host.rstrip(".") or host
            infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnresolvableHostError(
                f"cannot resolve {host}: {exc.strerror or exc}",
                transient=exc.errno == socket.EAI_AGAIN,
            ) from None
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    blocked = sorted(str(a) for a in addresses if not is_public_address(a))
    if blocked:
        raise BlockedAddressError(f"{host} resolves to non-public address {', '.join(blocked)}")
