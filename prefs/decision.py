"""The decision rule of SPEC §3, §15 and §17: may topic T go to this person on channel C at this moment, and why.

Pure: no Flask, no database, no clock. Every reader (check, batch, matrix, pages, console) calls `decide`
and hands it the moment the message would go out (`at`) and the quiet-hours window in force.

SPEC §17's rows come after rule 8 (mandatory messages are not marketing), quiet hours first, then the
do-not-call list, both only on the channels channels.py marks (calls and texts):
- quiet hours are judged in the stored `time_zone`, else in every zone the number implies (all must be in
  daytime); a number whose zone cannot be told counts as always quiet, the one safe answer without a local
  time, until a `time_zone` is stored;
- the list yields to an opt-in to that topic on that channel stored with evidence of consent (express
  consent), and only to that; evidence does not lift quiet hours;
- a list is stale when the UTC date of `at` is more than DNC_MAX_AGE_DAYS after its as-of date, so a send
  scheduled past that day is refused now; with no list loaded, neither list row applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .addresses import phone_time_zones
from .channels import DO_NOT_CALL, KEYWORD_STOPPED, TIME_RESTRICTED

ANY = "*"  # wildcard in a choice key: ("*", "*") all-marketing stop, ("*", channel) channel stop
TOPIC_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # SPEC §2; use fullmatch (`$` lets a final newline through)
DNC_MAX_AGE_DAYS = 31  # a do-not-call list older than this (as of its own date) answers dnc_list_stale (SPEC §17)


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
    # Translations an admin gave (language tag -> text), for the recipient pages; not part of the rule.
    names: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    descriptions: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    # "double": an opt-in by email waits for the person's confirmation (SPEC §14); not part of the rule.
    confirmation: str = field(default="single", hash=False, compare=False)


class RecipientState(NamedTuple):
    """What the rule needs to know about one known recipient. A tuple: a batch builds thousands."""

    id: str
    status: str  # active, deactivated, erased
    channels_with_address: frozenset[str]
    sms_stopped: bool = False
    suppressed_channels: frozenset[str] = frozenset()  # channels whose address is suppressed
    choices: Mapping[tuple[str, str], bool] = MappingProxyType({})  # (topic|*, channel|*) -> subscribed
    pk: int = 0  # the row id, for compact references
    time_zone: str | None = None  # the stored IANA zone; without one, the zones the phone number implies
    phone: str | None = None  # E.164, for the zones it implies
    on_do_not_call_list: bool = False  # the number is on the do-not-call list in force
    dnc_list_as_of: date | None = None  # the as-of date of the do-not-call list in force; None: no list loaded
    opted_in_with_evidence: frozenset[tuple[str, str]] = frozenset()  # (topic, channel) opt-ins stored with evidence of consent
    undeliverable_channels: frozenset[str] = frozenset()  # channels whose address a mail provider reported dead (rule 6a)
    awaiting_confirmation: bool = False  # made by prefs for a double opt-in not yet confirmed: no defaults


@dataclass(frozen=True, slots=True)
class QuietHours:
    """The part of the day, in the person's local time, when no marketing call or text goes out (SPEC §17).

    Quiet from `start` (included) to `end` (excluded), across midnight when `start` is later: 21:00-08:00
    lets 20:59 through and holds 21:00 to 07:59.
    """

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'21:00-08:00'. Raises ValueError."""
        start_text, dash, end_text = text.strip().partition("-")
        if not dash or not all(re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", part.strip()) for part in (start_text, end_text)):
            raise ValueError(text)
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        if start == end:
            raise ValueError(text)
        return cls(start, end)

    def covers(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@lru_cache(maxsize=4096)
def in_quiet_hours(window: QuietHours, at: datetime, zones: tuple[str, ...]) -> bool:
    """Whether `at` falls in the quiet hours of any of `zones`. No zone known counts as quiet: the law asks for
    the called person's local time, and without it no hour can be shown to be inside the window for them.

    Cached: a batch asks about thousands of people with one `at` and a few zones between them.
    """
    try:
        return not zones or any(window.covers(at.astimezone(ZoneInfo(zone)).time()) for zone in zones)
    except ZoneInfoNotFoundError:  # a stored zone this host's tz database no longer has
        return True


def local_zones(recipient: RecipientState) -> tuple[str, ...]:
    """The zones whose local time counts for the person: the stored one, else the ones their number implies."""
    return (recipient.time_zone,) if recipient.time_zone else phone_time_zones(recipient.phone)


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
    (False, "undeliverable"),
    (False, "sms_stop"),
    (True, "mandatory"),
    (False, "quiet_hours"),
    (False, "dnc_list_stale"),
    (False, "do_not_call"),
    (False, "all_marketing_unsubscribed"),
    (False, "channel_unsubscribed"),
    (True, "subscribed"),
    (False, "unsubscribed"),
    (True, "default"),
    (False, "no_consent"),
)


def decide(
    topic: TopicRule,
    channel: str,
    recipient: RecipientState | None,
    address_suppressed: bool = False,
    *,
    at: datetime,
    quiet_hours: QuietHours | None,
) -> Decision:
    """Apply SPEC §3 with §15's rule 6a and §17's rows after rule 8, first match wins.

    `address_suppressed` matters only for an unknown recipient: it says the address the caller asked
    about is on the suppression list. `at` (timezone-aware) is when the message would go out; `quiet_hours`
    is PREFS_QUIET_HOURS (None: off).
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
    if channel in recipient.undeliverable_channels:  # 6a (SPEC §15): mail to a dead address is not a message
        return D["undeliverable"]
    if recipient.sms_stopped and channel in KEYWORD_STOPPED:
        return D["sms_stop"]
    if topic.mandatory:
        return D["mandatory"]
    if channel in TIME_RESTRICTED and quiet_hours is not None and in_quiet_hours(quiet_hours, at, local_zones(recipient)):
        return D["quiet_hours"]
    if (
        channel in DO_NOT_CALL
        and recipient.dnc_list_as_of is not None
        and (topic.key, channel) not in recipient.opted_in_with_evidence  # express consent: the list does not apply
    ):
        if (at.astimezone(UTC).date() - recipient.dnc_list_as_of).days > DNC_MAX_AGE_DAYS:
            return D["dnc_list_stale"]
        if recipient.on_do_not_call_list:
            return D["do_not_call"]
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
    return D["default"] if gets_default(topic, channel, recipient) else D["no_consent"]


def gets_default(topic: TopicRule, channel: str, recipient: RecipientState) -> bool:
    """Rule 13: without a choice, the topic's default, which is for the people the client's system gave us. A
    recipient prefs made for a double opt-in nobody confirmed yet (anyone can type an address on a form) gets
    none: `no_consent` while the request is pending (SPEC §14), until the person confirms."""
    return channel in topic.default_on and not recipient.awaiting_confirmation
