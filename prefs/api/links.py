"""POST /links: the unsubscribe and preference URLs and the List-Unsubscribe headers for one message."""

from __future__ import annotations

from ..errors import PrefsError
from ..runtime import runtime
from ..services.links import check_link_topic, links_for
from ..services.recipients import readable_recipient
from .auth import actor_name, authorized
from .blueprint import blp
from .schemas import LinksRequestSchema, LinksSchema


@blp.route("/links", methods=["POST"])
@authorized("check", body="required")
@blp.arguments(LinksRequestSchema)
@blp.response(200, LinksSchema)
def links(body):
    """Links for one message. Paste `headers` into the message as they are."""
    recipient = readable_recipient(body["recipient_id"])
    topic = None
    if body.get("topic") is not None:
        topic = runtime().catalogue.get(body["topic"])
        if topic is None:
            raise PrefsError("unknown_topic", f"No topic {body['topic']!r}.", {"topic": ["Unknown topic."]})
    check_link_topic(topic, body["channel"])
    return links_for(runtime(), recipient.id, recipient.pk, body["channel"], topic, body.get("message_id"), actor_name())
