"""Writing consent events: the append-only audit trail of SPEC §2."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, text

from ..extensions import db
from ..models import ConsentEvent, utcnow

_events = ConsentEvent.__table__
_INSERT_EVENT = insert(_events)
_TAKE_EVENT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
# Any constant will do; it names the lock that orders event writes on PostgreSQL.
EVENT_WRITE_LOCK = 0x70726566


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change and through what: SPEC §2's actor, actor_id and via."""

    kind: str  # recipient, staff, api, sms, email, import, system
    id: str | None
    via: str  # one_click, confirm_page, preference_center, keyword:STOP, console, api, ...


@dataclass(frozen=True, slots=True)
class ChangeContext:
    actor: Actor
    reason: str | None = None
    evidence: dict[str, Any] | None = None


def serialise_event_writes() -> None:
    """Make event ids follow commit order, so the change feed never skips an event.

    On PostgreSQL a sequence hands out ids in call order, not commit order; a transaction-scoped advisory
    lock taken before the first event insert makes writers commit in id order. SQLite has one writer anyway.
    Idempotent within a transaction (advisory locks nest and all end with the transaction).
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_TAKE_EVENT_LOCK, {"key": EVENT_WRITE_LOCK})


def record_event(
    context: ChangeContext,
    recipient_id: str,
    kind: str,
    *,
    topic: str | None = None,
    channel: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one event. A Core insert: no ORM unit of work on the write paths' hot end."""
    serialise_event_writes()
    db.session.connection().execute(
        _INSERT_EVENT,
        dict(
            at=utcnow(),
            recipient_id=recipient_id,
            actor=context.actor.kind,
            actor_id=context.actor.id,
            via=context.actor.via,
            kind=kind,
            topic=topic,
            channel=channel,
            before=before,
            after=after,
            reason=context.reason,
            evidence=context.evidence,
        ),
    )
