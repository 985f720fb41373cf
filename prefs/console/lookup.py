"""Finding a person from one search box: a recipient id, an email, or a phone number as people type it.

Reads only: the box's text is normalised the way the API stores addresses (emails lower-cased, phones to
E.164 with the configured default region), so "(415) 555-0123" finds +14155550123.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..addresses import is_recipient_id, lookup_email, lookup_phone
from ..errors import PrefsError
from ..extensions import db
from ..models import Recipient, Suppression
from ..runtime import runtime

MAX_QUERY_LENGTH = 320
SUPPRESSION_TARGET_LENGTH = 16  # admin events name a suppression by this much of its hash, never the address


@dataclass
class Address:
    kind: str  # email or phone
    value: str  # normalised

    @property
    def hash(self) -> str:
        return runtime().address_hash(self.kind, self.value)

    @property
    def words(self) -> str:
        return "email address" if self.kind == "email" else "phone number"


@dataclass
class SearchResult:
    query: str
    recipients: list[Recipient] = field(default_factory=list)
    address: Address | None = None  # the query read as an address
    suppression: Suppression | None = None  # set when no recipient holds the address and it is suppressed


def read_address(text: str) -> Address | None:
    """The query as a normalised email or phone number, or None when it is neither."""
    try:
        if "@" in text:
            return Address("email", lookup_email(text))
        if any(character.isdigit() for character in text):
            return Address("phone", lookup_phone(text, runtime().phone_region))
    except PrefsError:
        return None
    return None


def search(query: str) -> SearchResult:
    text = query.strip()[:MAX_QUERY_LENGTH]
    result = SearchResult(text)
    if not text:
        return result
    conditions = []
    if is_recipient_id(text):
        conditions.append(Recipient.id == text)
    result.address = read_address(text)
    if result.address is not None:
        conditions.append(getattr(Recipient, result.address.kind) == result.address.value)
    if conditions:
        statement = select(Recipient).where(Recipient.status != "erased", db.or_(*conditions)).order_by(Recipient.id)
        result.recipients = list(db.session.execute(statement).scalars())
    holds_address = result.address is not None and any(
        getattr(recipient, result.address.kind) == result.address.value for recipient in result.recipients
    )
    if result.address is not None and not holds_address:
        result.suppression = db.session.get(Suppression, result.address.hash)
    return result


def suppression_target(digest: str) -> str:
    return digest[:SUPPRESSION_TARGET_LENGTH]
