"""The check's statement stays prepared on PostgreSQL (issue 17, P2).

psycopg prepares a statement on the server once a connection has run it five times, and forgets every one of
them at each ROLLBACK; every SQLAlchemy session ends with one. The fast paths (the check, the one-click, the
import) therefore borrow their connections from a pool of their own (prefs/db/engine.py), which no session
uses: sharing one pool, a session's end dropped the check's prepared statement and a third of the checks were
parsed and planned afresh. Behind pgbouncer in transaction mode nothing is prepared at all (prepare_threshold
off), so these tests run on PostgreSQL without a pooler."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from conftest import TEST_DATABASE_URL, requires_postgres

from prefs.db.driver import fast_paths_engine
from prefs.extensions import db

pytestmark = [
    requires_postgres,
    pytest.mark.skipif(bool(os.environ.get("PREFS_DATABASE_POOLER")), reason="behind a transaction pooler nothing is prepared"),
]


def runs_of_prepared_statements(app) -> dict[str, int]:
    """Every statement prepared on the connections resting in the fast paths' pool, with how often it ran
    prepared. Read in autocommit: a transaction would end with a ROLLBACK on the way back to the pool, and
    psycopg would drop them all."""
    with app.app_context():
        engine = fast_paths_engine(db.engine)
        held = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
        try:
            runs: dict[str, int] = {}
            for connection in held:
                driver = connection.driver_connection
                driver.autocommit = True
                try:
                    rows = driver.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements").fetchall()
                finally:
                    driver.autocommit = False
                for text, count in rows:
                    runs[text] = runs.get(text, 0) + count
            return runs
        finally:
            for connection in held:
                connection.close()


def test_the_checks_statement_stays_prepared_after_sessions_end(app, api, newsletter, person):
    for _ in range(8):  # past psycopg's prepare_threshold of 5
        assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True
    # Requests that go through the session, which ends each with a ROLLBACK (a read) or a COMMIT (a write).
    assert api.get("/recipients/cust-1").status_code == 200
    assert api.put("/recipients/cust-1", {"email": "ann@example.com", "locale": "de"}).status_code == 200
    assert api.get("/topics").status_code == 200

    runs = runs_of_prepared_statements(app)
    by_id = [text for text in runs if "FROM recipients r" in text and "WHERE r.id IN ($1)" in text]
    assert len(by_id) == 1, runs
    # The next check runs that prepared statement.
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True
    assert runs_of_prepared_statements(app)[by_id[0]] == runs[by_id[0]] + 1


def test_disposing_of_the_apps_engine_closes_the_fast_paths_connections(app, api, newsletter, person):
    """Tests and benchmarks dispose of db.engine to let go of the database; the fast paths' pool must go with it
    (a connection left open keeps the database busy: a DROP DATABASE waits for it)."""
    api.check("newsletter", "email", recipient_id="cust-1")
    with app.app_context():
        connection = fast_paths_engine(db.engine).raw_connection()
        pid = connection.driver_connection.info.backend_pid
        connection.close()  # back to the pool, open
        db.engine.dispose()
    with psycopg.connect(TEST_DATABASE_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as own:
        deadline = time.monotonic() + 10
        while own.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the fast paths' connection is still open"
            time.sleep(0.02)
