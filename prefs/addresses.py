"""Contact addresses: validation, normalisation and masking. Pure functions, no Flask.

Stored emails have one canonical form, so a suppression, a uniqueness check or a look-up matches however a
mailer spells the address: trimmed, lower-cased, the local part in Unicode NFC and the domain as IDNA
U-labels (so `zoë@xn--exmple-cua.com`, its NFD spelling and `ZOË@EXÄMPLE.COM` are one address). Phones are
stored as E.164; the time zones a number implies come from libphonenumber's prefix data.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import cache, lru_cache
from typing import TypeGuard

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers import timezone as phone_zones

from .errors import PrefsError, invalid

RECIPIENT_ID_RE = re.compile(r"^(?!\.+$)[A-Za-z0-9._:-]{1,128}$")  # SPEC §2, less "." and "..": URLs read those as path steps
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Look-ups (the check) only need to know an address is shaped like one: full validation is for writes.
# No NUL either: a request's text is refused before it gets here, but a mail provider's is read here (found in
# review: PostgreSQL refused the look-up with a 500).
LOOKUP_EMAIL_RE = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$")
POSTAL_FIELDS = ("lines", "city", "region", "postal_code", "country")
# Plain ASCII addresses (dot-atom local part, letter-digit-hyphen domain, alphabetic TLD) are what nearly
# every address is; email-validator would accept each of them, and the regex is 10x faster, which a
# million-row import notices. Anything else goes to email-validator. tests/test_addresses.py checks that
# the two agree.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL_RE = re.compile(
    rf"^{_ATEXT}(?:\.{_ATEXT})*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+([A-Za-z]{{2,63}}))$"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def is_recipient_id(value: object) -> TypeGuard[str]:
    """RECIPIENT_ID_RE, matched whole (`re.match` lets a final newline through `$`)."""
    return isinstance(value, str) and RECIPIENT_ID_RE.fullmatch(value) is not None


def normalize_email(raw: object, field: str = "email") -> str:
    """Validate the syntax (no DNS) and return the canonical stored form. Raises PrefsError(invalid)."""
    if not isinstance(raw, str):
        raise invalid(field, "Not a valid email address.")
    candidate = raw.strip()
    if _is_plain_email(candidate):
        return candidate.lower()
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise invalid(field, f"Not a valid email address: {exc}") from None
    return _canonical(checked.local_part, checked.domain)


def _canonical(local_part: str, domain: str) -> str:
    # lower() can take a string out of NFC (a few letters lower-case to a decomposed form), so NFC comes last.
    return unicodedata.normalize("NFC", local_part.lower()) + "@" + unicodedata.normalize("NFC", domain.lower())


def _is_plain_email(candidate: str) -> bool:
    """Plain ASCII whose lower-case form is already canonical. A label with "--" goes the slow way: an
    A-label (xn--) has a U-label form, and other "ab--" labels are reserved and refused by IDNA."""
    match = _PLAIN_EMAIL_RE.match(candidate)
    if match is None or len(candidate) > 254 or candidate.index("@") > 64 or len(match.group(1)) > 253:
        return False
    domain = match.group(1).lower()
    if "--" in domain:
        return False
    return not any(domain == name or domain.endswith("." + name) for name in _SPECIAL_USE)


def lookup_email(raw: object, field: str = "email") -> str:
    """The canonical form of an address to look up, checked only for shape. Raises PrefsError(invalid)."""
    if not isinstance(raw, str):
        raise invalid(field, "Not a valid email address.")
    candidate = raw.strip()
    if len(candidate) > 320 or not LOOKUP_EMAIL_RE.match(candidate):
        raise invalid(field, "Not a valid email address.")
    if candidate.isascii() and "xn--" not in candidate.lower():
        return candidate.lower()  # the common case: lower-case ASCII is canonical already
    return canonical_email(candidate)


@lru_cache(maxsize=4096)
def canonical_email(address: str) -> str:
    """The canonical spelling of an address of the right shape; one email-validator refuses keeps the
    lower-cased NFC spelling (it can match no stored address, and a look-up should say so, not fail)."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return unicodedata.normalize("NFC", address.lower())
    return _canonical(checked.local_part, checked.domain)


