"""The SSRF guard against every disguise of a non-public address (pure, no network)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from news_ingest.crawl.netguard import (
    BlockedAddressError,
    UnresolvableHostError,
    check_host,
    is_public_address,
    literal_address,
)

BLOCKED_HOSTS = [
    "127.0.0.1",
    "2130706433",  # decimal 127.0.0.1
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",  # hex
    "0x7f000001",
    "127.1",  # short form
    "0",  # 0.0.0.0
    "0.0.0.0",
    "127.0.0.1.",  # trailing dot
    "localhost",
    "localhost.",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[2002:a00:1::]",  # 6to4 of 10.0.0.1
    "[fe80::1%25eth0]",
    "[fc00::1]",
    "[::]",
    "10.0.0.1",
    "012.0.0.1",  # octal 10.0.0.1
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "100.100.100.200",  # a metadata service inside 100.64.0.0/10
    "100.127.255.255",
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "224.0.0.1",  # multicast
    "255.255.255.255",
    "240.0.0.1",  # reserved
]


@pytest.mark.parametrize("host", BLOCKED_HOSTS)
def test_non_public_hosts_are_blocked(host: str) -> None:
    with pytest.raises(BlockedAddressError):
        asyncio.run(check_host(host, allow_private=False))


@pytest.mark.parametrize("host", ["93.184.215.14", "1.1.1.1", "[2606:4700::1111]", "100.128.0.1"])
def test_public_literals_pass(host: str) -> None:
    asyncio.run(check_host(host, allow_private=False))


def test_allow_private_skips_the_guard() -> None:
    asyncio.run(check_host("127.0.0.1", allow_private=True))


def test_unresolvable_names_are_not_called_blocked() -> None:
    with pytest.raises(UnresolvableHostError) as failure:
        asyncio.run(check_host("no-such-host.invalid", allow_private=False))
    assert "no-such-host.invalid" in str(failure.value)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::ffff:10.0.0.1]", "::ffff:a00:1"),
        ("example.com", None),
        ("cafe.bad", None),  # hex letters, but a name
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


def test_mapped_forms_are_judged_by_their_ipv4_address() -> None:
    assert is_public_address(ipaddress.ip_address("::ffff:8.8.8.8"))
    assert not is_public_address(ipaddress.ip_address("::ffff:100.64.0.1"))
    assert not is_public_address(ipaddress.ip_address("64:ff9b::a00:1"))
