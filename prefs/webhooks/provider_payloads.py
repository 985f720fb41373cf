"""Each mail provider's webhook payload, read into provider-neutral events (services/provider_events.py).

Only what matters to a person's preferences is read: hard and soft bounces, spam complaints, unsubscribes
the provider recorded. Deliveries, opens, clicks and the like are no events here. Unknown fields are
ignored (providers add fields); a payload of the wrong shape raises BadPayload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ..services.provider_events import COMPLAINT, HARD_BOUNCE, SOFT_BOUNCE, UNSUBSCRIBE, ProviderEvent


class BadPayload(ValueError):
    """The body is not what the provider sends; str() says why."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _code(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value)[:32] or None


# --- SendGrid: a JSON array of events -------------------------------------------------------------------
_SENDGRID_KINDS = {"spamreport": COMPLAINT, "unsubscribe": UNSUBSCRIBE, "group_unsubscribe": UNSUBSCRIBE, "deferred": SOFT_BOUNCE}


def sendgrid_events(payload: Any) -> list[ProviderEvent]:
    """SendGrid's Event Webhook: `bounce` is a hard bounce unless its `type` is `blocked` (a block, which
    SendGrid retries: soft); `deferred` is soft; `spamreport` a complaint; `unsubscribe` and
    `group_unsubscribe` unsubscribes. Each event's `sg_event_id` is its id."""
    if not isinstance(payload, list):
        raise BadPayload("SendGrid posts a JSON array of events.")
    events = []
    for item in payload:
        if not isinstance(item, dict):
            raise BadPayload("Each SendGrid event is a JSON object.")
        name, email, event_id = item.get("event"), _text(item.get("email")), _text(item.get("sg_event_id"))
        kind: str | None
        if name == "bounce":
            kind = SOFT_BOUNCE if item.get("type") == "blocked" else HARD_BOUNCE
        else:
            kind = _SENDGRID_KINDS.get(name) if isinstance(name, str) else None
        if kind is None or email is None or event_id is None:
            continue
        events.append(ProviderEvent("sendgrid", event_id, kind, email, _code(item.get("status"))))
    return events


# --- Mailgun: one event per request, beside its signature ------------------------------------------------
def mailgun_events(event_data: Any) -> list[ProviderEvent]:
    """Mailgun's `event-data`: `failed` with severity `permanent` is a hard bounce (or, when Mailgun refused
    to send because of an earlier complaint or unsubscribe, that again), `temporary` a soft one;
    `complained` a complaint; `unsubscribed` an unsubscribe. The event's `id` is its id."""
    if not isinstance(event_data, dict):
        raise BadPayload("Mailgun posts an object with `signature` and `event-data`.")
    name, email, event_id = event_data.get("event"), _text(event_data.get("recipient")), _text(event_data.get("id"))
    status = event_data.get("delivery-status")
    code = _code(status.get("code")) if isinstance(status, dict) else None
    kind: str | None
    if name == "failed":
        reason = event_data.get("reason")
        if event_data.get("severity") != "permanent":
            kind = SOFT_BOUNCE
        elif reason == "suppress-complaint":
            kind = COMPLAINT
        elif reason == "suppress-unsubscribe":
            kind = UNSUBSCRIBE
        else:
            kind = HARD_BOUNCE
    else:
        kind = {"complained": COMPLAINT, "unsubscribed": UNSUBSCRIBE}.get(name) if isinstance(name, str) else None
    if kind is None or email is None or event_id is None:
        return []
    return [ProviderEvent("mailgun", event_id, kind, email, code)]


# --- Postmark: one record per request ------------------------------------------------------------------
_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress"})
_POSTMARK_NOT_BOUNCES = frozenset({"Subscribe", "AutoResponder", "AddressChange", "OpenRelayTest", "ChallengeVerification"})
_POSTMARK_SUPPRESSIONS = {"HardBounce": HARD_BOUNCE, "SpamComplaint": COMPLAINT, "ManualSuppression": UNSUBSCRIBE}


