"""GET /events: every consent event in commit order, for syncing suppression lists elsewhere."""

from __future__ import annotations

from ..services.history import consent_events_after
from .auth import authorized
from .blueprint import blp
from .schemas import FeedPageSchema, FeedQuerySchema


@blp.route("/events", methods=["GET"])
@authorized("read")
@blp.arguments(FeedQuerySchema, location="query")
@blp.response(200, FeedPageSchema)
def feed(query):
    """Events after `after`, oldest first. Never skips one: event ids follow commit order (see
    services/events.py), so an id seen here means every smaller id is already visible."""
    events = consent_events_after(query["after"], query["limit"])
    return {"events": events, "next": events[-1].id if events else None}
