"""What a recipient's link does: unsubscribe (one click or the confirmation page) and undo."""
from __future__ import annotations

from sqlalchemy import select

from ..decision import ANY
from ..extensions import db
from ..models import ConsentEvent
from ..tokens import LinkTarget
from .events import ChangeContext
from .preferences import PreferenceChange, apply_preference_changes, stored_choices, write_choices
from .recipients import RecipientRow, writable_recipient

# The ways a link unsubscribes; undo looks for the latest of these for the link's cell.
LINK_VIAS = ("one_click", "confirm_page", "mailto")


def unsubscribe(target: LinkTarget, context: ChangeContext) -> tuple[RecipientRow, bool]:
    """Stop what the link names. Returns (recipient, whether anything changed): a repeat changes nothing.

    Raises PrefsError: not_found, erased, mandatory_topic, unknown_topic.
    """
    recipient = writable_recipient(target.recipient_id)
    changed = apply_preference_changes(recipient, [PreferenceChange(False, target.topic, target.channel)], context)
    return recipient, changed > 0


def undo_unsubscribe(target: LinkTarget, context: ChangeContext) -> tuple[RecipientRow, bool]:
    """Put back the stored value from before this link's latest unsubscribe, as one more event.

    Nothing happens if the value has changed again since (a newer choice wins). Raises PrefsError as above.
    """
    recipient = writable_recipient(target.recipient_id)
    key = (target.topic or ANY, target.channel)
    events = db.session.execute(
        select(ConsentEvent)
        .where(
            ConsentEvent.recipient_id == recipient.id,
            ConsentEvent.kind.in_(("topic_choice", "channel_stop")),
            ConsentEvent.topic.is_(None) if target.topic is None else ConsentEvent.topic == target.topic,
            ConsentEvent.channel == target.channel,
            ConsentEvent.via.in_(LINK_VIAS),
        )
        .order_by(ConsentEvent.id.desc())
        .limit(10)
    ).scalars()
    unsubscribe_event = next((event for event in events if event.after is False), None)
    if unsubscribe_event is None:
        return recipient, False
    if stored_choices(recipient.pk).get(key) is not False:
        return recipient, False
    written = write_choices(recipient, {key: unsubscribe_event.before}, context)
    return recipient, written > 0
