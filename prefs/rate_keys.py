"""The place a per-address rate limit counts a request against (the limiter's key, prefs/extensions.py)."""

from __future__ import annotations

import ipaddress

# An IPv6 network hands one home, phone or server a /64 at least, and any machine there can use as many of
# its 2**64 addresses as it likes: counted by address, a limit "per place" would hold back nobody.
IPV6_PLACE_PREFIX = 64


def place_of(ip: str | None) -> str:
    """IPv4: the address. IPv6: its /64 (an IPv4-mapped address: the IPv4 address). Anything else as given."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ip or ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        host_bits = 128 - IPV6_PLACE_PREFIX
        return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_PLACE_PREFIX)))
    return str(address)
