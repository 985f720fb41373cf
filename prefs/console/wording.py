"""The console in plain words: decision reasons and consent events as a support agent reads them.

Pure: no Flask, no database. The codes stay in the API; staff see sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..channels import CHANNEL_WORDS
from ..services.provider_events import PROVIDER_NAMES

# reason -> (short words for a matrix cell, what it means)
REASONS: dict[str, tuple[str, str]] = {
    "mandatory": (
        "Mandatory",
        "A service or billing message: it goes out while the account is active and cannot be switched off.",
    ),
    "subscribed": ("Opted in", "The person chose to get this topic on this channel."),
    "default": ("On by default", "Sent until the person says no (allowed without express consent on this channel)."),
    "unsubscribed": ("Opted out", "The person chose not to get this topic on this channel."),
    "no_consent": (
        "Needs opt-in",
        "Not sent until the person opts in: this channel needs express consent, or (a form signup) the address is not confirmed yet.",
    ),
    "all_marketing_unsubscribed": ("All marketing stopped", "The person stopped all marketing on every channel."),
    "channel_unsubscribed": ("Channel stopped", "The person stopped all marketing on this channel."),
    "suppressed": (
        "Address suppressed",
        "The address is on the suppression list; only the person's own opt-in, with evidence, lifts it.",
    ),
    "sms_stop": ("Texted STOP", "The person texted a stop keyword: no texts at all until they text START from that number."),
    "quiet_hours": (
        "Quiet hours",
        "No marketing calls or texts at this hour of the person's day (PREFS_QUIET_HOURS, in their time zone or their number's).",
    ),
    "do_not_call": (
        "On do-not-call list",
        "The number is on the do-not-call list: no marketing calls or texts unless the person opts in to this topic with evidence.",
    ),
    "dnc_list_stale": (
        "Do-not-call list out of date",
        "The do-not-call list loaded is more than 31 days old: no marketing calls or texts until a fresh one is loaded.",
    ),
    "no_address": ("No address", "We hold no address for this channel."),
    "undeliverable": (
        "Address undeliverable",
        "A mail provider reported a hard bounce: the address does not exist, so nothing is emailed to it, service "
        "messages included, until the address changes or support clears it.",
    ),
    "deactivated": ("Account deactivated", "The account is deactivated: nothing is sent, service messages included."),
    "erased": ("Erased", "The person was erased."),
    "topic_archived": ("Topic archived", "The topic is archived: nothing is sent on it."),
    "topic_not_on_channel": ("Not on this channel", "The topic is never sent on this channel."),
    "unknown_recipient": ("Unknown person", "No recipient has this id or address."),
}

# suppression source -> how the home page says where a suppression came from
SUPPRESSION_SOURCE_WORDS = {
    "erasure": "left by an erasure",
    "import": "imported from another system",
    "sms_stop": "a STOP text from this number",
}
# What a mail provider reported about an address nobody held (services/provider_events.py): `kind:provider`.
_PROVIDER_REPORTS = {"bounce": "a hard bounce", "complaint": "a spam complaint", "unsubscribe": "an unsubscribe"}
SUPPRESSION_SOURCE_WORDS.update(
    {
        f"{kind}:{provider}": f"{words} reported by {name}"
        for kind, words in _PROVIDER_REPORTS.items()
        for provider, name in PROVIDER_NAMES.items()
    }
)

VIA_WORDS = {
    "console": "console",
    "api": "API",
    "one_click": "one-click unsubscribe",
    "confirm_page": "unsubscribe page",
    "undo": "undo on the unsubscribe page",
    "preference_center": "preference center",
    "mailto": "unsubscribe email",
}

STATUS_WORDS = {"active": "active", "deactivated": "deactivated", "erased": "erased"}


def reason_words(reason: str) -> str:
    return REASONS.get(reason, (reason.replace("_", " "), ""))[0]


def reason_meaning(reason: str) -> str:
    return REASONS.get(reason, ("", ""))[1]


def via_words(via: str) -> str:
    if via.startswith("keyword:"):
        return f"text keyword {via.partition(':')[2]}"
    kind, _, provider = via.partition(":")
    if kind in _PROVIDER_REPORTS and provider in PROVIDER_NAMES:  # e.g. complaint:sendgrid
        return f"{_PROVIDER_REPORTS[kind]} reported by {PROVIDER_NAMES[provider]}"
    if via.startswith("plain_language:"):  # e.g. plain_language:no-more-texts (services/sms_phrases.py)
        return f"text in plain words ({via.partition(':')[2].replace('-', ' ')})"
    return VIA_WORDS.get(via, via.replace("_", " "))


def actor_words(actor: str, actor_id: str | None) -> str:
    """'ann@example.com (staff)', 'API key mailer', 'the person'."""
    if actor == "recipient":
        return "the person"
    if actor == "api":
        return f"API key {actor_id}" if actor_id else "API"
    if actor == "import":
        return f"import {actor_id}" if actor_id else "import"
    if actor == "provider":
        return PROVIDER_NAMES.get(actor_id or "", "a mail provider")
    if actor_id:
        return f"{actor_id} ({actor})"
    return {"sms": "text message", "email": "email", "system": "the system"}.get(actor, actor)


def choice_words(value: Any) -> str:
    """A stored topic choice: True, False, or None (no choice: the topic's default applies)."""
    if value is None:
        return "no choice (topic default)"
    return "opted in" if value else "opted out"


def event_words(
    kind: str, topic: str | None, channel: str | None, before: Any, after: Any, topic_names: Mapping[str, str]
) -> str:
    """One consent event as a sentence: 'Newsletter by text message: opted in → opted out'."""
    channel_words = CHANNEL_WORDS.get(channel or "", channel or "")
    if kind == "topic_choice":
        name = topic_names.get(topic or "", topic)
        return f"{name} by {channel_words}: {choice_words(before)} → {choice_words(after)}"
    if kind == "channel_stop":
        return f"Marketing by {channel_words}: {'stopped' if after is False else 'resumed'}"
    if kind == "all_marketing":
        return f"All marketing: {'stopped' if after is False else 'resumed'}"
    if kind == "sms_stop":
        return "Texted STOP: no texts until START" if after else "SMS stop lifted"
    if kind == "status_changed":
        return f"Account {STATUS_WORDS.get(before, before)} → {STATUS_WORDS.get(after, after)}"
    if kind == "undeliverable":
        return "Email address undeliverable (hard bounce)" if after else "Email address deliverable again (undeliverable cleared)"
    if kind == "suppression_lifted":
        return f"Suppression of the {'email address' if channel == 'email' else 'phone number'} lifted"
    if kind == "recipient_created":
        fields = [name.replace("_", " ") for name in (after or {}) if name != "status"]
        return "Recipient created" + (f" with {', '.join(fields)}" if fields else "")
    if kind == "contact_changed":
        return "Contact data changed: " + _changes(before, after)
    if kind == "imported":
        changes = _changes(before, after)
        return f"Imported: {changes}" if changes else "Imported"
    if kind == "erased":
        return "Erased: personal data removed, addresses kept only as suppression hashes"
    return kind.replace("_", " ").capitalize()


def _changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """'email a@x → b@y; newsletter:email no choice (topic default) → opted in'."""
    return "; ".join(
        f"{name.replace('_', ' ')} {_value(before, name)} → {_value(after, name)}" for name in (after or {}) if name != "status"
    )


def _value(values: Mapping[str, Any] | None, name: str) -> str:
    value = (values or {}).get(name)
    if ":" in name:  # a topic:channel choice (imports record them with the contact data)
        return choice_words(value)
    if value is None:
        return "(none)"
    if isinstance(value, dict):  # a postal address
        parts = list(value.get("lines", [])) + [
            value.get(k) for k in ("city", "region", "postal_code", "country") if value.get(k)
        ]
        return ", ".join(str(part) for part in parts)
    return str(value)


def evidence_items(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Evidence as (label, value) pairs, in a stable order."""
    return [(name.replace("_", " "), str(value)) for name, value in sorted((evidence or {}).items())]


def detail_words(value: Any) -> str:
    """An admin event's detail value as text: lists joined, mappings as 'key: value', booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(detail_words(item) for item in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {detail_words(item)}" for key, item in value.items()) or "none"
    return "none" if value is None else str(value)
