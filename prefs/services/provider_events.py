"""What mail providers tell us (SPEC §15): hard bounces, soft bounces, spam complaints, unsubscribes they
recorded. One meaning for all four providers; the webhooks (prefs/webhooks/providers.py) only verify each
provider's signature and read its payload into `ProviderEvent`s.

- A hard bounce makes the email address undeliverable (decision rule 6a: no email at all, mandatory
  included) until support clears it or the recipient's address changes. The mark belongs to the address
  (its keyed hash), so a changed address leaves it behind on every path that writes contact data.
- A spam complaint stops all marketing by email: a channel stop, actor `provider`, via `complaint:<provider>`.
- An unsubscribe the provider recorded (list-unsubscribe, group unsubscribe, a subscription change) is
  applied like a one-click on a link without a topic: all marketing by email stops.
- A soft bounce is recorded, nothing more.
- For an address nobody holds, a hard bounce, complaint or unsubscribe leaves a suppression (source
  `bounce:<provider>`, `complaint:<provider>` or `unsubscribe:<provider>`), and a hard bounce also marks
  the address undeliverable, so whoever is given that address next gets no mail sent into the void.

Each event is applied once: its provider's own id is stored (provider_events) in the transaction of the
change, so a replay, however late, changes nothing twice. That row also says which provider reported what
about which address hash, for the outbound sync, which must never push a report back to its reporter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..addresses import lookup_email
from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..models import MailgunToken, Recipient, UndeliverableAddress, utcnow
from ..models import ProviderEvent as ProviderEventRow
from ..storable_text import problem
from ..tokens import LinkTarget
from .events import Actor, ChangeContext, record_event
from .insights import provider_reported
from .preferences import PreferenceChange, apply_preference_changes
from .recipients import RecipientRow, writable_recipient
from .suppressions import suppress
from .unsubscribe import unsubscribe

PROVIDERS = ("sendgrid", "mailgun", "postmark", "ses")
PROVIDER_NAMES = {"sendgrid": "SendGrid", "mailgun": "Mailgun", "postmark": "Postmark", "ses": "Amazon SES"}

HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"
UNSUBSCRIBE = "unsubscribe"
KINDS = (HARD_BOUNCE, SOFT_BOUNCE, COMPLAINT, UNSUBSCRIBE)
# The suppression source (and the consent event's via) each kind leaves, before ":<provider>".
_SOURCE = {HARD_BOUNCE: "bounce", COMPLAINT: "complaint", UNSUBSCRIBE: "unsubscribe"}

# What an event did (provider_events.outcome), and what the webhook answers per event.
APPLIED = "applied"  # the recipient's data changed (an event says so)
UNCHANGED = "unchanged"  # the recipient was so already
SUPPRESSED = "suppressed"  # nobody holds the address: it is on the suppression list (now or already)
RECORDED = "recorded"  # a soft bounce: kept, nothing more
IGNORED = "ignored"  # not an email address, or a recipient erased meanwhile
DUPLICATE = "duplicate"  # applied before: nothing done (not stored again)
OUTCOMES = (APPLIED, UNCHANGED, SUPPRESSED, RECORDED, IGNORED, DUPLICATE)

MAILGUN_TOKENS_KEPT = timedelta(days=1)  # a signature is good for 5 minutes (MAILGUN_MAX_AGE_SECONDS) either way
MAX_EVENT_ID = 128  # longer provider ids are stored as their SHA-256
UNDELIVERABLE_KIND = "undeliverable"  # the consent event kind of the mark being set (after True) or cleared


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One thing a provider reported about one address, in no provider's vocabulary."""

    provider: str  # one of PROVIDERS
    event_id: str  # the provider's own id for it: the same on every retry
    kind: str  # one of KINDS
    email: str  # as the provider wrote it
    code: str | None = None  # the provider's classification of a bounce (e.g. 5.1.1, NoEmail), kept with the mark


@dataclass(frozen=True, slots=True)
class UndeliverableMark:
    provider: str
    code: str | None
    reported_at: datetime


def stored_event_id(event_id: str) -> str:
    """The provider's id as stored: itself, or its SHA-256 when longer than the column or holding text the
    database cannot store (a NUL; the same id on a retry, so a replay is still found)."""
    if len(event_id) <= MAX_EVENT_ID and problem(event_id) is None:
        return event_id
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()


def stored_code(code: str | None) -> str | None:
    """A bounce's classification as kept with the mark: at most 32 characters, none when it cannot be stored."""
    return code[:32] if code and problem(code) is None else None


def mailgun_signature_vouches(token: str, event_data: Any) -> bool:
    """Whether a Mailgun signature (already checked: fresh, and made with the signing key) may vouch for this
    event. Mailgun signs its timestamp and token, never the event, so anyone who saw one signed request (another
    receiver of the account's webhooks, a log) could send any other event with it while it is fresh. The first
    use of a token is remembered with its event; the same event again is a retry (good), another one is not.
    In a transaction of its own: a concurrent first use waits for the other on the key, then reads it."""
    token_hash = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    digest = hashlib.sha256(json.dumps(event_data, sort_keys=True).encode()).hexdigest()
    added = db.session.execute(
        _insert()(MailgunToken)
        .values(token_hash=token_hash, event_digest=digest, seen_at=utcnow())
        .on_conflict_do_nothing(index_elements=["token_hash"])
        .returning(MailgunToken.token_hash)
    ).first()
    if added is not None:
        return True
    first = db.session.execute(select(MailgunToken.event_digest).where(MailgunToken.token_hash == token_hash)).scalar_one()
    return first == digest


