"""The history a console page shows: a person's consent events and the admin events, newest first, by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from ..models import AdminEvent
from ..runtime import runtime
from ..services.history import admin_events, consent_events_of
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


def consent_history(recipient_id: str, before: int | None, limit: int = PAGE_SIZE) -> Page[HistoryEntry]:
    events, older = consent_events_of(recipient_id, before, limit)
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
    events, older = admin_events(before, limit)
    return Page(events, older)
