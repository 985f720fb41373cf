"""What a recipient's link does: unsubscribe (one click or the confirmation page) and undo."""

from __future__ import annotations

from sqlalchemy import select

from ..catalogue import TopicCatalogue
from ..channels import KEYWORD_STOPPED
from ..decision import ANY, RecipientState
from ..errors import PrefsError
from ..extensions import db
from ..models import ConsentEvent
from ..tokens import LinkTarget
from .events import ChangeContext
from .preferences import PreferenceChange, apply_preference_changes, number_stopped, stored_choices, write_choices
from .recipients import RecipientRow, writable_recipient
from .suppressions import SMS_STOP_MESSAGE

# The ways a link unsubscribes; undo looks for the latest of these for the link's cell.
LINK_VIAS = ("one_click", "confirm_page", "mailto")


def stop_in_force(catalogue: TopicCatalogue, target: LinkTarget, state: RecipientState) -> str | None:
    """The stop already in force that keeps away what the link would stop, or None when the link's page should
    ask: the all-marketing stop, the channel's stop, its address's suppression (an SMS STOP included), then, for
    a topic link, the topic's own. Read from the stored stops, not from the decision's first reason: a reason
    the rule gives earlier (an address reported dead, a do-not-call list) hid a stop that stands, and the page
    asked again (found in review)."""
    if target.topic is not None and catalogue.get(target.topic) is None:
        return None
    if state.choices.get((ANY, ANY)) is False:
        return "all_marketing_unsubscribed"
    if state.choices.get((ANY, target.channel)) is False:
        return "channel_unsubscribed"
    if target.channel in state.suppressed_channels:
        return "suppressed"
    if target.topic is not None and state.choices.get((target.topic, target.channel)) is False:
        return "unsubscribed"
    return None


def unsubscribe(catalogue: TopicCatalogue, target: LinkTarget, context: ChangeContext) -> tuple[RecipientRow, bool]:
    """Stop what the link names. Returns (recipient, whether anything changed): a repeat changes nothing.

    Raises PrefsError: not_found, erased, mandatory_topic, unknown_topic.
    """
    recipient = writable_recipient(target.recipient_id)
    changed = apply_preference_changes(catalogue, recipient, [PreferenceChange(False, target.topic, target.channel)], context)
    return recipient, changed > 0


def undo_unsubscribe(target: LinkTarget, context: ChangeContext) -> tuple[RecipientRow, bool]:
    """Put back the stored value from before this link's latest unsubscribe, as one more event.

    Nothing happens if any event has changed that cell since (a newer choice wins, whoever made it).
    Raises PrefsError as above.
    """
    recipient = writable_recipient(target.recipient_id)
    key = (target.topic or ANY, target.channel)
    cell = (
        ConsentEvent.recipient_id == recipient.id,
        ConsentEvent.kind.in_(("topic_choice", "channel_stop")),
        ConsentEvent.topic.is_(None) if target.topic is None else ConsentEvent.topic == target.topic,
        ConsentEvent.channel == target.channel,
    )
    latest = db.session.execute(select(ConsentEvent).where(*cell).order_by(ConsentEvent.id.desc()).limit(1)).scalar_one_or_none()
    # The cell's latest change must be this link's unsubscribe itself; anything later is newer than it.
    if latest is None or latest.via not in LINK_VIAS or latest.after is not False:
        return recipient, False
    if stored_choices(recipient.pk).get(key, (None, False))[0] is not False:
        return recipient, False
    if target.topic is not None and _imported_since(recipient.id, latest.id, f"{target.topic}:{target.channel}"):
        return recipient, False  # an import set the cell since (its events hold the cells it changed)
    if latest.before is True and target.channel in KEYWORD_STOPPED and number_stopped(recipient):
        # Undo restores an opt-in to texts; the number's STOP since stands until a START (found in review).
        raise PrefsError("sms_stop", SMS_STOP_MESSAGE)
    written = write_choices(recipient, {key: latest.before}, context, undoing=True)
    return recipient, written > 0


def _imported_since(recipient_id: str, event_id: int, cell: str) -> bool:
    """Whether an import changed this `topic:channel` cell of the person after event `event_id`."""
    later = db.session.execute(
        select(ConsentEvent.after).where(
            ConsentEvent.recipient_id == recipient_id, ConsentEvent.kind == "imported", ConsentEvent.id > event_id
        )
    ).scalars()
    return any(isinstance(after, dict) and cell in after for after in later)