def postmark_events(record: Any) -> list[ProviderEvent]:
    """Postmark's Bounce, SpamComplaint and SubscriptionChange webhooks.

    A bounce of type HardBounce or BadEmailAddress is hard, Unsubscribe an unsubscribe, SpamComplaint a
    complaint, and other bounce types soft (auto-replies and the like are not bounces). A subscription
    change that suppresses sending applies its reason; a manual suppression counts only when the recipient
    made it (Origin `Recipient`): one the sender made through Postmark's API is not the person's choice,
    and may be our own sync. Reactivations change nothing here.
    """
    if not isinstance(record, dict):
        raise BadPayload("Postmark posts one JSON object per event.")
    record_type = record.get("RecordType")
    if record_type in ("Bounce", "SpamComplaint"):
        bounce_type, email, record_id = _text(record.get("Type")), _text(record.get("Email")), record.get("ID")
        if record_type == "SpamComplaint" or bounce_type == "SpamComplaint":
            kind = COMPLAINT
        elif bounce_type == "Unsubscribe":
            kind = UNSUBSCRIBE
        elif bounce_type in _POSTMARK_HARD:
            kind = HARD_BOUNCE
        elif bounce_type is None or bounce_type in _POSTMARK_NOT_BOUNCES:
            return []
        else:
            kind = SOFT_BOUNCE
        if email is None or isinstance(record_id, bool) or not isinstance(record_id, int | str):
            return []
        return [ProviderEvent("postmark", f"{record_type}:{record_id}", kind, email, _code(bounce_type))]
    if record_type == "SubscriptionChange":
        email, reason = _text(record.get("Recipient")), record.get("SuppressionReason")
        change = _POSTMARK_SUPPRESSIONS.get(reason) if isinstance(reason, str) else None
        if record.get("SuppressSending") is not True or email is None or change is None:
            return []
        if reason == "ManualSuppression" and record.get("Origin") != "Recipient":
            return []
        # A subscription change carries no id of its own: these fields name it, the same on every retry.
        parts = [str(record.get(name)) for name in ("MessageStream", "MessageID", "ChangedAt", "Recipient", "SuppressionReason")]
        event_id = "SubscriptionChange:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()
        return [ProviderEvent("postmark", event_id, change, email, _code(reason))]
    return []


# --- Amazon SES, through an SNS Notification --------------------------------------------------------------
def ses_events(sns_message: dict[str, Any]) -> list[ProviderEvent]:
    """An SES notification (the SNS message's `Message`, JSON): a Bounce of bounceType Permanent is hard
    for each bounced recipient, other bounce types soft; a Complaint is a complaint for each complained
    recipient (unless its feedback type is `not-spam`). SES's event publishing (`eventType`) reads the same.
    Each recipient's id is the feedback id and its place in the list."""
    try:
        notification = json.loads(sns_message.get("Message") or "")
    except (TypeError, ValueError):
        raise BadPayload("The SNS message's Message is not an SES notification.") from None
    if not isinstance(notification, dict):
        raise BadPayload("The SNS message's Message is not an SES notification.")
    kind_name = notification.get("notificationType") or notification.get("eventType")
    fallback_id = str(sns_message.get("MessageId"))
    if kind_name == "Bounce":
        return list(_ses_recipients(notification.get("bounce"), "bouncedRecipients", fallback_id, _ses_bounce_kind))
    if kind_name == "Complaint":
        return list(_ses_recipients(notification.get("complaint"), "complainedRecipients", fallback_id, _ses_complaint_kind))
    return []


def _ses_bounce_kind(details: dict[str, Any], recipient: dict[str, Any]) -> tuple[str | None, str | None]:
    kind = HARD_BOUNCE if details.get("bounceType") == "Permanent" else SOFT_BOUNCE
    return kind, _code(recipient.get("status") or details.get("bounceSubType"))


def _ses_complaint_kind(details: dict[str, Any], _recipient: dict[str, Any]) -> tuple[str | None, str | None]:
    if details.get("complaintFeedbackType") == "not-spam":
        return None, None
    return COMPLAINT, _code(details.get("complaintFeedbackType"))


def _ses_recipients(details: Any, list_name: str, fallback_id: str, classify: Any) -> Iterator[ProviderEvent]:
    if not isinstance(details, dict) or not isinstance(details.get(list_name), list):
        raise BadPayload(f"An SES notification without {list_name}.")
    feedback_id = _text(details.get("feedbackId")) or fallback_id
    for index, recipient in enumerate(details[list_name]):
        email = _text(recipient.get("emailAddress")) if isinstance(recipient, dict) else None
        if email is None:
            continue
        kind, code = classify(details, recipient)
        if kind is not None:
            yield ProviderEvent("ses", f"{feedback_id}:{index}", kind, email, code)
