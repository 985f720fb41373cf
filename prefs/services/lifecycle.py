"""The end of a person's data: export (GDPR Art. 20) and erasure (Art. 17)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..models import Choice, ConsentEvent, OutboundMail, ProviderEvent, ProviderSync, Recipient, utcnow
from ..suppression import AddressHasher
from .consent_records import consent_records
from .events import ChangeContext, record_event
from .forgetting import CONTACT_KINDS, forget_personal_data, forget_taken_signups
from .preferences import preference_matrix
from .provider_events import undeliverable_mark
from .provider_sync import forget_unneeded_failed_pushes
from .recipients import lock_recipient, readable_recipient
from .suppressions import SMS_STOP, suppress, suppression_sources


def export_recipient(deps: Deps, recipient_id: str, controller: str = "") -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data, their consent records (SPEC §14) included;
    `controller` is the brand's name. Raises PrefsError(not_found)."""
    recipient = readable_recipient(recipient_id)
    events = list(
        db.session.execute(
            select(ConsentEvent).where(ConsentEvent.recipient_id == recipient.id).order_by(ConsentEvent.id)
        ).scalars()
    )
    choices = db.session.execute(
        select(Choice).where(Choice.recipient_pk == recipient.pk).order_by(Choice.topic, Choice.channel)
    ).scalars()
    hashes = {kind: digest for kind, digest in (("email", recipient.email_hash), ("phone", recipient.phone_hash)) if digest}
    suppressed = suppression_sources(hashes.values())
    sms_stop = suppressed.get(recipient.phone_hash or "")
    dead = undeliverable_mark(recipient.email_hash)
    return {
        "exported_at": _iso(utcnow()),
        "recipient": {
            "id": recipient.id,
            "email": recipient.email,
            "phone": recipient.phone,
            "postal_address": recipient.postal_address,
            "locale": recipient.locale,
            "time_zone": recipient.time_zone,
            "status": recipient.status,
            "sms_stopped_at": _iso(sms_stop[1]) if sms_stop and sms_stop[0] == SMS_STOP else None,
            # What mail providers and browsers told us about the person (SPEC §15, §16).
            "email_undeliverable": None
            if dead is None
            else {"provider": dead.provider, "code": dead.code, "reported_at": _iso(dead.reported_at)},
            "do_not_sell_or_share_at": _iso(recipient.do_not_sell_at),
            # Made by a signup nobody has confirmed yet: no topic's default applies (decision.gets_default).
            "awaiting_confirmation": recipient.awaiting_confirmation,
            "created_at": _iso(recipient.created_at),
            "updated_at": _iso(recipient.updated_at),
        },
        "preferences": preference_matrix(deps, recipient),
        "choices": [
            {"topic": c.topic, "channel": c.channel, "subscribed": c.subscribed, "updated_at": _iso(c.updated_at)}
            for c in choices
        ],
        "suppressed": {kind: digest in suppressed for kind, digest in hashes.items()},
        "events": [event_to_dict(event) for event in events],
        "consents": consent_records(deps, recipient, controller),
        **_what_prefs_exchanged(recipient, _times_holding_email(recipient, events)),
    }


def _times_holding_email(recipient: Recipient, events: list[ConsentEvent]) -> list[tuple[datetime, datetime | None]]:
    """(from, until) of each time the recipient held the email address it holds now (until None: still), from
    the contact events that gave it and took it away (oldest first)."""
    times: list[tuple[datetime, datetime | None]] = []
    held_since: datetime | None = None
    for event in events:
        if event.kind not in CONTACT_KINDS or not isinstance(event.after, dict) or "email" not in event.after:
            continue
        if event.after["email"] == recipient.email and held_since is None:
            held_since = event.at
        elif event.after["email"] != recipient.email and held_since is not None:
            times.append((held_since, event.at))
            held_since = None
    if held_since is not None:
        times.append((held_since, None))
    return times or [(recipient.created_at, None)]


def _what_prefs_exchanged(
    recipient: Recipient, times_holding_email: list[tuple[datetime, datetime | None]]
) -> dict[str, list[dict[str, Any]]]:
    """What mail providers reported about the person's email address while they held it (reports about it
    before belong to its earlier holder: found in review), what prefs pushed to their lists, and the mails
    prefs sent them (found in review: "everything held" left these out)."""
    reports: list[ProviderEvent] = []
    if recipient.email_hash:
        held = or_(
            *(
                and_(ProviderEvent.received_at >= since, *([] if until is None else [ProviderEvent.received_at < until]))
                for since, until in times_holding_email
            )
        )
        reports = list(
            db.session.execute(
                select(ProviderEvent)
                .where(ProviderEvent.address_hash == recipient.email_hash, held)
                .order_by(ProviderEvent.received_at)
            ).scalars()
        )
    pushes = db.session.execute(
        select(ProviderSync).where(ProviderSync.recipient_id == recipient.id).order_by(ProviderSync.id)
    ).scalars()
    mails = db.session.execute(
        select(OutboundMail).where(OutboundMail.ordering_key == recipient.id).order_by(OutboundMail.id)
    ).scalars()
    return {
        "provider_reports": [
            {"provider": r.provider, "kind": r.kind, "outcome": r.outcome, "received_at": _iso(r.received_at)} for r in reports
        ],
        "provider_pushes": [
            {
                "target": p.target,
                "action": p.action,
                "state": p.status,
                "attempts": p.attempts,
                "created_at": _iso(p.created_at),
                "updated_at": _iso(p.updated_at),
            }
            for p in pushes
        ],  # fmt: skip
        "mails": [
            {
                "template": m.template,
                "state": m.status,
                "attempts": m.attempts,
                "created_at": _iso(m.created_at),
                "updated_at": _iso(m.updated_at),
            }
            for m in mails
        ],  # fmt: skip
    }


def erase_recipient(address_hash: AddressHasher, recipient_id: str, context: ChangeContext) -> bool:
    """Erase the person: personal data removed, addresses kept only as suppression hashes, the id kept as a
    tombstone, events kept without personal fields. Returns False when already erased.

    Raises PrefsError(not_found) for an unknown id.
    """
    locked = lock_recipient(recipient_id)
    if locked is None:
        raise PrefsError("not_found", "No such recipient.")
    if locked.status == "erased":
        return False
    # Suppress first: the addresses must never be mailed again, whoever adds them next. A number that
    # texted STOP keeps that source (suppress never replaces one), so its next holder gets no texts either.
    if locked.email:
        suppress(address_hash, "email", locked.email, "erasure")
    forget_unneeded_failed_pushes(locked.id, locked.email_hash)
    if locked.phone:
        suppress(address_hash, "phone", locked.phone, "erasure")
    db.session.execute(delete(Choice).where(Choice.recipient_pk == locked.pk))
    db.session.execute(
        update(Recipient)
        .where(Recipient.pk == locked.pk)
        .values(
            email=None,
            phone=None,
            email_hash=None,
            phone_hash=None,
            postal_address=None,
            locale=None,
            time_zone=None,
            status="erased",
            updated_at=utcnow(),
        )  # fmt: skip
    )
    forget_personal_data(locked.id, "the recipient was erased")
    forget_taken_signups(locked.id)  # their history held this person's address until it was taken
    # Who erased is kept; the reason is not: it is free text about the erased person like any other.
    record_event(ChangeContext(context.actor), locked.id, "erased", before=locked.status, after="erased")
    return True


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
