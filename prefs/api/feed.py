"""GET /events: every consent event in commit order, for syncing suppression lists elsewhere."""

from __future__ import annotations

from ..services.history import consent_events_after
from . import examples
from .auth import authorized
from .blueprint import blp
from .schemas import FeedPageSchema, FeedQuerySchema


@blp.route("/events", methods=["GET"], tags=["Consent events"])
@authorized("read")
@blp.arguments(FeedQuerySchema, location="query")
@blp.response(200, FeedPageSchema, description="The events after `after`, oldest first.", example=examples.FEED_PAGE)
def feed(query):
    """Follow the change feed

    Every consent event of every recipient, oldest first: the way to keep another system (an email
    provider's suppression list, a CRM) in step without missing a one-click unsubscribe or a STOP text.
    Start with `after=0`, then pass the `next` of each page as `after`; an empty page (`next: null`) means
    you are caught up, so poll again later with the same `after`. The feed never skips an event, even while
    others are being written: once you have seen an id, no event with a smaller one can appear later.
    Webhooks deliver the same events as they happen.
    ---
    Event ids follow commit order (services/events.py), which is what makes "never skips" hold.
    """
    events = consent_events_after(query["after"], query["limit"])
    return {"events": events, "next": events[-1].id if events else None}
