"""Which webhook destinations are refused (SPEC §13): the address rules, the allow-list setting and the check
when an endpoint is saved (with an injected resolver, and the real one for localhost)."""

from __future__ import annotations

import ipaddress

import pytest

from prefs.outbound.netguard import (
    MAX_URL_LENGTH,
    ForbiddenDestination,
    check_url,
    forbidden_reason,
    parse_allow_hosts,
    resolve_host,
)

NOTHING_ALLOWED: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.255.254", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private (unique local) address"),
        ("fd12:3456::1", "a private (unique local) address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("0.0.0.0", "the unspecified address"),  # noqa: S104 (an address under test, not one bound)
        ("::", "the unspecified address"),
        ("0.1.2.3", "a 'this network' address (0.0.0.0/8)"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("192.0.2.1", "a special-purpose address, not a public one"),  # documentation
        ("2001:db8::1", "a special-purpose address, not a public one"),  # documentation
        ("2001::1", "a Teredo tunnel address"),
        ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
        # IPv6 forms that carry an IPv4 address: the IPv4 address decides.
        ("::ffff:127.0.0.1", "the IPv4-mapped form of 127.0.0.1, a loopback address"),
        ("::ffff:10.0.0.5", "the IPv4-mapped form of 10.0.0.5, a private address"),
        ("::ffff:169.254.169.254", "the IPv4-mapped form of 169.254.169.254, a cloud metadata address"),
        ("::127.0.0.1", "the IPv4-compatible form of 127.0.0.1, a loopback address"),
        ("::10.0.0.5", "the IPv4-compatible form of 10.0.0.5, a private address"),
        ("64:ff9b::7f00:1", "the NAT64 form of 127.0.0.1, a loopback address"),
        ("64:ff9b::a9fe:a9fe", "the NAT64 form of 169.254.169.254, a cloud metadata address"),
        ("2002:7f00:1::", "the 6to4 form of 127.0.0.1, a loopback address"),
        ("2002:a64:1::1", "the 6to4 form of 10.100.0.1, a private address"),
        ("2002:6440:1::", "the 6to4 form of 100.64.0.1, a shared (carrier-grade NAT) address"),
    ],
)
def test_forbidden_addresses_and_why(address, reason):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",  # just past 172.16.0.0/12
        "100.128.0.1",  # just past 100.64.0.0/10
        "2606:2800:220:1:248:1893:25c8:1946",
        "2001:4860:4860::8888",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
    ],
)
def test_public_addresses_are_allowed(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_the_allow_hosts_setting_is_normalised():
    setting = " Hooks.Example.COM , localhost., [::1],0:0:0:0:0:0:0:1, 127.0.0.1,, [FD00::5] ,"

    assert parse_allow_hosts(setting) == {"hooks.example.com", "localhost", "::1", "127.0.0.1", "fd00::5"}
    assert parse_allow_hosts("") == frozenset()
    assert parse_allow_hosts(" , ") == frozenset()


@pytest.mark.parametrize("entry", ["http://hooks.example.com", "hooks.example.com:8080", "*.example.com", "two words", "a..b"])
def test_an_allow_hosts_entry_that_is_no_host_is_an_error(entry):
    with pytest.raises(ValueError, match="PREFS_WEBHOOK_ALLOW_HOSTS"):
        parse_allow_hosts(f"localhost,{entry}")


def resolving_to(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


RESOLVES_PUBLIC = resolving_to("93.184.216.34")


def refusal(url: str, allow_hosts: frozenset[str] = NOTHING_ALLOWED, resolve=RESOLVES_PUBLIC) -> str:
    with pytest.raises(ForbiddenDestination) as refused:
        check_url(url, allow_hosts, resolve)
    return str(refused.value)


def test_a_host_resolving_to_public_addresses_may_be_saved():
    check_url(
        "https://hooks.example.com/prefs", NOTHING_ALLOWED, resolving_to("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    )
    check_url("https://hooks.example.com:8443/prefs?x=1", NOTHING_ALLOWED, resolving_to("93.184.216.34"))


def test_the_resolver_is_asked_about_the_url_host_and_port():
    asked = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["93.184.216.34"]

    check_url("https://Hooks.Example.com/a", NOTHING_ALLOWED, resolve)
    check_url("https://hooks.example.com:8443/a", NOTHING_ALLOWED, resolve)

    assert asked == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_a_host_resolving_to_loopback_is_refused():
    assert refusal("https://hooks.example.com/", resolve=resolving_to("127.0.0.1")) == (
        "hooks.example.com resolves to 127.0.0.1, a loopback address; webhooks may only reach public addresses."
    )


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    message = refusal("https://hooks.example.com/", resolve=resolving_to("93.184.216.34", "10.0.0.5"))

    assert message.startswith("hooks.example.com resolves to 10.0.0.5, a private address")


def test_a_host_resolving_to_a_mapped_ipv6_form_of_metadata_is_refused():
    message = refusal("https://hooks.example.com/", resolve=resolving_to("::ffff:169.254.169.254"))

    assert "IPv4-mapped form of 169.254.169.254, a cloud metadata address" in message


def test_a_host_that_does_not_resolve_is_refused():
    def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert refusal("https://nowhere.example.com/", resolve=fails) == (
        "nowhere.example.com does not resolve to an address; check the host name."
    )
    assert "does not resolve" in refusal("https://nowhere.example.com/", resolve=resolving_to())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1 is the IPv4-mapped form of 127.0.0.1, a loopback address"),
        ("https://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("https://127.0.0.1:8443/hook", "127.0.0.1 is a loopback address"),
    ],
)
def test_an_ip_literal_is_checked_without_asking_the_resolver(url, message):
    def must_not_resolve(host: str, port: int) -> list[str]:
        raise AssertionError("an IP literal needs no look-up")

    assert refusal(url, resolve=must_not_resolve).startswith(message)


def test_localhost_is_refused_through_the_real_resolver():
    assert "localhost resolves to " in refusal("https://localhost/hook", resolve=resolve_host)
    assert "a loopback address" in refusal("https://localhost/hook", resolve=resolve_host)


def test_resolve_host_lists_each_address_once():
    addresses = resolve_host("localhost", 443)

    assert addresses and len(addresses) == len(set(addresses))
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)


def test_http_is_refused_unless_the_host_is_allowed():
    assert refusal("http://hooks.example.com/").startswith("Webhook URLs must start with https://")
    assert refusal("http://127.0.0.1:8080/hook").startswith("Webhook URLs must start with https://")
    check_url("http://hooks.example.com/", frozenset({"hooks.example.com"}), resolving_to("10.0.0.5"))


def test_an_allowed_ip_literal_may_use_http_on_any_port():
    check_url("http://127.0.0.1:8080/hook", frozenset({"127.0.0.1"}))
    check_url("https://[::1]:8443/hook", parse_allow_hosts("[::1]"))


def test_an_allowed_host_skips_the_address_check():
    def must_not_resolve(host: str, port: int) -> list[str]:
        raise AssertionError("an allowed host needs no look-up")

    check_url("https://Receiver.Internal./hook", parse_allow_hosts("receiver.internal"), must_not_resolve)


def test_allowing_one_host_allows_no_other():
    assert "10.0.0.6 is a private address" in refusal("https://10.0.0.6/", parse_allow_hosts("10.0.0.5"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:secret@hooks.example.com/", "must not contain a user name or password"),
        ("https://user@hooks.example.com/", "must not contain a user name or password"),
        ("https://@hooks.example.com/", "must not contain a user name or password"),
        ("ftp://hooks.example.com/", "must start with https://"),
        ("hooks.example.com/hook", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https:///hook", "has no host"),
        ("https://hooks.example.com:0/", "port must be between 1 and 65535"),
        ("https://hooks.example.com:65536/", "not valid"),
        ("https://hooks.example.com:https/", "not valid"),
        ("https://[::1/", "not valid"),
        ("https://hooks.example.com /", "printable ASCII"),
        ("https://hooks.example.com\\@10.0.0.5/", "printable ASCII"),
        ("https://hooks.example.com/\n", "printable ASCII"),
        ("https://bücher.example/", "printable ASCII"),
        ("https://hooks.example.com/" + "a" * MAX_URL_LENGTH, f"longer than {MAX_URL_LENGTH} characters"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url, message):
    assert message in refusal(url)


def test_a_url_of_the_maximum_length_is_accepted():
    url = "https://hooks.example.com/"
    check_url(url + "a" * (MAX_URL_LENGTH - len(url)), NOTHING_ALLOWED, resolving_to("93.184.216.34"))
