"""What prefs forgets of a recipient whose personal data must go (services/lifecycle.py): the erased person's,
and what every unconfirmed signup whose address their record took (services/recipients.py, release_address)
held until then: that address, and the IP of whoever typed it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import ConsentEvent, ConsentRequest, Recipient
from .insights import forget_message_ids
from .mail import cancel_mail_to

# Erasure keeps the fact of each event (kind, time, actor type, topic, channel, the choice's before and
# after) and nothing typed by a person: reasons, evidence wording and sources, message ids and import file
# names are free text that can name the person ("Margaret called from 415-555-0779"). Only these evidence
# keys, which hold machine-made values, stay.
IMPERSONAL_EVIDENCE = ("collected_at",)
# Whose actor_id names the one who acted for the business (a staff member, an API key), not the person.
ACCOUNTABLE_ACTORS = ("staff", "api", "system")
# Event kinds whose before/after hold contact data. An import's also hold the choices it changed ("topic:channel"
# cells), which are kept like every other choice's before and after: the insights count them (services/insights.py).
CONTACT_KINDS = ("recipient_created", "contact_changed", "imported")


def forget_personal_data(recipient_id: str, why: str) -> None:
    """The recipient's history keeps its shape without their data, their consent requests go, and mail queued
    for them is cancelled (`why` says so on its receipt)."""
    forget_message_ids(recipient_id)  # the insights' counts by message id must not keep what stripping removes
    strip_events(recipient_id)
    forget_requests(recipient_id)  # pending double opt-ins: their evidence holds IP and user agent
    cancel_mail_to(recipient_id, why)  # queued mail (a confirmation, a preference link) must not reach them


def forget_taken_signups(taker_id: str) -> None:
    """The taker is erased: each signup whose address its record took forgets what it held until that release:
    its events up to the release's, its consent requests made and mail queued before it. What that record
    holds since is someone else's (the client may have written it since: found in review, all of it went)."""
    signups = db.session.execute(
        select(Recipient.id, ConsentEvent.id, ConsentEvent.at)
        .join(ConsentEvent, ConsentEvent.id == Recipient.address_taken_at_event)
        .where(Recipient.address_taken_by == taker_id)
    ).all()
    for signup, release_event, released_at in signups:
        strip_events(signup, through=release_event)
        db.session.execute(
            delete(ConsentRequest).where(ConsentRequest.recipient_id == signup, ConsentRequest.requested_at <= released_at)
        )
        cancel_mail_to(signup, "its address went to a recipient since erased", queued_through=released_at)


def forget_requests(recipient_id: str) -> None:
    """The recipient's pending and past consent requests (their evidence holds IP and user agent) go."""
    db.session.execute(delete(ConsentRequest).where(ConsentRequest.recipient_id == recipient_id))


def strip_events(recipient_id: str, through: int | None = None) -> None:
    """Keep the history's shape (when, what kind, which actor type, which topic) but none of the person's
    data and no free text; with `through`, of the events up to that id only."""
    up_to = [] if through is None else [ConsentEvent.id <= through]
    events = db.session.execute(
        select(
            ConsentEvent.id,
            ConsentEvent.kind,
            ConsentEvent.actor,
            ConsentEvent.actor_id,
            ConsentEvent.reason,
            ConsentEvent.evidence,
            ConsentEvent.before,
            ConsentEvent.after,
        ).where(ConsentEvent.recipient_id == recipient_id, *up_to)
    ).all()
    for event_id, kind, actor, actor_id, reason, evidence, before, after in events:
        values: dict[str, Any] = {}
        if kind in CONTACT_KINDS:
            # An update keeps an empty `before` (not None, which says "created"): a replay re-derives the
            # webhook type from it (found in review: an imported update was replayed as recipient.created).
            values["before"] = None if before is None else (_choice_cells(before) or {})
            values["after"] = _choice_cells(after)
        if reason is not None:
            values["reason"] = None
        if actor_id is not None and actor not in ACCOUNTABLE_ACTORS:
            values["actor_id"] = None
        if evidence:
            kept = {k: v for k, v in evidence.items() if k in IMPERSONAL_EVIDENCE}
            if kept != evidence:
                values["evidence"] = kept or None
        if values:
            db.session.execute(update(ConsentEvent).where(ConsentEvent.id == event_id).values(**values))


def _choice_cells(value: Any) -> dict[str, Any] | None:
    """Of a contact event's before or after, only the choices it records ("topic:channel" cells, an import's),
    or None: the contact data goes."""
    if not isinstance(value, dict):
        return None
    cells = {key: cell for key, cell in value.items() if ":" in key}
    return cells or None
