"""The history a console page shows: a person's consent events and the admin events, newest first, by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from ..extensions import db
from ..models import AdminEvent, ConsentEvent
from ..runtime import runtime
from .wording import actor_words, event_words, evidence_items, via_words

PAGE_SIZE = 25
T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    older: int | None  # pass as `before` to get the next (older) page; None on the last page


@dataclass
class HistoryEntry:
    id: int
    at: datetime
    who: str
    via: str
    what: str
    reason: str | None
    evidence: list[tuple[str, str]]


def parse_before(raw: str | None) -> int | None:
    """A `before` cursor from the query string: a positive event id, else None (the newest page)."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _page(statement, id_column, before: int | None, limit: int) -> tuple[list[Any], int | None]:
    if before is not None:
        statement = statement.where(id_column < before)
    rows = list(db.session.execute(statement.order_by(id_column.desc()).limit(limit + 1)).scalars())
    older = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], older


def consent_history(recipient_id: str, before: int | None, limit: int = PAGE_SIZE) -> Page[HistoryEntry]:
    statement = select(ConsentEvent).where(ConsentEvent.recipient_id == recipient_id)
    events, older = _page(statement, ConsentEvent.id, before, limit)
    names = {key: rule.name for key, rule in runtime().catalogue.all().items()}
    entries = [
        HistoryEntry(
            id=event.id,
            at=event.at,
            who=actor_words(event.actor, event.actor_id),
            via=via_words(event.via),
            what=event_words(event.kind, event.topic, event.channel, event.before, event.after, names),
            reason=event.reason,
            evidence=evidence_items(event.evidence),
        )
        for event in events
    ]
    return Page(entries, older)


def admin_history(before: int | None, limit: int = PAGE_SIZE) -> Page[AdminEvent]:
    events, older = _page(select(AdminEvent), AdminEvent.id, before, limit)
    return Page(events, older)