def normalize_phone(raw: object, default_region: str, field: str = "phone") -> str:
    """Parse a number as a person would type it and return E.164. Raises PrefsError(invalid)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        raise invalid(field, "Not a valid phone number.")
    return _parse_phone(raw.strip(), default_region, field)


def lookup_phone(raw: object, default_region: str, field: str = "phone") -> str:
    """Like normalize_phone, but a number written as E.164 (the common case) is only brought to the spelling
    stored numbers have, not validated: a number nobody can hold matches nobody."""
    if isinstance(raw, str) and E164_RE.fullmatch(raw):
        return _looked_up_e164(raw)
    return normalize_phone(raw, default_region, field)


def canonical_e164(text: str) -> str:
    """The E.164 spelling libphonenumber gives a number written as `+` and digits: normalize_phone's answer
    for any valid number. It is not always the text: a trunk prefix after the country code goes
    (`+4407911123456` is `+447911123456`, `+112125550101` is `+12125550101`). Text it cannot read is returned
    as it is."""
    try:
        number = phonenumbers.parse(text)
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def _parse_phone(text: str, default_region: str, field: str) -> str:
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise invalid(field, "Not a valid phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, "Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# The check asks about the same numbers again and again (a campaign's retries, its next send); a list import's
# lines are each new, so the do-not-call load calls canonical_e164 itself and keeps this cache for the checks.
_looked_up_e164 = lru_cache(maxsize=16384)(canonical_e164)


@lru_cache(maxsize=65536)
def phone_time_zones(e164: str | None) -> tuple[str, ...]:
    """The IANA time zones a number's prefix implies (libphonenumber's data): one for most numbers, several
    where the prefix spans them (a mobile number in a country of many zones), none when it cannot tell.

    Cached: the check calls it for every marketing call or text, and parsing a number costs tens of µs.
    """
    if not e164:
        return ()
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in phone_zones.time_zones_for_number(number) if zone in time_zone_names())


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names this host knows, less the two that name no place (the host's own and tzdata's "Factory")."""
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


def normalize_time_zone(raw: object, field: str = "time_zone") -> str:
    """An IANA time zone name as zoneinfo knows it (e.g. America/New_York), exactly spelled. Raises PrefsError(invalid)."""
    if not isinstance(raw, str) or raw.strip() not in time_zone_names():
        raise invalid(field, "Not an IANA time zone name (e.g. America/New_York).")
    return raw.strip()


def normalize_postal_address(raw: object, field: str = "postal_address") -> dict:
    """Check the shape of a postal address and return it with only the known fields."""
    if not isinstance(raw, dict):
        raise invalid(field, "Must be an object with lines, city, region, postal_code and country.")
    unknown = sorted(set(raw) - set(POSTAL_FIELDS))
    if unknown:
        raise PrefsError("invalid", "Unknown postal address fields.", {field: {name: ["Unknown field."] for name in unknown}})
    lines = raw.get("lines")
    if (
        not isinstance(lines, list)
        or not lines
        or len(lines) > 5
        or not all(isinstance(line, str) and line.strip() and len(line) <= 200 for line in lines)
    ):
        raise PrefsError("invalid", "Invalid postal address.", {field: {"lines": ["One to five non-empty lines of text."]}})
    address: dict = {"lines": [line.strip() for line in lines]}
    for name in ("city", "region", "postal_code"):
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > 100:
            raise PrefsError("invalid", "Invalid postal address.", {field: {name: ["Text of at most 100 characters."]}})
        address[name] = value.strip()
    country = raw.get("country")
    if not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country):
        raise PrefsError("invalid", "Invalid postal address.", {field: {"country": ["An ISO 3166 two-letter country code."]}})
    address["country"] = country.upper()
    return address


def normalize_locale(raw: object, field: str = "locale") -> str:
    if not isinstance(raw, str) or not LOCALE_RE.fullmatch(raw):
        raise invalid(field, "Not a valid locale (e.g. en, en-GB, fr_CA).")
    return raw.replace("_", "-")


def mask_email(email: str | None) -> str | None:
    """j***@example.com: enough for the person to recognise it, not enough to harvest it."""
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """+1*******67: country code and the last two digits."""
    if not phone:
        return None
    return phone[:2] + "*" * max(len(phone) - 4, 1) + phone[-2:]


def mask_postal(address: dict | None) -> str | None:
    """Only the country: a street address is too easy to recognise."""
    if not address:
        return None
    return f"***, {address.get('country', '')}"
