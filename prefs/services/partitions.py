"""consent_events' monthly partitions on PostgreSQL (migration 0014), made ahead of the months they hold.

Each month's events go to consent_events_yYYYYmMM ([the first of the month, the first of the next) in UTC),
so the table grows by adding partitions rather than by deepening one index, and old months could be detached
whole. A default partition takes any event whose month has no partition yet, so no insert ever fails for
want of one; making that month's partition later moves those events into it, in the same transaction (a
reader sees them in one place or the other, never neither). Ids come from one sequence whatever the
partition, so the change feed (ORDER BY id) is unchanged. `flask --app app partitions ensure` runs this, and
so does the worker when it starts and once a day. SQLite has no partitioning: nothing to do there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..db.driver import DriverSql
from ..db.statements import (
    ATTACH_EVENT_PARTITION_POSTGRES,
    CREATE_DEFAULT_EVENT_PARTITION_POSTGRES,
    CREATE_EVENT_PARTITION_POSTGRES,
    EVENT_PARTITIONS_POSTGRES,
    EVENTS_PARTITIONED_POSTGRES,
    LOCK_EVENT_PARTITIONS_POSTGRES,
    MOVE_DEFAULT_EVENTS_POSTGRES,
)
from .events import serialise_event_writes

MONTHS_AHEAD = 3  # partitions exist for the current month and this many after it
DEFAULT_PARTITION = "consent_events_default"


@dataclass
class PartitionReport:
    partitioned: bool  # False on SQLite, or on PostgreSQL before migration 0014
    created: list[str] = field(default_factory=list)
    moved: int = 0  # events moved out of the default partition into a new month's
    covered_until: str | None = None  # the last month with a partition of its own, YYYY-MM


def month_partition(year: int, month: int) -> tuple[str, datetime, datetime]:
    """The partition of a month: its name and its bounds (UTC)."""
    next_year, next_month = add_months(year, month, 1)
    return (
        f"consent_events_y{year:04d}m{month:02d}",
        datetime(year, month, 1, tzinfo=UTC),
        datetime(next_year, next_month, 1, tzinfo=UTC),
    )


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def ensure_event_partitions(now: datetime, months_ahead: int = MONTHS_AHEAD) -> PartitionReport:
    """Make the partitions of the month of `now` and the `months_ahead` after it that do not exist yet (and
    the default partition, should it be missing). Idempotent; concurrent callers take turns."""
    sql = DriverSql()
    if not sql.postgres or not sql.rows(EVENTS_PARTITIONED_POSTGRES)[0][0]:
        return PartitionReport(partitioned=False)
    sql.execute(LOCK_EVENT_PARTITIONS_POSTGRES)
    existing = {name for (name,) in sql.rows(EVENT_PARTITIONS_POSTGRES)}
    report = PartitionReport(partitioned=True)
    if DEFAULT_PARTITION not in existing:
        sql.execute(CREATE_DEFAULT_EVENT_PARTITION_POSTGRES)
        report.created.append(DEFAULT_PARTITION)
    for ahead in range(months_ahead + 1):
        year, month = add_months(now.year, now.month, ahead)
        name, lower, upper = month_partition(year, month)
        report.covered_until = f"{year:04d}-{month:02d}"
        if name in existing:
            continue
        # Event writers wait until this commits (every event insert takes this lock first): one committed into
        # the default partition between the move and the attach would make the attach fail.
        serialise_event_writes(sql)
        sql.execute(CREATE_EVENT_PARTITION_POSTGRES.format(partition=name))
        ((moved,),) = sql.rows(MOVE_DEFAULT_EVENTS_POSTGRES.format(partition=name), (lower, upper))
        sql.execute(ATTACH_EVENT_PARTITION_POSTGRES.format(partition=name, lower=_bound(lower), upper=_bound(upper)))
        report.created.append(name)
        report.moved += int(moved)
    return report


def _bound(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")
