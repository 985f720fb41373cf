"""Changing choices and reading them back as the preference matrix."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import mask_email, mask_phone, mask_postal
from ..config import CHANNELS
from ..decision import ANY, RecipientState, decide
from ..errors import PrefsError
from ..models import Recipient, utcnow
from ..runtime import runtime
from .driver_sql import DriverSql
from .events import ChangeContext, record_event
from .recipients import RecipientRow
from .states import load_states
from .suppressions import lift

# An opt-in lifts a suppression only with evidence of when and how the person consented (SPEC §2).
CONSENT_EVIDENCE_FIELDS = ("collected_at", "source")


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    """topic+channel: one cell; topic: all its channels; channel: channel stop; neither: all-marketing stop."""

    subscribed: bool
    topic: str | None = None
    channel: str | None = None


def event_kind(topic: str, channel: str) -> str:
    if topic != ANY:
        return "topic_choice"
    return "all_marketing" if channel == ANY else "channel_stop"


def plan_changes(recipient: RecipientRow, changes: Sequence[PreferenceChange]) -> tuple[dict[tuple[str, str], bool | None], set[str]]:
    """Turn requested changes into the stored values wanted per (topic|*, channel|*) key (None: no row).

    Returns (targets, channels opted in to). Raises PrefsError before anything is written, so a request
    is applied all or nothing: unknown_topic, invalid, mandatory_topic, sms_stop.
    """
    rules = runtime().catalogue.get_many({change.topic for change in changes if change.topic})
    targets: dict[tuple[str, str], bool | None] = {}
    opted_in: set[str] = set()
    for index, change in enumerate(changes):
        if change.topic is not None:
            rule = rules.get(change.topic)
            if rule is None:
                raise PrefsError("unknown_topic", f"No topic {change.topic!r}.", _at(index, "topic", "Unknown topic."))
            if change.channel is not None and change.channel not in rule.channels:
                raise PrefsError("invalid", f"Topic {rule.key!r} is not sent on {change.channel}.", _at(index, "channel", "Not a channel of this topic."))
            channels = [change.channel] if change.channel else [c for c in CHANNELS if c in rule.channels]
            if rule.mandatory:
                if not change.subscribed:
                    raise PrefsError("mandatory_topic", f"{rule.name} messages cannot be switched off while the account is active.", _at(index, "topic", "Mandatory topic."))
                continue  # always on: there is nothing to store
            for channel in channels:
                targets[(rule.key, channel)] = change.subscribed
        else:
            channels = [change.channel] if change.channel else list(CHANNELS)
            targets[(ANY, change.channel or ANY)] = None if change.subscribed else False
        if change.subscribed:
            if change.channel == "sms" and recipient.sms_stopped_at is not None:
                raise PrefsError("sms_stop", "This number texted STOP; only a START text from it lifts that.", _at(index, "channel", "SMS stop in force."))
            opted_in.update(channels)
    return targets, opted_in


def _at(index: int, field: str, message: str) -> dict:
    """Field errors in marshmallow's shape, pointing at one change of the request."""
    return {"changes": {str(index): {field: [message]}}}


def apply_preference_changes(recipient: RecipientRow, changes: Sequence[PreferenceChange], context: ChangeContext) -> int:
    """Apply the changes to a locked recipient; one event per stored value that changed. Returns that count.

    Raises PrefsError (see plan_changes) with nothing written.
    """
    targets, opted_in = plan_changes(recipient, changes)
    written = write_choices(recipient, targets, context)
    return written + _lift_suppressions(recipient, opted_in, context)


_STORED = "SELECT topic, channel, subscribed FROM choices WHERE recipient_pk = ?"
_WRITES = {
    "delete": "DELETE FROM choices WHERE recipient_pk = ? AND topic = ? AND channel = ?",
    "update": "UPDATE choices SET subscribed = ?, updated_at = ? WHERE recipient_pk = ? AND topic = ? AND channel = ?",
    "insert": "INSERT INTO choices (subscribed, updated_at, recipient_pk, topic, channel) VALUES (?, ?, ?, ?, ?)",
}


def stored_choices(recipient_pk: int, sql: DriverSql | None = None) -> dict[tuple[str, str], bool]:
    rows = (sql or DriverSql()).rows(_STORED, (recipient_pk,))
    return {(topic, channel): bool(subscribed) for topic, channel, subscribed in rows}


def write_choices(recipient: RecipientRow, targets: dict[tuple[str, str], bool | None], context: ChangeContext) -> int:
    """Set stored values (None deletes the row) of a locked recipient; an event for each that changed.

    Plain SQL on the driver (services/driver_sql.py): this is the one-click path.
    """
    sql = DriverSql()
    stored = stored_choices(recipient.pk, sql)
    written = 0
    for (topic, channel), after in targets.items():
        before = stored.get((topic, channel))
        if before == after:
            continue
        key = (recipient.pk, topic, channel)
        if after is None:
            sql.execute(_WRITES["delete"], key)
        else:
            sql.execute(_WRITES["update" if before is not None else "insert"], (after, sql.time(utcnow()), *key))
        record_event(
            context,
            recipient.id,
            event_kind(topic, channel),
            topic=None if topic == ANY else topic,
            channel=None if channel == ANY else channel,
            before=before,
            after=after,
            sql=sql,
        )
        written += 1
    return written


def _lift_suppressions(recipient: RecipientRow, opted_in: set[str], context: ChangeContext) -> int:
    evidence = context.evidence or {}
    if not opted_in or not all(evidence.get(name) for name in CONSENT_EVIDENCE_FIELDS):
        return 0
    hashes = {}
    if "email" in opted_in and recipient.email_hash:
        hashes[recipient.email_hash] = "email"
    if opted_in & {"sms", "phone"} and recipient.phone_hash:
        hashes[recipient.phone_hash] = "phone"
    lifted = lift(hashes)
    for digest in lifted:
        record_event(context, recipient.id, "suppression_lifted", channel=hashes[digest], before=True, after=False)
    return len(lifted)


def preference_matrix(recipient: Recipient | RecipientRow) -> dict[str, Any]:
    """SPEC §4's matrix: every live topic on its channels with the decision and its reason."""
    state = load_states("recipient_id", [recipient.id]).get(recipient.id) or RecipientState(
        recipient.id, recipient.status, frozenset()
    )
    choices = state.choices
    masked = {
        "email": mask_email(recipient.email),
        "sms": mask_phone(recipient.phone),
        "phone": mask_phone(recipient.phone),
        "post": mask_postal(recipient.postal_address),
    }
    channels: dict[str, Any] = {}
    for channel in CHANNELS:
        channels[channel] = {"address": masked[channel], "stopped": choices.get((ANY, channel)) is False}
    channels["sms"]["sms_stop"] = state.sms_stopped
    rules = sorted(
        (rule for rule in runtime().catalogue.all().values() if not rule.archived),
        key=lambda rule: (not rule.mandatory, rule.key),
    )
    topics = []
    for rule in rules:
        cells = {}
        for channel in CHANNELS:
            if channel in rule.channels:
                decision = decide(rule, channel, state)
                cells[channel] = {"allowed": decision.allowed, "reason": decision.reason, "choice": choices.get((rule.key, channel))}
        topics.append({"key": rule.key, "name": rule.name, "description": rule.description, "mandatory": rule.mandatory, "channels": cells})
    return {
        "recipient_id": recipient.id,
        "status": recipient.status,
        "all_marketing": "stopped" if choices.get((ANY, ANY)) is False else "active",
        "channels": channels,
        "topics": topics,
    }
