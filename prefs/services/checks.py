"""The check: may topic T go to this person on channel C? One item or up to 10,000 at once.

Items are validated by hand rather than by a marshmallow schema per item (SPEC §9 allows it): the batch
must stay within a small factor of the raw SQL it needs. The OpenAPI document describes the same shape
(api/schemas.py), and a single check and a batch item fail with the same codes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import is_recipient_id, lookup_email, lookup_phone
from ..config import CHANNELS
from ..decision import Decision, RecipientState, TopicRule, decide
from ..errors import PrefsError, invalid
from ..runtime import runtime
from .driver_sql import DriverSql
from .states import load_states

MAX_BATCH = 10_000
LOOKUP_FIELDS = ("recipient_id", "email", "phone")
ITEM_FIELDS = frozenset(LOOKUP_FIELDS + ("topic", "channel", "message_id"))
ADDRESS_KIND = {"email": "email", "phone": "phone"}


@dataclass(slots=True)
class CheckItem:
    by: str  # recipient_id, email or phone
    key: str  # its normalised value
    topic: TopicRule
    channel: str
    message_id: str | None = None


@dataclass(slots=True)
class CheckOutcome:
    item: CheckItem
    decision: Decision
    recipient_id: str | None
    recipient_pk: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.decision.allowed,
            "reason": self.decision.reason,
            "recipient_id": self.recipient_id,
            "topic": self.item.topic.key,
            "channel": self.item.channel,
        }


def topic_keys_named(raw_items: Sequence[Any], default_topic: Any) -> set[str]:
    keys = {item.get("topic") for item in raw_items if isinstance(item, dict)}
    keys.add(default_topic)
    return {key for key in keys if isinstance(key, str)}


def parse_item(
    raw: Any, rules: Mapping[str, TopicRule], region: str, default_topic: Any = None, default_channel: Any = None
) -> CheckItem:
    """Validate one check item. Raises PrefsError: invalid or unknown_topic."""
    if not isinstance(raw, dict):
        raise PrefsError("invalid", "A check item must be an object.")
    by = None
    for name in raw:
        if name not in ITEM_FIELDS:
            unknown = sorted(set(raw) - ITEM_FIELDS)
            raise PrefsError("invalid", "Unknown fields in check item.", {field: ["Unknown field."] for field in unknown})
        if name in LOOKUP_FIELDS and raw[name] is not None:
            if by is not None:
                by = ""
                break
            by = name
    if not by:
        raise PrefsError("invalid", "Name exactly one of recipient_id, email, phone.", {"_schema": ["Name exactly one of recipient_id, email, phone."]})
    value = raw[by]
    if by == "recipient_id":
        if value.__class__ is not str or not is_recipient_id(value):
            raise invalid("recipient_id", "1-128 letters, digits, '.', '_', ':' or '-'.")
        key = value
    elif by == "email":
        key = lookup_email(value)
    else:
        key = lookup_phone(value, region)

    topic_key = raw.get("topic", default_topic)
    if not isinstance(topic_key, str):
        raise invalid("topic", "Missing or not a string." if topic_key is None else "Not a string.")
    topic = rules.get(topic_key)
    if topic is None:
        raise PrefsError("unknown_topic", f"No topic {topic_key!r}.", {"topic": [f"Unknown topic {topic_key!r}."]})
    channel = raw.get("channel", default_channel)
    if channel not in CHANNELS:
        raise invalid("channel", f"Must be one of {', '.join(CHANNELS)}.")
    message_id = raw.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or not 0 < len(message_id) <= 255):
        raise invalid("message_id", "A string of 1-255 characters.")
    return CheckItem(by, key, topic, channel, message_id)


def evaluate(items: Sequence[CheckItem]) -> list[CheckOutcome]:
    """Decide every item with one look-up per kind of key (and chunk), whatever the number of items."""
    wanted: dict[str, set[str]] = {"recipient_id": set(), "email": set(), "phone": set()}
    for item in items:
        wanted[item.by].add(item.key)
    # A read-only connection of its own: no session transaction to begin and close on the hot path.
    sql = DriverSql(standalone=True)
    try:
        states: dict[str, dict[str, RecipientState]] = {by: load_states(by, keys, sql) if keys else {} for by, keys in wanted.items()}
        # An address that matches nobody may still be suppressed (rule 3): ask once for all of them.
        address_hash = runtime().address_hash
        hash_of_unknown: dict[tuple[str, str], str] = {}
        for by in ("email", "phone"):
            for key in wanted[by] - states[by].keys():
                hash_of_unknown[(by, key)] = address_hash(ADDRESS_KIND[by], key)
        suppressed = {row[0] for row in sql.select_in("hash", "suppressions", "hash", list(hash_of_unknown.values()))}
    finally:
        sql.close()

    outcomes = []
    for item in items:
        state = states[item.by].get(item.key)
        if state is None:
            # Rules 1-2 come before the recipient: decide() orders them; only the suppression flag is ours.
            unknown_suppressed = hash_of_unknown.get((item.by, item.key)) in suppressed
            asked = item.key if item.by == "recipient_id" else None  # an unknown id is echoed; an address never is
            outcomes.append(CheckOutcome(item, decide(item.topic, item.channel, None, unknown_suppressed), asked))
        else:
            outcomes.append(CheckOutcome(item, decide(item.topic, item.channel, state), state.id, state.pk))
    return outcomes


def invalid_result(error: PrefsError) -> dict[str, Any]:
    """A malformed batch item's answer: the others are still answered."""
    return {"allowed": False, "reason": "invalid", "error": {"code": error.code, "message": error.message}}

