"""The check: may topic T go to this person on channel C? One item or up to 10,000 at once.

An item reaches parse_item already in the shape api/schemas.py defines (the same definition the OpenAPI
document is generated from); here it is looked up: its address normalised, its topic found in the catalogue,
the request's defaults applied. A single check and a batch item fail with the same codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..addresses import lookup_email, lookup_phone
from ..db.driver import DriverSql
from ..db.statements import SUPPRESSED_HASHES
from ..decision import Decision, QuietHours, RecipientState, TopicRule, decide
from ..errors import PrefsError, invalid
from ..suppression import AddressHasher
from .states import load_states

MAX_BATCH = 10_000
LOOKUP_FIELDS = ("recipient_id", "email", "phone")  # a check names exactly one (SPEC §4)
ADDRESS_KIND = {"email": "email", "phone": "phone"}


@dataclass(slots=True)
class CheckItem:
    by: str  # recipient_id, email or phone
    key: str  # its normalised value
    topic: TopicRule
    channel: str
    at: datetime  # when the message would go out (SPEC §17): the item's `at`, else the request's, else now
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
    """The topic keys a batch names, to fetch their rules at once; anything else in a `topic` is not a key
    (an object or a list there is a malformed item, answered as such, and cannot go in a set)."""
    keys = {topic for item in raw_items if isinstance(item, dict) and isinstance(topic := item.get("topic"), str)}
    if isinstance(default_topic, str):
        keys.add(default_topic)
    return keys


def parse_item(
    item: Mapping[str, str],
    rules: Mapping[str, TopicRule],
    region: str,
    now: datetime,
    default_topic: str | None = None,
    default_channel: str | None = None,
    default_at: str | None = None,
) -> CheckItem:
    """Look up one well-formed item (exactly one of LOOKUP_FIELDS, every value a string; api/schemas.py checks
    that first, `at` included). `now` (aware) stands in for an `at` given neither on the item nor for the request.
    Raises PrefsError: invalid (an address that is not one, no topic or channel), unknown_topic."""
    for by in LOOKUP_FIELDS:  # exactly one is there
        if by in item:
            break
    value = item[by]
    if by == "recipient_id":
        key = value
    elif by == "email":
        key = lookup_email(value)
    else:
        key = lookup_phone(value, region)
    topic_key, channel = item.get("topic", default_topic), item.get("channel", default_channel)
    if topic_key is None or channel is None:
        raise invalid("topic" if topic_key is None else "channel", "Missing: give it on the item or for the whole request.")
    topic = rules.get(topic_key)
    if topic is None:  # a well-formed item about a topic the catalogue lacks (after every shape rule above)
        raise PrefsError("unknown_topic", f"No topic {topic_key!r}.", {"topic": [f"Unknown topic {topic_key!r}."]})
    at_text = item.get("at", default_at)
    return CheckItem(by, key, topic, channel, now if at_text is None else check_time(at_text), item.get("message_id"))


@lru_cache(maxsize=256)
def check_time(text: str) -> datetime:
    """A check's `at`, as api/schemas.py lets it through (RFC 3339 with an offset, a real date); a batch
    usually repeats one, hence the cache."""
    return datetime.fromisoformat(text.upper())


def evaluate(address_hash: AddressHasher, quiet_hours: QuietHours | None, items: Sequence[CheckItem]) -> list[CheckOutcome]:
    """Decide every item with one look-up per kind of key (and chunk), whatever the number of items.
    `quiet_hours` is PREFS_QUIET_HOURS (None: off); each item carries its own moment."""
    wanted: dict[str, set[str]] = {"recipient_id": set(), "email": set(), "phone": set()}
    for item in items:
        wanted[item.by].add(item.key)
    # A read-only connection of its own: no session transaction to begin and close on the hot path.
    sql = DriverSql(standalone=True, reads_only=True)
    try:
        states: dict[str, dict[str, RecipientState]] = {
            by: load_states(by, keys, sql) if keys else {} for by, keys in wanted.items()
        }
        # An address that matches nobody may still be suppressed (rule 3): ask once for all of them.
        hash_of_unknown: dict[tuple[str, str], str] = {}
        for by in ("email", "phone"):
            for key in wanted[by] - states[by].keys():
                hash_of_unknown[(by, key)] = address_hash(ADDRESS_KIND[by], key)
        suppressed = {row[0] for row in sql.select_in(SUPPRESSED_HASHES, list(hash_of_unknown.values()))}
    finally:
        sql.close()

    outcomes = []
    for item in items:
        state = states[item.by].get(item.key)
        if state is None:
            # Rules 1-2 come before the recipient: decide() orders them; only the suppression flag is ours.
            unknown_suppressed = hash_of_unknown.get((item.by, item.key)) in suppressed
            asked = item.key if item.by == "recipient_id" else None  # an unknown id is echoed; an address never is
            decision = decide(item.topic, item.channel, None, unknown_suppressed, at=item.at, quiet_hours=quiet_hours)
            outcomes.append(CheckOutcome(item, decision, asked))
        else:
            decision = decide(item.topic, item.channel, state, at=item.at, quiet_hours=quiet_hours)
            outcomes.append(CheckOutcome(item, decision, state.id, state.pk))
    return outcomes


def invalid_result(error: PrefsError) -> dict[str, Any]:
    """A malformed batch item's answer: the others are still answered."""
    return {"allowed": False, "reason": "invalid", "error": {"code": error.code, "message": error.message}}
