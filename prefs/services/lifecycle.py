"""The end of a person's data: export (GDPR Art. 20) and erasure (Art. 17)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from ..errors import PrefsError
from ..extensions import db
from ..models import Choice, ConsentEvent, Recipient, utcnow
from .events import ChangeContext, record_event
from .preferences import preference_matrix
from .recipients import lock_recipient, readable_recipient
from .suppressions import suppress, suppressed_hashes

# Evidence keys that say how consent was given without saying who gave it; erasure keeps only these.
IMPERSONAL_EVIDENCE = ("collected_at", "source", "wording", "version", "message_id")
# Event kinds whose before/after hold contact data.
CONTACT_KINDS = ("recipient_created", "contact_changed", "imported")


def export_recipient(recipient_id: str) -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data. Raises PrefsError(not_found)."""
    recipient = readable_recipient(recipient_id)
    events = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.recipient_id == recipient.id).order_by(ConsentEvent.id)
    ).scalars()
    choices = db.session.execute(select(Choice).where(Choice.recipient_pk == recipient.pk).order_by(Choice.topic, Choice.channel)).scalars()
    hashes = {kind: digest for kind, digest in (("email", recipient.email_hash), ("phone", recipient.phone_hash)) if digest}
    suppressed = suppressed_hashes(hashes.values())
    return {
        "exported_at": _iso(utcnow()),
        "recipient": {
            "id": recipient.id,
            "email": recipient.email,
            "phone": recipient.phone,
            "postal_address": recipient.postal_address,
            "locale": recipient.locale,
            "status": recipient.status,
            "sms_stopped_at": _iso(recipient.sms_stopped_at),
            "created_at": _iso(recipient.created_at),
            "updated_at": _iso(recipient.updated_at),
        },
        "preferences": preference_matrix(recipient),
        "choices": [
            {"topic": c.topic, "channel": c.channel, "subscribed": c.subscribed, "updated_at": _iso(c.updated_at)} for c in choices
        ],
        "suppressed": {kind: digest in suppressed for kind, digest in hashes.items()},
        "events": [event_to_dict(event) for event in events],
    }


def erase_recipient(recipient_id: str, context: ChangeContext) -> bool:
    """Erase the person: personal data removed, addresses kept only as suppression hashes, the id kept as a
    tombstone, events kept without personal fields. Returns False when already erased.

    Raises PrefsError(not_found) for an unknown id.
    """
    locked = lock_recipient(recipient_id)
    if locked is None:
        raise PrefsError("not_found", "No such recipient.")
    if locked.status == "erased":
        return False
    # Suppress first: the addresses must never be mailed again, whoever adds them next.
    if locked.email:
        suppress("email", locked.email, "erasure")
    if locked.phone:
        suppress("phone", locked.phone, "erasure")
    db.session.execute(delete(Choice).where(Choice.recipient_pk == locked.pk))
    db.session.execute(
        update(Recipient)
        .where(Recipient.pk == locked.pk)
        .values(
            email=None, phone=None, email_hash=None, phone_hash=None, postal_address=None, locale=None,
            sms_stopped_at=None, status="erased", updated_at=utcnow(),
        )  # fmt: skip
    )
    _strip_events(locked.id)
    record_event(context, locked.id, "erased", before=locked.status, after="erased")
    return True


def _strip_events(recipient_id: str) -> None:
    """Keep the history's shape (who, when, what kind, which topic) but none of the person's data."""
    events = db.session.execute(
        select(ConsentEvent.id, ConsentEvent.kind, ConsentEvent.evidence).where(ConsentEvent.recipient_id == recipient_id)
    ).all()
    for event_id, kind, evidence in events:
        values: dict[str, Any] = {}
        if kind in CONTACT_KINDS:
            values["before"] = None
            values["after"] = None
        if evidence:
            kept = {k: v for k, v in evidence.items() if k in IMPERSONAL_EVIDENCE}
            if kept != evidence:
                values["evidence"] = kept or None
        if values:
            db.session.execute(update(ConsentEvent).where(ConsentEvent.id == event_id).values(**values))


def event_to_dict(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": _iso(event.at),
        "recipient_id": event.recipient_id,
        "actor": event.actor,
        "actor_id": event.actor_id,
        "via": event.via,
        "kind": event.kind,
        "topic": event.topic,
        "channel": event.channel,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "evidence": event.evidence,
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; every stored time is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
