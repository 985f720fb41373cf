"""POST /links: the unsubscribe and preference URLs for one message, and for email the List-Unsubscribe headers."""

from __future__ import annotations

from ..errors import PrefsError
from ..runtime import runtime
from ..services.links import check_link_topic, links_for
from ..services.recipients import readable_recipient
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
from .reference import REFUSALS
from .schemas import LinksRequestSchema, LinksSchema


@blp.route("/links", methods=["POST"], tags=["Links"])
@authorized("check", body="required")
@refuses(
    "unknown_topic",
    not_found="No recipient has this id (or it was erased).",
    mandatory_topic=REFUSALS["mandatory_topic"].because(
        "The topic is mandatory: its messages carry no unsubscribe link.",
        "The topic 'Billing' is mandatory: send it without an unsubscribe link.",
        {},
    ),
)
@blp.arguments(LinksRequestSchema, example=examples.LINKS_REQUEST)
@blp.response(
    200,
    LinksSchema,
    description="The message's links, and for email its headers.",
    examples={
        "email": {"summary": "An email: the links and the headers", "value": examples.LINKS},
        "sms": {"summary": "A text (channel sms): only the links", "value": examples.SMS_LINKS},
    },
)
def links(body):
    """Get a message's unsubscribe links

    The one-click unsubscribe URL, the preference-center URL and, for an email (`channel` email, the
    default), the two `List-Unsubscribe` headers for one marketing message to one person (RFC 8058 one-click
    unsubscribe, which Gmail and Yahoo require of bulk senders). Paste `headers` into the email as they are and
    put a link in its body too. A link for a text (`channel: sms`), a call or a letter has no `headers`: only
    the URLs, to put in the message itself. With `topic` the
    unsubscribe link stops that topic on the channel; without one, all marketing on the channel. Pass your
    `message_id` so each change made through the links records the message it came from. Links are signed
    and stay valid for a year unless the operator set otherwise (never less than 60 days).
    """
    recipient = readable_recipient(body["recipient_id"])
    topic = None
    if body.get("topic") is not None:
        topic = runtime().catalogue.get(body["topic"])
        if topic is None:
            raise PrefsError("unknown_topic", f"No topic {body['topic']!r}.", {"topic": ["Unknown topic."]})
    check_link_topic(topic, body["channel"])
    return links_for(runtime(), recipient.id, recipient.pk, body["channel"], topic, body.get("message_id"), actor_name())
