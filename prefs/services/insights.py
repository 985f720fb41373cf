"""Insights (issue 19): how opt-outs and opt-ins trend, by day, topic, channel, way (`via`) and campaign
(`message_id`), plus suppressions added, bounces, complaints and the recipients marketing can reach.

The rules below are the ONE place these counts are defined; the API (GET /api/v1/stats) and the console's
insights page only ask here.

- An **opt-out** is a consent event that withdraws marketing permission; an **opt-in** one that gives it.
  Choices (kinds topic_choice, channel_stop, all_marketing) compare the stored value before and after, read
  as a stance: True (in) above None (no choice stored: the default) above False (out). A move down is an
  opt-out (a topic or channel turned off, an all-marketing stop, a one-click unsubscribe, a complaint's
  channel stop), a move up an opt-in (a topic turned on, a stop lifted, an undo of an unsubscribe). An event
  that keeps the stance (an opt-in written again with evidence) is neither.
  An SMS stop (kind sms_stop) is an opt-out when it starts (STOP) and an opt-in when it ends (START), on
  channel sms. A confirmed double opt-in counts once, as the topic_choice event its confirmation writes
  (via confirm_page); its consent_confirmed event is not counted again. consent_requested, contact,
  status, erasure and suppression_lifted events are neither.
- **via** is the event's `via` (one_click, confirm_page, preference_center, console, api, keyword:STOP,
  complaint:sendgrid, ...); **message_id** the `message_id` of the event's evidence (the campaign the
  link came from), None when it has none; **topic** and **channel** the event's (None: every topic, or
  every channel for an all-marketing stop). **day** is the day of the event's time in UTC.
- **suppressions**: addresses added to the suppression list, grouped by via = the suppression's source
  (import or an import's --source, erasure, sms_stop, bounce:<provider>, complaint:<provider>,
  unsubscribe:<provider>); a suppression is of an address, not of a topic or channel: both None.
- **bounces** and **complaints**: hard-bounce and spam-complaint reports from mail providers (each report
  once: a replay is not counted again), channel email, via bounce:<provider> / complaint:<provider>, whatever
  they changed. A complaint that stopped the person's email marketing is ALSO counted as an opt-out (its
  channel_stop event, same via); a hard bounce is not an opt-out.
- **active recipients** of a channel: active recipients holding the channel's address, with no stop of all
  marketing or of that channel, the address not suppressed and (email) not reported undeliverable. Topic
  choices and the do-not-call list are not considered (they depend on the topic).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, not_, select

from ..channels import CHANNEL_LIST
from ..decision import ANY
from ..extensions import db
from ..models import Choice, ConsentEvent, ProviderEvent, Recipient, Suppression, UndeliverableAddress

GROUPS = ("day", "topic", "channel", "via", "message_id")
MEASURES = ("opt_outs", "opt_ins", "suppressions", "bounces", "complaints")
MAX_RANGE_DAYS = 366  # the longest range one question may cover (both ends counted)

CHOICE_KINDS = frozenset({"topic_choice", "channel_stop", "all_marketing"})
SMS_STOP_KIND = "sms_stop"
_STANCE = {True: 1, None: 0, False: -1}


class InvalidGroupBy(ValueError):
    """group_by names no group, an unknown one or one twice; or order_by is not a measure."""


class InvalidRange(ValueError):
    """start after end, a range longer than MAX_RANGE_DAYS, or a limit below 1."""


@dataclass(frozen=True)
class StatsRow:
    key: dict[str, str | None]  # one entry per requested group, in request order; "day" as "YYYY-MM-DD"
    opt_outs: int
    opt_ins: int
    suppressions: int  # suppressions added (by source when grouped by "via": via = the source)
    bounces: int
    complaints: int

    def measures(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in MEASURES}


def choice_direction(kind: str, before: Any, after: Any) -> int:
    """+1 for an opt-in, -1 for an opt-out, 0 for neither (the rules in the module's docstring)."""
    if kind in CHOICE_KINDS:
        if not (_known(before) and _known(after)):
            return 0
        change = _STANCE[after] - _STANCE[before]
        return (change > 0) - (change < 0)
    if kind == SMS_STOP_KIND:
        if after is True and before is not True:
            return -1
        if after is False and before is True:
            return 1
    return 0


def _known(value: Any) -> bool:
    return value is None or isinstance(value, bool)


def check_question(start: date, end: date, group_by: Sequence[str], order_by: str | None, limit: int | None) -> None:
    """Raises InvalidGroupBy or InvalidRange (both ValueError) for a question stats() cannot answer."""
    if not group_by or any(group not in GROUPS for group in group_by) or len(set(group_by)) != len(group_by):
        raise InvalidGroupBy(f"group_by takes one or more of {', '.join(GROUPS)}, each once.")
    if order_by is not None and order_by not in MEASURES:
        raise InvalidGroupBy(f"order_by takes one of {', '.join(MEASURES)}.")
    if start > end:
        raise InvalidRange("The range starts after it ends.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRange(f"The range covers at most {MAX_RANGE_DAYS} days.")
    if limit is not None and limit < 1:
        raise InvalidRange("limit is at least 1.")


def stats(
    start: date, end: date, group_by: Sequence[str], *, order_by: str | None = None, limit: int | None = None
) -> list[StatsRow]:
    """Counts of events with start <= day(at, UTC) <= end (both inclusive), grouped by the given groups (any
    non-empty subset of GROUPS, e.g. ("day", "channel")); rows sorted by key unless order_by names a measure
    (then by that measure descending, ties by key), cut to limit. Raises ValueError on a bad group/range
    (InvalidGroupBy, InvalidRange)."""
    check_question(start, end, group_by, order_by, limit)
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for facts, measures in _facts(start, end):
        key = tuple(facts[group] for group in group_by)
        row = counts[key]
        for index, value in enumerate(measures):
            row[index] += value
    rows = [StatsRow(dict(zip(group_by, key, strict=True)), *values) for key, values in counts.items() if any(values)]
    rows.sort(key=lambda row: _key_order(row.key))
    if order_by is not None:
        rows.sort(key=lambda row: getattr(row, order_by), reverse=True)  # stable: ties stay in key order
    return rows[:limit] if limit is not None else rows


def totals(start: date, end: date) -> dict[str, int]:
    """Each measure over the whole range (what every stats() grouping of it sums to)."""
    summed = dict.fromkeys(MEASURES, 0)
    for row in stats(start, end, ("day",)):
        for name, value in row.measures().items():
            summed[name] += value
    return summed


def _key_order(key: dict[str, str | None]) -> tuple:
    return tuple((value is not None, value or "") for value in key.values())


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def _day(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()  # SQLite hands back naive datetimes; every stored time is UTC


def _facts(start: date, end: date):
    """(groups, measures) per counted thing in the range. First implementation: read straight from the
    tables; the roll-ups replace it without changing what is counted."""
    low, high = _bounds(start, end)
    message_id = ConsentEvent.evidence["message_id"].as_string()
    events = db.session.execute(
        select(ConsentEvent.at, ConsentEvent.kind, ConsentEvent.topic, ConsentEvent.channel, ConsentEvent.via,
               ConsentEvent.before, ConsentEvent.after, message_id)
        .where(ConsentEvent.at >= low, ConsentEvent.at < high, ConsentEvent.kind.in_(CHOICE_KINDS | {SMS_STOP_KIND}))
    )  # fmt: skip
    for at, kind, topic, channel, via, before, after, message in events:
        direction = choice_direction(kind, before, after)
        if direction:
            facts = {"day": _day(at), "topic": topic, "channel": channel, "via": via, "message_id": message}
            yield facts, (int(direction < 0), int(direction > 0), 0, 0, 0)
    suppressions = db.session.execute(
        select(Suppression.created_at, Suppression.source).where(Suppression.created_at >= low, Suppression.created_at < high)
    )
    for at, source in suppressions:
        yield {"day": _day(at), "topic": None, "channel": None, "via": source, "message_id": None}, (0, 0, 1, 0, 0)
    reports = db.session.execute(
        select(ProviderEvent.received_at, ProviderEvent.kind, ProviderEvent.provider).where(
            ProviderEvent.received_at >= low,
            ProviderEvent.received_at < high,
            ProviderEvent.kind.in_(("hard_bounce", "complaint")),
        )
    )
    for at, kind, provider in reports:
        bounce = kind == "hard_bounce"
        via = f"{'bounce' if bounce else 'complaint'}:{provider}"
        yield (
            {"day": _day(at), "topic": None, "channel": "email", "via": via, "message_id": None},
            (0, 0, 0, int(bounce), int(not bounce)),
        )


def active_recipients() -> dict[str, int]:
    """Recipients who may currently get marketing on each channel (channel key -> count), from the roll-up."""
    counts = {}
    for channel in CHANNEL_LIST:
        address = channel.address.field
        conditions = [
            Recipient.status == "active",
            getattr(Recipient, address).is_not(None),
            not_(
                exists().where(
                    Choice.recipient_pk == Recipient.pk,
                    Choice.topic == ANY,
                    Choice.channel.in_((ANY, channel.name)),
                    Choice.subscribed.is_(False),
                )
            ),
        ]
        if channel.address.suppressible:
            digest = getattr(Recipient, f"{address}_hash")
            conditions.append(not_(exists().where(Suppression.hash == digest)))
            if address == "email":
                conditions.append(not_(exists().where(UndeliverableAddress.hash == digest)))
        counts[channel.name] = db.session.execute(
            select(func.count()).select_from(Recipient).where(and_(*conditions))
        ).scalar_one()
    return counts


def refresh() -> int:
    """Bring the roll-ups up to date with consent events committed so far; returns events folded in.
    Called by the worker; tests call it directly after a scenario (B's tests too)."""
    return 0
