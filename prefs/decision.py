"""The decision rule of SPEC §3: may topic T go to this person on channel C, and why.

Pure: no Flask, no database. Every reader (check, batch, matrix, pages, console) calls `decide`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from .channels import KEYWORD_STOPPED

ANY = "*"  # wildcard in a choice key: ("*", "*") all-marketing stop, ("*", channel) channel stop
TOPIC_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # SPEC §2; use fullmatch (`$` lets a final newline through)


@dataclass(frozen=True, slots=True)
class TopicRule:
    key: str
    name: str
    mandatory: bool
    channels: frozenset[str]
    default_on: frozenset[str]  # channels where the person gets the topic until they say no
    archived: bool = False
    description: str = ""
    id: int = 0  # the topic's row id, for compact references


class RecipientState(NamedTuple):
    """What the rule needs to know about one known recipient. A tuple: a batch builds thousands."""

    id: str
    status: str  # active, deactivated, erased
    channels_with_address: frozenset[str]
    sms_stopped: bool = False
    suppressed_channels: frozenset[str] = frozenset()  # channels whose address is suppressed
    choices: Mapping[tuple[str, str], bool] = MappingProxyType({})  # (topic|*, channel|*) -> subscribed
    pk: int = 0  # the row id, for compact references


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


def _decisions(*pairs: tuple[bool, str]) -> dict[str, Decision]:
    return {reason: Decision(allowed, reason) for allowed, reason in pairs}


# Decisions are immutable, so the hot path shares these instead of allocating one per check.
D = _decisions(
    (False, "topic_archived"),
    (False, "topic_not_on_channel"),
    (False, "suppressed"),
    (False, "unknown_recipient"),
    (False, "deactivated"),
    (False, "erased"),
    (False, "no_address"),
    (False, "sms_stop"),
    (True, "mandatory"),
    (False, "all_marketing_unsubscribed"),
    (False, "channel_unsubscribed"),
    (True, "subscribed"),
    (False, "unsubscribed"),
    (True, "default"),
    (False, "no_consent"),
)


def decide(topic: TopicRule, channel: str, recipient: RecipientState | None, address_suppressed: bool = False) -> Decision:
    """Apply SPEC §3, first match wins.

    `address_suppressed` matters only for an unknown recipient: it says the address the caller asked
    about is on the suppression list.
    """
    if topic.archived:
        return D["topic_archived"]
    if channel not in topic.channels:
        return D["topic_not_on_channel"]
    if recipient is None:
        return D["suppressed"] if address_suppressed else D["unknown_recipient"]
    if recipient.status != "active":
        return D["erased"] if recipient.status == "erased" else D["deactivated"]
    if channel not in recipient.channels_with_address:
        return D["no_address"]
    if recipient.sms_stopped and channel in KEYWORD_STOPPED:
        return D["sms_stop"]
    if topic.mandatory:
        return D["mandatory"]
    if channel in recipient.suppressed_channels:
        return D["suppressed"]
    choices = recipient.choices
    if choices:
        if choices.get((ANY, ANY)) is False:
            return D["all_marketing_unsubscribed"]
        if choices.get((ANY, channel)) is False:
            return D["channel_unsubscribed"]
        choice = choices.get((topic.key, channel))
        if choice is not None:
            return D["subscribed"] if choice else D["unsubscribed"]
    return D["default"] if channel in topic.default_on else D["no_consent"]