def apply_provider_event(deps: Deps, event: ProviderEvent) -> str:
    """Apply one event unless it was applied before; returns its outcome (OUTCOMES). Run it in a unit of work
    of its own: the change and the remembered id commit together. A duplicate raced in by a concurrent
    delivery fails the id's primary key, and the unit of work's retry then finds it (DUPLICATE)."""
    event_id = stored_event_id(event.event_id)
    try:
        address: str | None = lookup_email(event.email)
    except PrefsError:
        address = None
    digest = deps.address_hash("email", address) if address is not None else None
    holder = _holder(address) if address is not None else None
    # The recipient's lock first, as on every write path, then the remembered id: a duplicate waits for the
    # first delivery's commit and then sees its row.
    recipient = writable_recipient(holder) if holder is not None else None
    if recipient is not None and recipient.email_hash != digest:  # the address changed hands meanwhile
        recipient = None
    if _seen(event.provider, event_id):
        return DUPLICATE
    if address is None or digest is None:
        outcome = IGNORED
    elif event.kind == SOFT_BOUNCE:
        outcome = RECORDED
    elif recipient is None:
        outcome = _unknown_address(deps, event, address, digest)
    else:
        outcome = _known_recipient(deps, event, recipient, digest)
    db.session.add(
        ProviderEventRow(provider=event.provider, event_id=event_id, kind=event.kind, address_hash=digest, outcome=outcome)
    )
    if event.kind in _SOURCE:  # the insights count bounce and complaint reports, whatever they changed
        provider_reported(event.kind, f"{_SOURCE[event.kind]}:{event.provider}")
    db.session.flush()
    return outcome


def _holder(address: str) -> str | None:
    """The id of the live recipient holding this email address, if any (an erased one holds none)."""
    return db.session.execute(
        select(Recipient.id).where(Recipient.email == address, Recipient.status != "erased")
    ).scalar_one_or_none()


def _seen(provider: str, event_id: str) -> bool:
    return (
        db.session.execute(
            select(ProviderEventRow.kind).where(ProviderEventRow.provider == provider, ProviderEventRow.event_id == event_id)
        ).first()
        is not None
    )


def _context(event: ProviderEvent) -> ChangeContext:
    return ChangeContext(Actor("provider", event.provider, f"{_SOURCE[event.kind]}:{event.provider}"))


def _unknown_address(deps: Deps, event: ProviderEvent, address: str, digest: str) -> str:
    suppress(deps.address_hash, "email", address, f"{_SOURCE[event.kind]}:{event.provider}")
    if event.kind == HARD_BOUNCE:
        _mark(digest, event)
    return SUPPRESSED


def _known_recipient(deps: Deps, event: ProviderEvent, recipient: RecipientRow, digest: str) -> str:
    context = _context(event)
    if event.kind == HARD_BOUNCE:
        if not _mark(digest, event):
            return UNCHANGED
        record_event(context, recipient.id, UNDELIVERABLE_KIND, channel="email", before=False, after=True)
        return APPLIED
    if event.kind == COMPLAINT:
        changed = apply_preference_changes(deps.catalogue, recipient, [PreferenceChange(False, None, "email")], context)
        return APPLIED if changed else UNCHANGED
    # UNSUBSCRIBE: the one-click's own path, for a link that names no topic (all marketing by email).
    _, changed_any = unsubscribe(deps.catalogue, LinkTarget(recipient.id, "email"), context)
    return APPLIED if changed_any else UNCHANGED


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _mark(digest: str, event: ProviderEvent) -> bool:
    """Mark the address undeliverable; False when it was already (the first report stays)."""
    added = db.session.execute(
        _insert()(UndeliverableAddress)
        .values(hash=digest, provider=event.provider, code=stored_code(event.code), reported_at=utcnow())
        .on_conflict_do_nothing(index_elements=["hash"])
        .returning(UndeliverableAddress.hash)
    ).first()
    return added is not None


def undeliverable_mark(email_hash: str | None) -> UndeliverableMark | None:
    """The mark on an email address (by its hash), for the console and the API."""
    if email_hash is None:
        return None
    row = db.session.get(UndeliverableAddress, email_hash)
    return None if row is None else UndeliverableMark(row.provider, row.code, row.reported_at)


def clear_undeliverable(recipient_id: str, context: ChangeContext) -> bool:
    """Support says the recipient's email address works again: the mark goes, as a consent event with the
    context's reason. Returns whether there was one. Raises PrefsError: not_found, erased."""
    recipient = writable_recipient(recipient_id)
    if recipient.email_hash is None:
        return False
    removed = db.session.execute(
        delete(UndeliverableAddress).where(UndeliverableAddress.hash == recipient.email_hash).returning(UndeliverableAddress.hash)
    ).first()
    if removed is None:
        return False
    record_event(context, recipient.id, UNDELIVERABLE_KIND, channel="email", before=True, after=False)
    return True
