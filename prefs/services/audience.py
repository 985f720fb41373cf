"""Global Privacy Control and the audience check (SPEC §16).

A person may opt out of the sale or sharing of their personal information (CCPA/CPRA "Do Not Sell or Share";
Global Privacy Control is that opt-out sent by the browser as `Sec-GPC: 1`). The opt-out is stored on the
recipient with one consent event (kind `do_not_sell_or_share`, via `gpc` or `preference_center`); the
audience check answers whether a person may be uploaded to an advertising audience, which is what "sharing"
means for a mailer (SPEC §16: "for ad-audience uploads").

The audience rule, first match wins: an unknown person whose address is suppressed → `suppressed`; unknown →
`unknown_recipient`; deactivated / erased → `deactivated` / `erased`; an address of theirs suppressed →
`suppressed`; opted out → `do_not_sell_or_share`; else allowed, `no_opt_out`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..addresses import lookup_email, lookup_phone
from ..extensions import db
from ..models import Recipient, utcnow
from ..suppression import AddressHasher
from .events import ChangeContext, record_event
from .recipients import writable_recipient
from .suppressions import suppression_sources

DO_NOT_SELL = "do_not_sell_or_share"  # the consent event's kind and the audience check's reason
AUDIENCE_REASONS = ("no_opt_out", DO_NOT_SELL, "suppressed", "unknown_recipient", "deactivated", "erased")


@dataclass(frozen=True, slots=True)
class AudienceAnswer:
    allowed: bool
    reason: str
    recipient_id: str | None

    def to_dict(self) -> dict[str, object]:
        return {"allowed": self.allowed, "reason": self.reason, "recipient_id": self.recipient_id}


def set_do_not_sell(recipient_id: str, opted_out: bool, context: ChangeContext) -> bool:
    """Record the person's opt-out of sale and sharing (or their taking it back). Returns whether it changed:
    a signal repeated on every page view is recorded once. Raises PrefsError: not_found, erased."""
    recipient = writable_recipient(recipient_id)
    stored = db.session.execute(select(Recipient.do_not_sell_at).where(Recipient.pk == recipient.pk)).scalar_one()
    if (stored is not None) == opted_out:
        return False
    db.session.execute(
        update(Recipient).where(Recipient.pk == recipient.pk).values(do_not_sell_at=utcnow() if opted_out else None)
    )
    record_event(context, recipient.id, DO_NOT_SELL, before=not opted_out, after=opted_out)
    return True


def opted_out_of_sale(recipient_pk: int) -> bool:
    return db.session.execute(select(Recipient.do_not_sell_at).where(Recipient.pk == recipient_pk)).scalar_one() is not None


def audience_check(address_hash: AddressHasher, region: str, by: str, value: str) -> AudienceAnswer:
    """May this person go into an advertising audience? `by` is recipient_id, email or phone (the API's schema
    checked its shape). Raises PrefsError(invalid) for an address that is not one."""
    column = {"recipient_id": Recipient.id, "email": Recipient.email, "phone": Recipient.phone}[by]
    key = value if by == "recipient_id" else lookup_email(value) if by == "email" else lookup_phone(value, region)
    recipient = db.session.execute(select(Recipient).where(column == key)).scalar_one_or_none()
    if recipient is None:
        asked = None if by == "recipient_id" else address_hash(by, key)
        if asked is not None and suppression_sources([asked]):
            return AudienceAnswer(False, "suppressed", None)
        return AudienceAnswer(False, "unknown_recipient", key if by == "recipient_id" else None)
    if recipient.status != "active":
        return AudienceAnswer(False, "erased" if recipient.status == "erased" else "deactivated", recipient.id)
    hashes = [digest for digest in (recipient.email_hash, recipient.phone_hash) if digest]
    if hashes and suppression_sources(hashes):
        return AudienceAnswer(False, "suppressed", recipient.id)
    if recipient.do_not_sell_at is not None:
        return AudienceAnswer(False, DO_NOT_SELL, recipient.id)
    return AudienceAnswer(True, "no_opt_out", recipient.id)
