"""The transactional outbox (SPEC §12): what must leave the service is written in the transaction of the
change that causes it, so a committed change always leaves its message and a rolled-back one never does.

Consent events get their message where they are written (services/events.py, services/imports.py), in the
same statement on PostgreSQL; everything else that must go out calls `enqueue`. The worker
(services/delivery.py) fans each message out to the endpoints that want it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..db.driver import DriverSql
from ..db.statements import DELIVERY_BACKLOG, INSERT_OUTBOX, OUTBOX_BACKLOG
from ..metrics import Backlog
from ..models import utcnow

# SPEC §13's event types, in the order the API documents them.
EVENT_TYPES = (
    "preference.updated",
    "recipient.created",
    "recipient.updated",
    "recipient.deactivated",
    "recipient.reactivated",
    "recipient.erased",
    "suppression.added",
    "suppression.removed",
    "consent.requested",
    "consent.confirmed",
    "sms.stopped",
    "sms.started",
)
_BY_KIND = {
    "topic_choice": "preference.updated",
    "channel_stop": "preference.updated",
    "all_marketing": "preference.updated",
    "recipient_created": "recipient.created",
    "contact_changed": "recipient.updated",
    "erased": "recipient.erased",
    "suppression_lifted": "suppression.removed",
    "undeliverable": "recipient.updated",  # a provider reported the email address dead, or support cleared that
    "do_not_sell_or_share": "preference.updated",  # Global Privacy Control, or the page's own box (SPEC §16)
    "consent_requested": "consent.requested",  # a double opt-in waits for the person's confirmation (SPEC §14)
    "consent_confirmed": "consent.confirmed",  # the person confirmed it through the mailed link
}


def webhook_type(kind: str, before: Any, after: Any) -> str | None:
    """The webhook event type of a consent event (SPEC §13), or None for a kind no type covers."""
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    if kind == "imported":
        if before is None:
            return "recipient.created"
        # A row that changed choices ("topic:channel" keys; contact fields have no colon) is a preference change,
        # even with contact changes beside them: an opt-out by import must reach preference.updated's subscribers.
        return "preference.updated" if any(":" in key for key in after or ()) else "recipient.updated"
    if kind == "status_changed":
        return {"deactivated": "recipient.deactivated", "active": "recipient.reactivated"}.get(after)
    if kind == "sms_stop":
        return "sms.stopped" if after else "sms.started"
    return None


def enqueue(type_: str, ordering_key: str, payload: dict[str, Any], sql: DriverSql | None = None, kind: str = "event") -> None:
    """Queue a message that is not a consent event, in the current transaction. `ordering_key` groups the
    messages that must arrive in commit order (one recipient's, or one address's). `kind` is "event" for
    webhooks, "sync" for the mail providers' suppression lists (services/provider_sync.py)."""
    sql = sql or DriverSql()
    sql.execute(INSERT_OUTBOX, (kind, type_, None, ordering_key[:128], sql.json(payload), sql.time(utcnow())))


def backlog(now: datetime) -> Backlog:
    """How much waits to leave and for how long (the metrics scrape; docs/operations.md's outbox alerts)."""
    sql = DriverSql()
    ((outbox_count, outbox_oldest),) = sql.rows(OUTBOX_BACKLOG)
    ((pending_count, pending_oldest),) = sql.rows(DELIVERY_BACKLOG, (True,))

    def age(oldest: Any) -> float:
        moment = sql.read_time(oldest)
        if moment is None:
            return 0.0
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return max(0.0, (now - moment).total_seconds())

    return Backlog(int(outbox_count), age(outbox_oldest), int(pending_count), age(pending_oldest))
