"""Reading the audit trails: consent events (a person's, or everyone's in commit order) and admin events."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select

from ..extensions import db
from ..models import AdminEvent, ConsentEvent


class Page(NamedTuple):
    """Events newest first, and the cursor for the next (older) page: pass it as `before`; None on the last page."""

    events: list[Any]
    older: int | None


def _newest_first(statement, id_column, before: int | None, limit: int) -> Page:
    if before is not None:
        statement = statement.where(id_column < before)
    rows = list(db.session.execute(statement.order_by(id_column.desc()).limit(limit + 1)).scalars())
    return Page(rows[:limit], rows[limit - 1].id if len(rows) > limit else None)


def consent_events_of(recipient_id: str, before: int | None, limit: int) -> Page:
    """One person's consent events older than event `before` (all, when None), newest first."""
    return _newest_first(select(ConsentEvent).where(ConsentEvent.recipient_id == recipient_id), ConsentEvent.id, before, limit)


def admin_events(before: int | None, limit: int) -> Page:
    """Admin events older than event `before` (all, when None), newest first."""
    return _newest_first(select(AdminEvent), AdminEvent.id, before, limit)


def consent_events_after(after: int, limit: int) -> list[ConsentEvent]:
    """Every person's consent events after event `after`, oldest first. Never skips one: event ids follow
    commit order (services/events.py), so an id seen here means every smaller id is already visible."""
    statement = select(ConsentEvent).where(ConsentEvent.id > after).order_by(ConsentEvent.id).limit(limit)
    return list(db.session.execute(statement).scalars())
