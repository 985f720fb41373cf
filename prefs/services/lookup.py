"""Finding people: by an address (the API), or from one search box for a recipient id, an email or a phone
number as people type it (the console).

Reads only: what is typed is normalised the way addresses are stored (emails in their canonical spelling,
phones to E.164 with the configured default region), so "(415) 555-0123" finds +14155550123.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from ..addresses import is_recipient_id, lookup_email, lookup_phone
from ..channels import SUPPRESSIBLE
from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..models import Recipient, Suppression

MAX_QUERY_LENGTH = 320
ADDRESS_WORDS = {address.field: address.words for address in SUPPRESSIBLE}


@dataclass
class Address:
    kind: str  # email or phone: the recipient's column, and the suppression hash's kind
    value: str  # normalised
    hash: str  # the suppression hash of the value

    @property
    def words(self) -> str:
        return ADDRESS_WORDS[self.kind]


@dataclass
class SearchResult:
    query: str
    recipients: list[Recipient] = field(default_factory=list)
    address: Address | None = None  # the query read as an address
    suppression: Suppression | None = None  # set when no recipient holds the address and it is suppressed


def lookup_address(deps: Deps, kind: str, text: str) -> Address:
    """`text` as the stored form of an email or phone number. Raises PrefsError(invalid)."""
    value = lookup_email(text) if kind == "email" else lookup_phone(text, deps.phone_region)
    return Address(kind, value, deps.address_hash(kind, value))


def read_address(deps: Deps, text: str) -> Address | None:
    """The query as a normalised email or phone number, or None when it is neither."""
    try:
        if "@" in text:
            return lookup_address(deps, "email", text)
        if any(character.isdigit() for character in text):
            return lookup_address(deps, "phone", text)
    except PrefsError:
        return None
    return None


def live_recipients(recipient_id: str | None = None, address: Address | None = None) -> list[Recipient]:
    """The recipients, erased ones left out, whose id is `recipient_id` or who hold `address`; by id."""
    conditions = []
    if recipient_id is not None:
        conditions.append(Recipient.id == recipient_id)
    if address is not None:
        conditions.append(getattr(Recipient, address.kind) == address.value)
    if not conditions:
        return []
    statement = select(Recipient).where(Recipient.status != "erased", or_(*conditions)).order_by(Recipient.id)
    return list(db.session.execute(statement).scalars())


def search(deps: Deps, query: str) -> SearchResult:
    text = query.strip()[:MAX_QUERY_LENGTH]
    result = SearchResult(text)
    if not text:
        return result
    result.address = read_address(deps, text)
    result.recipients = live_recipients(text if is_recipient_id(text) else None, result.address)
    holds_address = result.address is not None and any(
        getattr(recipient, result.address.kind) == result.address.value for recipient in result.recipients
    )
    if result.address is not None and not holds_address:
        result.suppression = db.session.get(Suppression, result.address.hash)
    return result
