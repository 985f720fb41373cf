"""Insights (issue 19): how opt-outs and opt-ins trend, by day, topic, channel, way (`via`) and campaign
(`message_id`), plus suppressions added, bounces, complaints and the recipients marketing can reach.

The rules below are the ONE place these counts are defined; the API (GET /api/v1/stats) and the console's
insights page only ask here.

- An **opt-out** is a consent event that withdraws marketing permission; an **opt-in** one that gives it.
  Choices (kinds topic_choice, channel_stop, all_marketing) compare the stored value before and after, read
  as a stance: True (in) above None (no choice stored: the default) above False (out). A move down is an
  opt-out (a topic or channel turned off, an all-marketing stop, a one-click unsubscribe, a complaint's
  channel stop), a move up an opt-in (a topic turned on, a stop lifted, an undo of an unsubscribe). An event
  that keeps the stance (an opt-in written again with evidence) is neither. An import's event (kind
  imported) counts each choice it changed the same way, via import.
  An SMS stop (kind sms_stop) is an opt-out when it starts (STOP) and an opt-in when it ends (START), on
  channel sms. A confirmed double opt-in counts once, as the topic_choice event its confirmation writes
  (via confirm_page); its consent_confirmed event is not counted again. Every other
  kind is neither: consent_requested, contact and status changes, erasure, suppression_lifted, the
  undeliverable mark of a hard bounce (counted as a bounce instead) and the "do not sell or share" opt-out
  (not a marketing permission). Erasure strips an import's contact data but keeps the choices it changed
  (services/lifecycle.py), so an import counts the same whether it is folded before or after an erasure.
- **via** is the event's `via` (one_click, confirm_page, preference_center, console, api, keyword:STOP,
  complaint:sendgrid, import, ...); **message_id** the `message_id` of the event's evidence (the campaign
  the link came from), as the mailer sent it (its first 255 characters), None when it has none; **topic**
  and **channel** the event's (None: every topic, or every channel for an all-marketing stop). **day** is
  the day of the event's time in UTC.
- **suppressions**: addresses added to the suppression list, grouped by via = the suppression's source
  (import or an import's --source, erasure, sms_stop, bounce:<provider>, complaint:<provider>,
  unsubscribe:<provider>); a suppression is of an address, not of a topic or channel: both None.
- **bounces** and **complaints**: hard-bounce and spam-complaint reports from mail providers (each report
  once: a replay is not counted again), whatever they changed; channel email, via bounce:<provider> or
  complaint:<provider>. A complaint that stopped the person's email marketing is ALSO an opt-out (its
  channel_stop event, same via); a hard bounce is not an opt-out.
- **active recipients** of a channel: active recipients holding the channel's address, with no stop of all
  marketing or of that channel, the address not suppressed and (email) not reported undeliverable. Topic
  choices and the do-not-call list are not considered (they depend on the topic).

How they are kept: the worker calls refresh(), which folds consent events into insight_daily in id order
from a watermark (event ids follow commit order, services/events.py, so none is skipped) and nothing is
added to the write paths of events; counts that are no consent event are appended to insight_pending by the
transaction that makes them (suppression_added, provider_reported) and folded in the same way. Each count
lands at every level of insight_daily (LEVELS): all five keys, and the day with one of them, so that the
dashboard's questions read a few thousand rows a year whatever the number of events. The roll-ups hold counts
only. A message id can name a person (a mailer may send "campaign-7-cust-42"), so erasure
moves the person's folded events from their message ids to none (forget_message_ids) before it strips
their evidence; events not folded yet are folded without it. Active recipients are counted again by
refresh() after a change (recount_active; the worker, in a thread of its own, at most every
active_count_interval(what the last count took): 10 s to ACTIVE_EVERY_SECONDS).
"""

from __future__ import annotations

import re
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, Table, and_, case, delete, exists, func, not_, select, update
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..channels import CHANNEL_LIST
from ..decision import ANY
from ..extensions import db
from ..models import (
    Choice,
    ConsentEvent,
    InsightActive,
    InsightActiveDaily,
    InsightDaily,
    InsightPending,
    InsightState,
    Recipient,
    Suppression,
    UndeliverableAddress,
    utcnow,
)

