"""Writing consent events: the append-only audit trail of SPEC §2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..db.driver import DriverSql
from ..db.statements import (
    INSERT_EVENT,
    INSERT_EVENT_WITH_OUTBOX_POSTGRES,
    INSERT_OUTBOX_FOR_LAST_EVENT_SQLITE,
    LOCK_EVENT_WRITES,
)
from ..models import utcnow
from ..tokens import LinkTarget
from .outbox import webhook_type

# Any constant will do; it names the lock that orders event writes on PostgreSQL.
EVENT_WRITE_LOCK = 0x70726566
IMPORT_WRITE_LOCK = 0x70726567  # one import batch written at a time (services/imports.py)


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
    link: LinkTarget | None = None  # the signed link the person acts through, which limits what it may do


def serialise_event_writes(sql: DriverSql | None = None) -> None:
    """Make event ids follow commit order, so the change feed never skips an event.

    On PostgreSQL a sequence hands out ids in call order, not commit order; a transaction-scoped advisory
    lock taken before the first event insert makes writers commit in id order. SQLite has one writer anyway.
    Idempotent within a transaction (advisory locks nest and all end with the transaction).
    """
    sql = sql or DriverSql()
    if sql.postgres:
        sql.execute(LOCK_EVENT_WRITES, (EVENT_WRITE_LOCK,))


def record_event(
    context: ChangeContext,
    recipient_id: str,
    kind: str,
    *,
    topic: str | None = None,
    channel: str | None = None,
    before: Any = None,
    after: Any = None,
    sql: DriverSql | None = None,
) -> None:
    """Append one event and, when webhooks have a type for it, its outbox message (plain SQL: it is on the
    one-click path; one statement on PostgreSQL)."""
    sql = sql or DriverSql()
    serialise_event_writes(sql)
    actor = context.actor
    now = utcnow()
    row = (sql.time(now), recipient_id, actor.kind, actor.id, actor.via, kind, topic, channel,
           sql.json(before), sql.json(after), context.reason, sql.json(context.evidence))  # fmt: skip
    type_ = webhook_type(kind, before, after)
    if type_ is None:
        sql.execute(INSERT_EVENT, row)
    elif sql.postgres:
        sql.execute(INSERT_EVENT_WITH_OUTBOX_POSTGRES, (*row, type_))
    else:
        sql.execute(INSERT_EVENT, row)
        sql.execute(INSERT_OUTBOX_FOR_LAST_EVENT_SQLITE, (type_, recipient_id, sql.time(now)))
