"""The place a per-address limit counts against: an IPv4 address, or an IPv6 address's /64 (found in review:
a machine with a /64 could take a fresh address for every try and never meet a limit)."""

from __future__ import annotations

import pytest

from prefs.rate_keys import place_of


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.9", "192.0.2.9"),  # an IPv4 client seen through a dual-stack socket
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
        (None, ""),
    ],
)
def test_the_place_of_an_address(ip, place):
    assert place_of(ip) == place