T = TypeVar("T")

GROUPS = ("day", "topic", "channel", "via", "message_id")
MEASURES = ("opt_outs", "opt_ins", "suppressions", "bounces", "complaints")
OPT_OUTS, OPT_INS, SUPPRESSIONS, BOUNCES, COMPLAINTS = range(len(MEASURES))
MAX_RANGE_DAYS = 366  # the longest range one question may cover (both ends counted)
DEFAULT_RANGE_DAYS = 30
FIRST_DAY = date(2000, 1, 1)  # nothing was recorded before; keeps date arithmetic far from date.min

CHOICE_KINDS = frozenset({"topic_choice", "channel_stop", "all_marketing"})
SMS_STOP_KIND = "sms_stop"
IMPORTED_KIND = "imported"
COUNTED_KINDS = (*sorted(CHOICE_KINDS), SMS_STOP_KIND, IMPORTED_KIND)  # the kinds whose before/after are read
# The provider reports counted (services/provider_events.py's kinds), and as which measure.
REPORTS = {"hard_bounce": BOUNCES, "complaint": COMPLAINTS}
_STANCE = {True: 1, None: 0, False: -1}
NONE = ""  # a key column's "none": no topic, every channel, no message id
MESSAGE_ID_LENGTH = 255

FOLD_BATCH = 5000  # events (and pending counts) folded per transaction
ACTIVE_EVERY_SECONDS = 300.0  # the worker counts active recipients again at most this often
# ... and, when a count is cheap, sooner: a count takes about a second per million recipients, so a new or small
# service shows its first recipients within seconds while a large one spends at most 1/ACTIVE_COST_SHARE of
# its time counting.
ACTIVE_SOONEST_SECONDS = 10.0
ACTIVE_COST_SHARE = 30


def active_count_interval(count_seconds: float) -> float:
    """How long after a count that took `count_seconds` the worker may count again (given changes)."""
    return min(ACTIVE_EVERY_SECONDS, max(ACTIVE_SOONEST_SECONDS, ACTIVE_COST_SHARE * count_seconds))


# insight_state's rows: the fold's (the last event id folded, pending counts folded so far) and the same two
# as the last count of active recipients saw them.
EVENTS, PENDING, ACTIVE_EVENTS, ACTIVE_PENDING = "events", "pending", "active_events", "active_pending"

# A declarative class types its table as any FROM clause.
_daily, _pending_counts, _active, _active_daily, _state = (
    cast(Table, model.__table__) for model in (InsightDaily, InsightPending, InsightActive, InsightActiveDaily, InsightState)
)

Key = tuple[date, str, str, str, str]  # day, topic, channel, via, message_id (NONE for none)
# What each level of insight_daily keeps besides the day (the rest NONE), the narrow ones first: a question is
# answered from the first level that keeps all it groups by.
LEVELS = {"channel": ("channel",), "topic": ("topic",), "via": ("via",), "message_id": ("message_id",), "all": GROUPS[1:]}


class InvalidGroupBy(ValueError):
    """group_by names no group, an unknown one or one twice; or order_by is not a measure."""


