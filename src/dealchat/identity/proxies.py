"""The client's address behind a chain of trusted reverse proxies (X-Forwarded-For, from the right).

The peer that connected is the client unless it is one of our proxies. If it is, the header's
entries are walked from the right (each proxy appends the address it saw), skipping our proxies;
the first entry that is not one of ours is the client. Anything left of it was written by the
client itself and is never believed: a spoofed X-Forwarded-For does not pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDR ranges (a bare address is its /32 or /128); ValueError names a bad one."""
    parsed = []
    for cidr in cidrs:
        try:
            parsed.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not a CIDR range: {cidr!r}") from exc
    return tuple(parsed)


def parse_address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def within(address: Address, networks: Sequence[Network]) -> Network | None:
    """The first network that holds `address` (IPv4 and IPv6 kept apart), else None."""
    for network in networks:
        if address.version == network.version and address in network:
            return network
    return None


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """The client's address; `forwarded_for` are the X-Forwarded-For header values, in order."""
    hop = parse_address(peer)
    if hop is None:
        return peer
    if not trusted or within(hop, trusted) is None:
        return str(hop)
    chain = [part.strip() for value in forwarded_for for part in value.split(",") if part.strip()]
    for entry in reversed(chain):
        parsed = parse_address(entry)
        if parsed is None:
            return str(hop)  # garbage from beyond our proxies: the last trusted hop is all we know
        hop = parsed
        if within(hop, trusted) is None:
            return str(hop)
    return str(hop)  # every hop is ours: the leftmost one
