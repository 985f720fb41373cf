"""Which destinations a webhook may reach (SPEC §13): public addresses over https only, except the hosts an
operator lists in PREFS_WEBHOOK_ALLOW_HOSTS. Pure functions; the only I/O is the DNS look-up in resolve_host.

The same rules run twice: when an endpoint is saved (check_url) and on every connect (prefs/outbound/http.py
calls check_addresses on the addresses it is about to connect to), so a name that resolves elsewhere after
the save (DNS rebinding) still cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
ALLOW_HOSTS_SETTING = "PREFS_WEBHOOK_ALLOW_HOSTS"
_ONLY_PUBLIC = "webhooks may only reach public addresses"
_HOST_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class ForbiddenDestination(ValueError):
    """A webhook URL or address the service will not send to; str() is a sentence for the integrator."""


class Destination(NamedTuple):
    host: str  # normalised: lower case, no brackets, no final dot, IP literals in their canonical form
    port: int


def _networks(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


# Checked in order: the first match names the reason. The metadata addresses come before the ranges that
# hold them, so the integrator reads the more telling reason.
_IPV4_RULES = (
    (_networks("169.254.169.254/32", "100.100.100.200/32"), "a cloud metadata address"),
    (_networks("0.0.0.0/32"), "the unspecified address"),
    (_networks("0.0.0.0/8"), "a 'this network' address (0.0.0.0/8)"),
    (_networks("127.0.0.0/8"), "a loopback address"),
    (_networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "a private address"),
    (_networks("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_networks("169.254.0.0/16"), "a link-local address"),
    (_networks("224.0.0.0/4"), "a multicast address"),
    (_networks("240.0.0.0/4"), "a reserved address"),
)
_IPV6_RULES = (
    (_networks("fd00:ec2::254/128"), "a cloud metadata address"),
    (_networks("::/128"), "the unspecified address"),
    (_networks("::1/128"), "a loopback address"),
    (_networks("fc00::/7"), "a private (unique local) address"),
    (_networks("fe80::/10"), "a link-local address"),
    (_networks("fec0::/10"), "a site-local address"),
    (_networks("ff00::/8"), "a multicast address"),
    (_networks("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_networks("2001::/32"), "a Teredo tunnel address"),
)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why a webhook may not reach `ip` ("a loopback address", ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            form, ipv4 = embedded
            reason = forbidden_reason(ipv4)
            return None if reason is None else f"the {form} form of {ipv4}, {reason}"
        rules = _IPV6_RULES
    else:
        rules = _IPV4_RULES
    for networks, reason in rules:
        if any(ip in network for network in networks):
            return reason
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:  # documentation, benchmarking and other special-purpose ranges
        return "a special-purpose address, not a public one"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 form carries (and reaches, through the host's stack or a translator)."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    last_32_bits = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return "NAT64", last_32_bits
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves, not IPv4 0.0.0.0 and 0.0.0.1
        return "IPv4-compatible", last_32_bits
    return None


def normalize_host(host: str) -> str:
    """One spelling per host, so a URL's host and an allow-list entry compare equal."""
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def parse_allow_hosts(setting: str) -> frozenset[str]:
    """PREFS_WEBHOOK_ALLOW_HOSTS (comma-separated host names or IP literals) as normalised hosts.

    Raises ValueError for an entry that is neither (a URL, a port, a wildcard): a typo must not pass silently.
    """
    hosts = set()
    for entry in setting.split(","):
        host = normalize_host(entry)
        if not host:
            continue
        if not _is_ip_literal(host) and not _is_host_name(host):
            raise ValueError(f"{ALLOW_HOSTS_SETTING}: {entry.strip()!r} is not a host name or an IP address")
        hosts.add(host)
    return frozenset(hosts)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    labels = host.split(".")
    return len(host) <= 253 and all(0 < len(label) <= 63 and set(label) <= _HOST_NAME_CHARACTERS for label in labels)


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (IPv4 and IPv6), each once, in the resolver's order. Raises OSError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_destination(url: str, allow_hosts: frozenset[str]) -> Destination:
    """The checks on a webhook URL that need no DNS: length, characters, scheme, host, no credentials, port.

    Raises ForbiddenDestination.
    """
    if len(url) > MAX_URL_LENGTH:
        raise ForbiddenDestination(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    # Parsers disagree about spaces, backslashes and non-ASCII hosts; refusing them leaves no room for a URL
    # that this check reads one way and the HTTP client another.
    if not url.isascii() or any(char <= " " or char in "\\\x7f" for char in url):
        raise ForbiddenDestination(
            "The URL may contain only printable ASCII characters, without spaces or backslashes "
            "(write an international host name in its xn-- form and percent-encode the path)."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ForbiddenDestination(f"The URL is not valid: {exc}.") from None
    scheme = parts.scheme.lower()
    host = normalize_host(parts.hostname or "")
    plain_http_refused = ForbiddenDestination(
        f"Webhook URLs must start with https:// ({ALLOW_HOSTS_SETTING} lists the hosts that may use http://)."
    )
    if scheme not in ("https", "http"):
        raise plain_http_refused
    if not host:
        raise ForbiddenDestination("The URL has no host.")
    if scheme == "http" and host not in allow_hosts:
        raise plain_http_refused
    if parts.username is not None or parts.password is not None:
        raise ForbiddenDestination("The URL must not contain a user name or password; authenticate with the webhook signature.")
    if port == 0:
        raise ForbiddenDestination("The URL's port must be between 1 and 65535.")
    return Destination(host, port or (443 if scheme == "https" else 80))


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """Refuse the destination if any address `host` resolves to is not public. Raises ForbiddenDestination."""
    for address in addresses:
        ip = ipaddress.ip_address(address)
        reason = forbidden_reason(ip)
        if reason is None:
            continue
        if normalize_host(host) == str(ip):
            raise ForbiddenDestination(f"{ip} is {reason}; {_ONLY_PUBLIC}.")
        raise ForbiddenDestination(f"{host} resolves to {ip}, {reason}; {_ONLY_PUBLIC}.")


def check_url(url: str, allow_hosts: frozenset[str], resolve: Callable[[str, int], list[str]] = resolve_host) -> None:
    """The check when a webhook endpoint is saved: parse_destination, then every address the host resolves
    to (an IP literal is its own address) must be public. Hosts in `allow_hosts` skip the address check.

    Raises ForbiddenDestination.
    """
    destination = parse_destination(url, allow_hosts)
    if destination.host in allow_hosts:
        return
    if _is_ip_literal(destination.host):
        check_addresses(destination.host, [destination.host])
        return
    try:
        addresses = resolve(destination.host, destination.port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise ForbiddenDestination(f"{destination.host} does not resolve to an address; check the host name.")
    check_addresses(destination.host, addresses)