class InvalidRange(ValueError):
    """start after end, a day before FIRST_DAY, a range longer than MAX_RANGE_DAYS, or a limit below 1.
    `field` names the question's part to change, as the API calls it: "from", "to" or "limit"."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


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


# --- the rules ------------------------------------------------------------------------------------------
def permission_changes(
    kind: str, topic: str | None, channel: str | None, before: Any, after: Any
) -> list[tuple[str | None, str | None, int]]:
    """(topic, channel, +1 for an opt-in or -1 for an opt-out) of each change of marketing permission one
    consent event makes (the rules in the module's docstring)."""
    if kind in CHOICE_KINDS:
        direction = _direction(before, after)
        return [(topic, channel, direction)] if direction else []
    if kind == SMS_STOP_KIND:
        if after is True and before is not True:
            return [(None, channel, -1)]
        if after is False and before is True:
            return [(None, channel, 1)]
        return []
    if kind == IMPORTED_KIND and isinstance(after, dict):  # choices as "topic:channel" keys (services/imports.py)
        old = before if isinstance(before, dict) else {}
        changes = []
        for name, value in after.items():
            cell_topic, colon, cell_channel = name.partition(":")
            direction = _direction(old.get(name), value) if colon else 0
            if direction:
                changes.append(
                    (None if cell_topic == ANY else cell_topic, None if cell_channel == ANY else cell_channel, direction)
                )
        return changes
    return []


def _direction(before: Any, after: Any) -> int:
    if not (_is_choice(before) and _is_choice(after)):  # not a choice's stored value: no stance to compare
        return 0
    change = _STANCE[after] - _STANCE[before]
    return (change > 0) - (change < 0)


def _is_choice(value: Any) -> bool:
    return value is None or type(value) is bool


def check_question(
    start: date, end: date, group_by: Sequence[str], order_by: str | None = None, limit: int | None = None
) -> None:
    """Raises InvalidGroupBy or InvalidRange (both ValueError) for a question stats() cannot answer."""
    if not group_by or any(group not in GROUPS for group in group_by) or len(set(group_by)) != len(group_by):
        raise InvalidGroupBy(f"group_by takes one or more of {', '.join(GROUPS)}, each once.")
    if order_by is not None and order_by not in MEASURES:
        raise InvalidGroupBy(f"order_by takes one of {', '.join(MEASURES)}.")
    if start < FIRST_DAY or end < FIRST_DAY:
        raise InvalidRange(f"Nothing was recorded before {FIRST_DAY.isoformat()}.", "from" if start < FIRST_DAY else "to")
    if start > end:
        raise InvalidRange("The range starts after it ends.", "to")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRange(f"The range covers at most {MAX_RANGE_DAYS} days.", "to")
    if limit is not None and limit < 1:
        raise InvalidRange("limit is at least 1.", "limit")


DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def day_asked(text: str) -> date | None:
    """The day a question names, written YYYY-MM-DD and no other way (Python reads "20260101" and
    "2026-W01-1" as days too); None when it is not one. The API and the console both read days here."""
    if not DAY_RE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None


def question_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The range a question means when it leaves out an end: up to today, and the DEFAULT_RANGE_DAYS days
    ending at `end` (not before FIRST_DAY). The API and the console both ask here. Raises InvalidRange for
    an end before FIRST_DAY."""
    end = end or (today if start is None else max(today, start))
    if end < FIRST_DAY:
        raise InvalidRange(f"Nothing was recorded before {FIRST_DAY.isoformat()}.", "to")
    return start or max(end - timedelta(days=DEFAULT_RANGE_DAYS - 1), FIRST_DAY), end


# --- asking ---------------------------------------------------------------------------------------------
def stats(
    start: date, end: date, group_by: Sequence[str], *, order_by: str | None = None, limit: int | None = None
) -> list[StatsRow]:
    """Counts of events with start <= day(at, UTC) <= end (both inclusive), grouped by the given groups (any
    non-empty subset of GROUPS, e.g. ("day", "channel")); rows sorted by key unless order_by names a measure
    (then by that measure descending, ties by key), cut to limit. Raises ValueError on a bad group/range
    (InvalidGroupBy, InvalidRange). As of the last refresh()."""
    check_question(start, end, group_by, order_by, limit)
    level = _level_for(group_by)
    columns = [getattr(InsightDaily, group) for group in group_by]
    sums = {name: cast_to(func.sum(getattr(InsightDaily, name)), BigInteger).label(name) for name in MEASURES}
    ordered = [_in_code_point_order(column) for column in columns]
    statement = (
        select(*columns, *sums.values())
        .where(InsightDaily.level == level, InsightDaily.day >= start, InsightDaily.day <= end)
        .group_by(*columns)
        .order_by(*([sums[order_by].desc()] if order_by else []), *ordered)
        .limit(limit)
    )
    width = len(group_by)
    shown = [_day_shown if group == "day" else _key_shown for group in group_by]  # per column: no test per value
    return [
        StatsRow(dict(zip(group_by, [show(value) for show, value in zip(shown, row)])), *row[width:])  # noqa: B905
        for row in db.session.execute(statement)
    ]


def totals(start: date, end: date) -> dict[str, int]:
    """Each measure over the whole range (what every stats() grouping of it sums to)."""
    # Any one level holds every count once; _level_for(()) names the narrowest.
    return _sums(start, end, InsightDaily.level == _level_for(()))


def without_message_id(start: date, end: date) -> dict[str, int]:
    """Each measure over the range for what carried no message id (a page, a text, a provider, the console,
    the API): what the top campaigns leave out, however many campaigns there are."""
    return _sums(start, end, InsightDaily.level == _level_for(("message_id",)), InsightDaily.message_id == NONE)


def _sums(start: date, end: date, *where: Any) -> dict[str, int]:
    sums = [func.coalesce(func.sum(getattr(InsightDaily, name)), 0) for name in MEASURES]
    row = db.session.execute(select(*sums).where(*where, InsightDaily.day >= start, InsightDaily.day <= end)).one()
    return {name: int(value) for name, value in zip(MEASURES, row, strict=True)}


def active_recipients() -> dict[str, int]:
    """Recipients who may currently get marketing on each channel (channel key -> count), from the roll-up
    (as of the last refresh(); 0 before the first)."""
    counts = dict.fromkeys((channel.name for channel in CHANNEL_LIST), 0)
    counts.update(
        (channel, count) for channel, count in db.session.execute(select(InsightActive.channel, InsightActive.recipients))
    )
    return {name: int(count) for name, count in counts.items()}


def opt_out_rates(start: date, end: date) -> dict[str, list[float | None]]:
    """The opt-out rate of each channel on each day of the range (per_thousand): 1,000 × the day's opt-outs on the channel
    (those of every channel at once included: an all-marketing stop leaves each of them) / the recipients who
    may get marketing on it by the day's last count, or the latest count before that day; None before the
    first count (and where that count is 0). Channel key -> one value per day, start to end."""
    check_question(start, end, ("day",))
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    opt_outs: dict[tuple[str, str], int] = {}
    for row in stats(start, end, ("day", "channel")):
        opt_outs[(cast(str, row.key["day"]), row.key["channel"] or NONE)] = row.opt_outs
    counted: dict[str, list[tuple[date, int]]] = defaultdict(list)
    latest_before = (
        select(InsightActiveDaily.channel, func.max(InsightActiveDaily.day).label("day"))
        .where(InsightActiveDaily.day < start)
        .group_by(InsightActiveDaily.channel)
        .subquery()
    )
    rows = db.session.execute(
        select(InsightActiveDaily.day, InsightActiveDaily.channel, InsightActiveDaily.recipients)
        .where(InsightActiveDaily.day <= end)
        .where(
            (InsightActiveDaily.day >= start)
            | exists().where(latest_before.c.channel == InsightActiveDaily.channel, latest_before.c.day == InsightActiveDaily.day)
        )
        .order_by(InsightActiveDaily.day)
    )
    for day, key, recipients in rows:
        counted[key].append((day, int(recipients)))  # a date on both databases: SQLAlchemy's Date reads SQLite's text
    rates: dict[str, list[float | None]] = {}
    for channel in CHANNEL_LIST:
        history, known, line = counted.get(channel.name, []), None, []
        for day in days:
            while history and history[0][0] <= day:
                known = history.pop(0)[1]
            outs = opt_outs.get((day.isoformat(), channel.name), 0) + opt_outs.get((day.isoformat(), NONE), 0)
            line.append(per_thousand(outs, known))
        rates[channel.name] = line
    return rates


def per_thousand(count: int, people: int | None) -> float | None:
    """`count` per 1,000 of `people` (two decimals), None when nobody is counted: the one rate formula."""
    return round(1000 * count / people, 2) if people else None


def active_recipients_as_of() -> datetime | None:
    """When active_recipients() was counted; None before the first refresh()."""
    moment = db.session.execute(select(func.max(InsightActive.computed_at))).scalar()
    if moment is not None and moment.tzinfo is None:  # SQLite hands back naive datetimes; every stored time is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment


def _level_for(group_by: Sequence[str]) -> str:
    wanted = set(group_by) - {"day"}
    return next(level for level, kept in LEVELS.items() if wanted <= set(kept))


def _day_shown(value: date) -> str:
    return value.isoformat()


def _key_shown(value: str) -> str | None:
    return value or None  # NONE is ''


def _in_code_point_order(column: Any) -> Any:
    """Keys sort by code point on both databases (SQLite's default; PostgreSQL's "C" collation)."""
    return column.collate("C") if _postgres() and column.key != "day" else column


# --- keeping them ---------------------------------------------------------------------------------------
def refresh(
    *,
    run: Callable[[Callable[[], Any]], Any] | None = None,
    budget_seconds: float | None = None,
    active_every_seconds: float = 0.0,
    batch: int = FOLD_BATCH,
    count_active: bool = True,
) -> int:
    """Bring the roll-ups up to date with consent events committed so far; returns events folded in
    (consent events and pending counts). Called by the worker; tests call it directly after a scenario.

    Commits each batch: `run` runs one transaction (default: run, then commit; the worker passes
    unit_of_work). Stops early after `budget_seconds` (the rest waits for the next call), or at once when
    another process is folding. Active recipients are counted again when anything changed since, at most
    every `active_every_seconds` (unless `count_active` is False: the worker counts in a thread of its own,
    recount_active, as the count takes seconds on millions of recipients).
    """
    run = run or _commit
    deadline = None if budget_seconds is None else clock.monotonic() + budget_seconds
    folded = 0
    while True:
        done = run(lambda: _fold(batch))
        if done is None:  # another process holds the fold
            return folded
        folded += sum(done)
        if max(done) < batch or (deadline is not None and clock.monotonic() >= deadline):
            break
    if count_active:
        recount_active(run=run, every_seconds=active_every_seconds)
    return folded


def recount_active(*, run: Callable[[Callable[[], Any]], Any] | None = None, every_seconds: float = 0.0) -> bool:
    """Count active recipients per channel again when anything was folded since the last count, at most every
    `every_seconds`; one process at a time, and no fold or erasure ever waits for it. True when it counted."""
    run = run or _commit
    if _postgres():
        return bool(run(lambda: _count_active(every_seconds)))
    # SQLite: count outside the write lock, so writers never wait for it.
    counted = _active_counts_due(every_seconds)
    db.session.rollback()
    if counted is None:
        return False
    run(lambda: _store_active(*counted))
    return True


def _commit(operation: Callable[[], T]) -> T:
    try:
        result = operation()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def _fold(batch: int) -> tuple[int, int] | None:
    """Fold the next `batch` events and pending counts; returns how many of each, or None when another
    transaction holds the fold."""
    watermark = _lock_fold(wait=False)
    if watermark is None:
        return None
    counted = ConsentEvent.kind.in_(COUNTED_KINDS)
    events = db.session.execute(
        select(
            ConsentEvent.id, ConsentEvent.at, ConsentEvent.kind, ConsentEvent.topic, ConsentEvent.channel, ConsentEvent.via,
            case((counted, ConsentEvent.before)), case((counted, ConsentEvent.after)), _message_id(),
        )
        .where(ConsentEvent.id > watermark)
        .order_by(ConsentEvent.id)
        .limit(batch)
    ).all()  # fmt: skip
    counts: dict[Key, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for _id, at, kind, topic, channel, via, before, after, message_id in events:
        for key, measure in _counted(at, kind, topic, channel, via, before, after, message_id):
            counts[key][measure] += 1
    pending = db.session.execute(
        select(InsightPending.id, InsightPending.at, InsightPending.measure, InsightPending.channel, InsightPending.via)
        .order_by(InsightPending.id)
        .limit(batch)
    ).all()
    for _id, at, name, channel, via in pending:
        counts[(_day(at), NONE, channel, via, NONE)][MEASURES.index(name)] += 1
    if pending:
        db.session.execute(delete(_pending_counts).where(_pending_counts.c.id.in_([row[0] for row in pending])))
    _add(counts)
    if events:
        _set_state(EVENTS, events[-1][0])
    if pending:
        db.session.execute(update(_state).where(_state.c.name == PENDING).values(value=_state.c.value + len(pending)))
    return len(events), len(pending)


def _counted(at: datetime, kind: str, topic, channel, via: str, before, after, message_id) -> Iterable[tuple[Key, int]]:
    day = _day(at)
    for cell_topic, cell_channel, direction in permission_changes(kind, topic, channel, before, after):
        message = NONE if message_id is None else str(message_id)[:MESSAGE_ID_LENGTH]  # as the mailer sent it
        key = (day, cell_topic or NONE, cell_channel or NONE, via, message)
        yield key, OPT_INS if direction > 0 else OPT_OUTS


def _message_id() -> Any:
    return ConsentEvent.evidence["message_id"].as_string()


def _day(moment: datetime) -> date:
    if moment.tzinfo is not None:  # SQLite hands back naive datetimes; every stored time is UTC
        moment = moment.astimezone(UTC)
    return moment.date()


def _add(counts: Mapping[Key, Sequence[int]]) -> None:
    """Add the counts (negative ones too) to each level of insight_daily, making the rows they need."""
    leveled: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for key, values in counts.items():
        facts = dict(zip(GROUPS, key, strict=True))
        for level, kept in LEVELS.items():
            total = leveled[(level, key[0], *(facts[group] if group in kept else NONE for group in GROUPS[1:]))]
            for index, value in enumerate(values):
                total[index] += value
    rows = [
        dict(zip(("level", *GROUPS), key, strict=True)) | dict(zip(MEASURES, values, strict=True))
        for key, values in sorted(leveled.items())
        if any(values)
    ]
    if not rows:
        return
    insert = (pg_insert if _postgres() else sqlite_insert)(_daily)
    statement = insert.on_conflict_do_update(
        index_elements=["level", *GROUPS], set_={name: _daily.c[name] + insert.excluded[name] for name in MEASURES}
    )
    db.session.execute(statement, rows)


def _set_state(name: str, value: int) -> None:
    db.session.execute(update(_state).where(_state.c.name == name).values(value=value))


def _lock_fold(wait: bool) -> int | None:
    """Take the fold's lock and return the last event id folded in; None when another transaction holds it
    and `wait` is False."""
    return _lock(EVENTS, wait)


def _lock(name: str, wait: bool) -> int | None:
    """Lock insight_state's row `name` for this transaction and return its value; None when another
    transaction holds it and `wait` is False. On SQLite, which has one writer, a write takes the lock."""
    if _postgres():
        locked = select(_state.c.value).where(_state.c.name == name).with_for_update(skip_locked=not wait)
        return db.session.execute(locked).scalar_one_or_none()
    written = update(_state).where(_state.c.name == name).values(value=_state.c.value).returning(_state.c.value)
    return db.session.execute(written).scalar_one_or_none()


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _count_active(every_seconds: float) -> bool:
    """PostgreSQL: count active recipients again when due (_active_counts_due), one process at a time (the
    active_events row's lock, which no fold or erasure takes: neither ever waits for a count)."""
    if _lock(ACTIVE_EVENTS, wait=False) is None:  # another process is counting
        return False
    counted = _active_counts_due(every_seconds)
    if counted is None:
        return False
    _store_active(*counted)
    return True


def _active_counts_due(every_seconds: float) -> tuple[dict[str, int], dict[str, int], datetime] | None:
    """Reads only: the counts of active recipients per channel, with the fold's state they follow and when,
    if anything was folded since the last count and that is at least `every_seconds` old; else None."""
    state = {name: value for name, value in db.session.execute(select(_state.c.name, _state.c.value))}
    seen = {EVENTS: state.get(EVENTS, 0), PENDING: state.get(PENDING, 0)}
    as_of = active_recipients_as_of()
    now = utcnow()
    if as_of is not None:
        if (seen[EVENTS], seen[PENDING]) == (state.get(ACTIVE_EVENTS), state.get(ACTIVE_PENDING)):
            return None  # nothing changed since
        if (now - as_of).total_seconds() < every_seconds:
            return None
    # A change folded while we count moves the fold's state past `seen`: the next refresh counts again.
    return {channel.name: _reachable(channel) for channel in CHANNEL_LIST}, seen, now


def _store_active(counts: dict[str, int], seen: dict[str, int], now: datetime) -> None:
    rows = [{"channel": name, "recipients": count, "computed_at": now} for name, count in counts.items()]
    insert = (pg_insert if _postgres() else sqlite_insert)(_active)
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=["channel"],
            set_={"recipients": insert.excluded.recipients, "computed_at": insert.excluded.computed_at},
        ),
        rows,
    )
    db.session.execute(delete(_active).where(_active.c.channel.not_in(list(counts))))  # a channel no longer registered
    daily = (pg_insert if _postgres() else sqlite_insert)(_active_daily)
    day = now.astimezone(UTC).date()
    db.session.execute(
        daily.on_conflict_do_update(index_elements=["day", "channel"], set_={"recipients": daily.excluded.recipients}),
        [{"day": day, "channel": name, "recipients": count} for name, count in counts.items()],
    )  # the day's last count wins
    _set_state(ACTIVE_EVENTS, seen[EVENTS])
    _set_state(ACTIVE_PENDING, seen[PENDING])


