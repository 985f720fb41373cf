"""fast_write(): the one-click regime writes with plain SQL only; a session write inside it raises at once
(on SQLite it would otherwise wait for the fast write's own lock until the busy timeout), with nothing written."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from conftest import BASE_SETTINGS, requires_postgres
from psycopg import pq
from sqlalchemy import func, select, text

from prefs import create_app
from prefs.db.driver import DriverSql
from prefs.db.transactions import FastWriteViolation, fast_write, unit_of_work
from prefs.extensions import db
from prefs.models import Recipient, Suppression
from prefs.runtime import runtime
from prefs.services.events import Actor, ChangeContext
from prefs.services.recipients import upsert_recipient
from prefs.services.suppressions import suppress

CONTEXT = ChangeContext(Actor("api", "test", "api"))


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_an_orm_flush_inside_a_fast_write_raises_and_writes_nothing(app):
    with app.app_context():
        before = count(Recipient)
        with pytest.raises(FastWriteViolation):
            fast_write(lambda: upsert_recipient(runtime(), "cust-new", {"email": "new@example.com"}, CONTEXT))
        assert not db.session.new  # the refused object does not ride along in a later commit
        unit_of_work(lambda: None)
        assert count(Recipient) == before


@pytest.mark.parametrize(
    "write",
    [
        lambda: suppress(runtime().address_hash, "email", "ann@example.com", "test"),  # an INSERT built with SQLAlchemy
        lambda: db.session.execute(text("  delete from suppressions")),  # plain SQL through the session
    ],
    ids=["statement", "text"],
)
def test_a_session_write_statement_inside_a_fast_write_raises_and_writes_nothing(app, write):
    with app.app_context():
        unit_of_work(lambda: suppress(runtime().address_hash, "email", "kept@example.com", "test"))
        with pytest.raises(FastWriteViolation):
            fast_write(write)
        assert count(Suppression) == 1


def test_the_same_writes_outside_a_fast_write_are_allowed(app):
    with app.app_context():
        before = count(Recipient)
        unit_of_work(lambda: suppress(runtime().address_hash, "email", "ann@example.com", "test"))
        unit_of_work(lambda: upsert_recipient(runtime(), "cust-new", {"email": "new@example.com"}, CONTEXT))
        assert (count(Suppression), count(Recipient)) == (1, before + 1)


@pytest.mark.parametrize(
    ("link", "reason"), [({"topic": "newsletter"}, "unsubscribed"), ({}, "channel_unsubscribed")], ids=["topic", "channel"]
)
def test_the_one_click_path_never_trips_the_guard(api, app, newsletter, person, link, reason):
    url = api.post("/links", {"recipient_id": "cust-1", **link}).get_json()["unsubscribe_url"]
    anonymous = app.test_client(use_cookies=False)
    for _ in range(2):  # the second click changes nothing and takes the same path
        assert anonymous.post(urlparse(url).path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == reason


@requires_postgres
@pytest.mark.parametrize("pooler, pipelined", [("", True), ("pgbouncer", False)])
def test_the_fast_write_pipelines_its_statements_except_behind_a_transaction_pooler(database_url, pooler, pipelined):
    """A pipeline behind pgbouncer turns the pooler's own error, when the server behind it dies, into a 500
    (DriverSql.pipeline): the kill test through pgbouncer met it about one run in eight."""
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_DATABASE_POOLER": pooler})
    with app.app_context():
        try:
            status = fast_write(lambda: DriverSql()._dbapi.driver_connection.pgconn.pipeline_status)
            assert (status != pq.PipelineStatus.OFF) is pipelined
        finally:
            db.engine.dispose()


def test_a_deadlock_victim_runs_again(app):
    """PostgreSQL ends a deadlock by rolling one transaction back, nothing of it written: unit_of_work runs it
    once more (two PUTs taking each other's signup addresses: tests/test_subscribe_forms.py)."""
    from psycopg.errors import DeadlockDetected

    runs = []

    def deadlocked_once() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise DeadlockDetected("deadlock detected")
        return "done"

    with app.app_context():
        assert unit_of_work(deadlocked_once) == "done"
    assert len(runs) == 2
