"""The client address from a trusted-proxy chain: X-Forwarded-For walked from the right."""

from __future__ import annotations

import pytest

from dealchat.identity.proxies import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::/48"])


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("203.0.113.9", [], "203.0.113.9"),  # no proxy
        ("203.0.113.9", ["10.1.1.1"], "203.0.113.9"),  # not our proxy: the header is ignored
        ("10.0.0.2", ["198.51.100.4"], "198.51.100.4"),  # one proxy
        ("10.0.0.2", ["1.2.3.4, 198.51.100.4"], "198.51.100.4"),  # spoofed entry left of it
        ("10.0.0.2", ["1.2.3.4", "198.51.100.4, 10.9.9.9"], "198.51.100.4"),  # two proxies
        ("10.0.0.2", ["10.5.5.5, 10.9.9.9"], "10.5.5.5"),  # all ours: the leftmost
        ("10.0.0.2", ["garbage, 198.51.100.4"], "198.51.100.4"),
        ("10.0.0.2", ["198.51.100.4, garbage"], "10.0.0.2"),  # garbage from a hop: stop
        ("10.0.0.2", [], "10.0.0.2"),
        ("2001:db8:ffff::1", ["2001:db8:1::5"], "2001:db8:1::5"),  # IPv6 proxies
        ("2001:db8:ffff::1", ["[2001:db8:1::5]"], "2001:db8:1::5"),
        ("::ffff:10.0.0.2", ["198.51.100.4"], "198.51.100.4"),  # v4-mapped peer
    ],
)
def test_walk_from_the_right(peer: str, header: list[str], expected: str) -> None:
    assert client_address(peer, header, PROXIES) == expected


def test_without_configured_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.2", ["198.51.100.4"], ()) == "10.0.0.2"


def test_bad_proxy_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_networks(["10.0.0.0/40"])
