"""Address handling, unit-tested: normalisation, masking, and the fast email path agreeing with email-validator."""

from __future__ import annotations

import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from prefs.addresses import (
    _is_plain_email,
    lookup_email,
    lookup_phone,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)
from prefs.errors import PrefsError

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
label = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=70)
local = st.lists(st.text(ATEXT, min_size=1, max_size=30), min_size=1, max_size=4).map(".".join)
domain = st.lists(label, min_size=1, max_size=4).map(".".join)
tld = st.sampled_from(
    ["com", "org", "io", "co", "test", "local", "localhost", "onion", "arpa", "invalid", "c0m", "123", "x", "museum"]
)
addresses = st.builds(lambda name, host, top: f"{name}@{host}.{top}", local, domain, tld) | st.text(max_size=80)


def email_validator_accepts(candidate: str) -> bool:
    try:
        validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@pytest.mark.slow  # 3,000 examples
@settings(max_examples=3000, deadline=None)
@given(addresses)
def test_the_fast_email_path_accepts_only_what_email_validator_accepts(candidate):
    if _is_plain_email(candidate):
        assert email_validator_accepts(candidate), candidate


@pytest.mark.parametrize("raw", ["  Ann.Lee+news@Example.COM ", "o'brien@example.ie", "δοκιμή@παράδειγμα.δοκιμή"])
def test_valid_emails_are_trimmed_and_lower_cased(raw):
    assert normalize_email(raw) == raw.strip().lower()


def test_the_fast_path_sends_reserved_double_hyphen_labels_the_slow_way():
    """Found by the property test above: `00--0` is a reserved label that email-validator refuses."""
    assert not _is_plain_email("0@00--0.com") and not _is_plain_email("ann@xn--exmple-cua.com")


@pytest.mark.parametrize(
    "spelling",
    ["zoë@exämple.com", "zoe\u0308@exa\u0308mple.com", "zoë@xn--exmple-cua.com", "ZOË@EXÄMPLE.COM", " Zoë@Exämple.Com "],
)
def test_every_spelling_of_an_address_has_one_canonical_form(spelling):
    assert normalize_email(spelling) == "zoë@exämple.com"
    assert lookup_email(spelling) == "zoë@exämple.com"


@pytest.mark.parametrize(
    "raw", ["", "plain", "a@b", "a@@b.com", "a@b.test", "a@localhost", "a b@c.com", ".a@b.com", "a@b.123", 7, None]
)
def test_invalid_emails_are_refused(raw):
    with pytest.raises(PrefsError) as error:
        normalize_email(raw)
    assert error.value.code == "invalid" and "email" in error.value.details


def test_phones_are_parsed_as_people_type_them():
    assert normalize_phone("(415) 555-0123", "US") == "+14155550123"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("+44 20 7946 0958", "US") == "+442079460958"
    for raw in ("12", "phone", "+1 555", "", None):
        with pytest.raises(PrefsError):
            normalize_phone(raw, "US")


@pytest.mark.parametrize(
    ("spelling", "region"),
    [
        ("+4407911123456", "GB"),  # a trunk prefix after the country code (found by this round's review)
        ("+447911123456", "US"),
        ("+44 07911 123456", "US"),
        ("+112125550101", "US"),
        ("+12125550101", "GB"),
        ("(212) 555-0101", "US"),
        ("+390612345678", "US"),  # Italy keeps its leading zero
        ("+4915123456789", "DE"),
    ],
)
def test_a_look_up_spells_a_number_as_it_is_stored(spelling, region):
    """The check's look-up skips validation for E.164-shaped text, never the canonical spelling: whatever a
    person's number was stored as (normalize_phone), every spelling of it finds them."""
    assert lookup_phone(spelling, region) == normalize_phone(spelling, region)


def test_a_look_up_of_a_number_nobody_can_hold_matches_nobody_rather_than_failing():
    assert lookup_phone("+999123456789", "US") == "+999123456789"  # no such country code: as it is
    with pytest.raises(PrefsError):
        normalize_phone("+999123456789", "US")  # which a write refuses


def test_masks_show_enough_to_recognise_and_no_more():
    assert mask_email("ann@example.com") == "a***@example.com"
    assert mask_phone("+14155550123") == "+1********23"
    assert mask_email(None) is None and mask_phone(None) is None