def _reachable(channel) -> int:
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
    return db.session.execute(select(func.count()).select_from(Recipient).where(and_(*conditions))).scalar_one()


# --- what other services tell us ------------------------------------------------------------------------
def suppression_added(source: str) -> None:
    """An address was added to the suppression list (services/suppressions.py), in this transaction."""
    _pending(SUPPRESSIONS, NONE, source)


def provider_reported(kind: str, via: str) -> None:
    """A mail provider's report was applied (services/provider_events.py), in this transaction: bounces and
    complaints are counted, other kinds not."""
    if kind in REPORTS:
        _pending(REPORTS[kind], "email", via)


def _pending(measure: int, channel: str, via: str) -> None:
    db.session.execute(_pending_counts.insert().values(at=utcnow(), measure=MEASURES[measure], channel=channel, via=via[:64]))


def forget_message_ids(recipient_id: str) -> None:
    """Erasure (services/lifecycle.py), before the events are stripped: the person's events already folded in
    stop counting under their message ids and count under none instead; a message id's row left with nothing
    goes. Waits for a fold in progress, and holds the next one off until this transaction ends."""
    watermark = _lock_fold(wait=True)
    if watermark is None:  # no bookkeeping row: nothing was ever folded
        return
    message_id = _message_id()
    events = db.session.execute(
        select(ConsentEvent.at, ConsentEvent.kind, ConsentEvent.topic, ConsentEvent.channel, ConsentEvent.via,
               ConsentEvent.before, ConsentEvent.after, message_id)
        .where(ConsentEvent.recipient_id == recipient_id, ConsentEvent.id <= watermark, message_id.is_not(None),
               ConsentEvent.kind.in_(COUNTED_KINDS))
    ).all()  # fmt: skip
    moves: dict[Key, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    for event in events:
        for key, measure in _counted(*event):
            if key[-1] != NONE:
                moves[key][measure] -= 1
                moves[(*key[:-1], NONE)][measure] += 1
    _add(moves)
    for day, message in sorted({(key[0], key[-1]) for key in moves if key[-1] != NONE}):
        nothing_left = (getattr(_daily.c, name) == 0 for name in MEASURES)
        db.session.execute(delete(_daily).where(_daily.c.day == day, _daily.c.message_id == message, *nothing_left))
