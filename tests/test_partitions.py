"""consent_events partitioned by month on PostgreSQL (issue 17, migration 0014). SQLite has no partitioning: the
PostgreSQL-only tests skip there, and the change feed's test runs on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from threading import Thread

import pytest
from conftest import ON_POSTGRES, requires_postgres
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from prefs.db import driver
from prefs.extensions import db
from prefs.models import ConsentEvent, utcnow
from prefs.services.partitions import MONTHS_AHEAD, add_months, month_partition


def _month(ahead: int) -> tuple[str, datetime, datetime]:
    now = utcnow()
    return month_partition(*add_months(now.year, now.month, ahead))


def _event(app, at: datetime, recipient_id: str = "p-1") -> int:
    """An event written at `at` (the services stamp the current time; these tests need chosen months)."""
    with app.app_context():
        event = ConsentEvent(
            at=at, recipient_id=recipient_id, actor="system", actor_id=None, via="test", kind="channel_stop",
            topic=None, channel="email", before=False, after=True,
        )  # fmt: skip
        db.session.add(event)
        db.session.commit()
        return event.id


def _sql(app, statement: str, **params):
    with app.app_context():
        rows = db.session.execute(text(statement), params).all()
        db.session.commit()
        return rows


def _partition_of(app, event_id: int) -> str:
    return _sql(app, "SELECT tableoid::regclass::text FROM consent_events WHERE id = :id", id=event_id)[0][0]


def _partitions(app) -> set[str]:
    statement = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'consent_events'::regclass"
    )
    return {name for (name,) in _sql(app, statement)}


def _feed(api, after: int = 0, limit: int = 1) -> list[int]:
    """Every event id after `after`, one page of `limit` at a time, as a follower of the feed reads them."""
    seen = []
    while True:
        page = api.get(f"/events?after={after}&limit={limit}").get_json()
        if page["next"] is None:
            return seen
        seen += [event["id"] for event in page["events"]]
        after = page["next"]


def test_the_feed_reads_in_id_order_across_months(app, api):
    """Events in this month, the next, this one again and ten years on (a month with no partition: the
    default one on PostgreSQL) come out in id order, none skipped, page by page."""
    _name, this_lower, this_upper = _month(0)
    _next, next_lower, _ = _month(1)
    written = [
        _event(app, this_upper - timedelta(microseconds=1), "p-1"),  # the last instant of this month
        _event(app, next_lower, "p-2"),  # the first of the next
        _event(app, this_lower + timedelta(days=3), "p-1"),
        _event(app, this_lower.replace(year=this_lower.year + 10), "p-3"),
    ]
    assert written == sorted(written)
    assert _feed(api) == written
    assert _feed(api, limit=1000) == written
    assert _feed(api, after=written[1]) == written[2:]
    if ON_POSTGRES:
        assert len({_partition_of(app, event_id) for event_id in written}) == 3


@requires_postgres
def test_consent_events_is_partitioned_by_month_with_a_default_partition(app):
    ((kind, key),) = _sql(
        app, "SELECT c.relkind, pg_get_partkeydef(c.oid) FROM pg_class c WHERE c.oid = 'consent_events'::regclass"
    )
    assert (kind, key) == ("p", "RANGE (at)")
    partitions = _partitions(app)
    assert "consent_events_default" in partitions
    assert {_month(ahead)[0] for ahead in range(MONTHS_AHEAD + 1)} <= partitions
    ((primary_key,),) = _sql(app, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_consent_events'")
    assert primary_key == "PRIMARY KEY (id, at)"


@requires_postgres
def test_events_land_in_their_months_partition_or_the_default_one(app, api, newsletter, person):
    this_name, this_lower, _ = _month(0)
    next_name, next_lower, _ = _month(1)
    here = _event(app, this_lower + timedelta(hours=1))
    there = _event(app, next_lower + timedelta(hours=1))
    nowhere = _event(app, datetime(2099, 6, 15, tzinfo=UTC))
    assert (_partition_of(app, here), _partition_of(app, there)) == (this_name, next_name)
    assert _partition_of(app, nowhere) == "consent_events_default"
    # The services' own writes (stamped now) go to this month's partition, with ids from the one sequence.
    assert api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email",
                                                                      "subscribed": False}]}).status_code == 200  # fmt: skip
    ((latest, partition),) = _sql(
        app, "SELECT max(id), min(tableoid::regclass::text) FROM consent_events WHERE id > :id", id=nowhere
    )
    assert latest > nowhere and partition == this_name


@requires_postgres
def test_ensure_makes_the_missing_months_once_and_moves_their_events_out_of_the_default(app, api, runner):
    ahead = MONTHS_AHEAD + 4
    name, lower, _ = _month(ahead)
    assert name not in _partitions(app)
    early = _event(app, lower + timedelta(days=1))
    assert _partition_of(app, early) == "consent_events_default"
    before = _feed(api, limit=1000)

    result = runner.invoke(args=["partitions", "ensure", "--months", str(ahead)])
    assert result.exit_code == 0, result.output
    assert f"created {name}" in result.output and "1 events moved out of the default partition" in result.output
    assert _partition_of(app, early) == name
    assert _feed(api, limit=1000) == before  # the same events, the same ids, in the same order

    again = runner.invoke(args=["partitions", "ensure", "--months", str(ahead)])
    assert again.exit_code == 0 and "0 partitions created, 0 events moved" in again.output


@requires_postgres
def test_ensure_holds_event_writers_off_while_it_moves_and_attaches(app, api, runner, newsletter, person, monkeypatch):
    """Found by this round's review: an event committed between the move out of the default partition and the
    attach made the attach fail, so under traffic a missing month never got its partition."""
    name, _, _ = _month(0)
    with app.app_context():  # the worker has not run for months: this month has no partition of its own
        db.session.execute(text(f"DROP TABLE {name}"))
        db.session.commit()
    change = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    assert api.patch("/recipients/cust-1/preferences", change).status_code == 200  # into the default partition
    rows, writer, answers = driver.DriverSql.rows, [], []

    def meanwhile(self, statement, params=()):
        result = rows(self, statement, params)
        if "WITH moved AS" in statement and not writer:  # traffic goes on during the move
            again = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]}
            writer.append(Thread(target=lambda: answers.append(api.patch("/recipients/cust-1/preferences", again))))
            writer[0].start()
            writer[0].join(timeout=1)  # it commits now, or it waits for the partition's commit
        return result

    monkeypatch.setattr(driver.DriverSql, "rows", meanwhile)
    result = runner.invoke(args=["partitions", "ensure"])
    monkeypatch.undo()
    writer[0].join(timeout=30)
    assert result.exit_code == 0, result.output
    assert f"created {name}" in result.output
    assert [answer.status_code for answer in answers] == [200]
    latest = api.get("/recipients/cust-1/events?limit=1").get_json()["events"][0]
    assert (latest["after"], _partition_of(app, latest["id"])) == (True, name)


@requires_postgres
def test_the_worker_makes_the_coming_months_partitions(app, runner):
    name, _, _ = _month(MONTHS_AHEAD)
    with app.app_context():
        db.session.execute(text(f"DROP TABLE {name}"))  # a month whose partition nobody made yet (it held no events)
        db.session.commit()
    assert name not in _partitions(app)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert name in _partitions(app)


@requires_postgres
def test_the_migration_moves_rows_both_ways_and_keeps_the_sequence(app, api):
    _name, this_lower, _ = _month(0)
    old = [_event(app, datetime(2024, 1, 31, 23, 59, tzinfo=UTC)), _event(app, this_lower + timedelta(days=1))]
    with app.app_context():
        db.engine.dispose()  # the migration takes an exclusive lock: no pooled connection may hold a share of it
        try:
            downgrade(revision="0013")
            ((kind,),) = db.session.execute(text("SELECT relkind FROM pg_class WHERE oid = 'consent_events'::regclass")).all()
            ids = [row[0] for row in db.session.execute(text("SELECT id FROM consent_events ORDER BY id"))]
            db.session.commit()
            assert (kind, ids) == ("r", old)
        finally:
            db.session.remove()
            upgrade()
    assert _partition_of(app, old[0]) == "consent_events_y2024m01"
    assert _event(app, utcnow()) > old[1]  # numbering goes on from the same sequence
    assert _feed(api, limit=1000)[:2] == old


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite only: there is nothing to partition")
def test_ensure_on_sqlite_says_there_is_nothing_to_do(runner):
    result = runner.invoke(args=["partitions", "ensure"])
    assert result.exit_code == 0 and "not partitioned" in result.output
