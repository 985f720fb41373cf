"""The pool pings no connection before use (issue 17: a round trip per request saved), so a connection the
server closed while it sat in the pool must be noticed some other way: at checkout, without a round trip
(prefs/db/engine.py), or at a read's first statement, retried once (prefs/db/driver.py). Here the server
ends every idle connection of the app (as a restart or an idle timeout does) between two requests, and each
kind of request must still be answered as if nothing happened."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import psycopg
import pytest
from conftest import TEST_DATABASE_URL, requires_postgres

from prefs.db.driver import DriverSql
from prefs.extensions import db
from prefs.services.states import load_states

pytestmark = requires_postgres


def end_server_side(pids: list[int]) -> None:
    """Terminate these backends from a connection of our own (not the pool's), and wait until they are gone."""
    with psycopg.connect(TEST_DATABASE_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as own:
        own.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        for _ in range(500):  # termination is asynchronous
            if not own.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone()[0]:
                return
            own.execute("SELECT pg_sleep(0.01)")
    raise AssertionError("the server did not end the connections")


@pytest.fixture
def dead_pool(app):
    """Make the pool hold connections the server has since closed: warm it, then end them server-side."""

    def kill() -> None:
        # Take every pooled connection out (and a few more), note their server pids, put them all back.
        with app.app_context():
            held = [db.engine.raw_connection() for _ in range(max(5, db.engine.pool.checkedin()))]
            pids = [connection.driver_connection.info.backend_pid for connection in held]
            for connection in held:
                connection.close()  # back to the pool, alive for now
            end_server_side(pids)

    return kill


def test_a_check_on_a_connection_the_server_closed_is_answered(api, newsletter, person, dead_pool):
    before = api.check("newsletter", "email", recipient_id="cust-1")
    dead_pool()
    assert api.check("newsletter", "email", recipient_id="cust-1") == before


def test_a_one_click_on_a_connection_the_server_closed_is_stored(api, client, newsletter, person, dead_pool):
    url = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()["unsubscribe_url"]
    dead_pool()
    assert client.post(urlparse(url).path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"


def test_an_ordinary_write_on_a_connection_the_server_closed_is_stored(api, newsletter, person, dead_pool):
    dead_pool()
    response = api.put("/recipients/cust-2", {"email": "bea@example.com"})
    assert response.status_code == 201, response.get_json()
    assert api.get("/recipients/cust-2").status_code == 200


def test_a_read_whose_connection_dies_before_its_first_statement_is_retried_once(app, newsletter, person):
    """The checkout test cannot see a connection that dies after it: the read itself replaces it once."""
    with app.app_context():
        sql = DriverSql(standalone=True, reads_only=True)  # as services/checks.evaluate opens it
        try:
            end_server_side([sql._dbapi.driver_connection.info.backend_pid])
            states = load_states("recipient_id", ["cust-1"], sql)  # the check's own look-up
            assert states["cust-1"].id == "cust-1"
        finally:
            sql.close()


@pytest.mark.skipif(
    bool(os.environ.get("PREFS_DATABASE_POOLER")),
    reason="behind a transaction pooler the server connection ended is the pooler's, not ours: nothing fails to retry",
)
def test_a_read_whose_connection_dies_while_the_server_is_down_raises_the_outage(app, newsletter, person, monkeypatch):
    """The one retry cannot connect either: the caller gets the driver's error (its 503), not a failure to give
    back the connection it discarded (what answered 500 when PostgreSQL was killed under load)."""

    def refused() -> None:
        raise psycopg.OperationalError("connection failed: Connection refused")

    with app.app_context():
        sql = DriverSql(standalone=True, reads_only=True)
        try:
            end_server_side([sql._dbapi.driver_connection.info.backend_pid])
            monkeypatch.setattr(sql, "_checkout", refused)  # the server is down: no new connection
            with pytest.raises(psycopg.OperationalError, match="Connection refused"):
                load_states("recipient_id", ["cust-1"], sql)
        finally:
            sql.close()  # nothing to give back


@pytest.mark.skipif(
    bool(os.environ.get("PREFS_DATABASE_POOLER")),
    reason="behind a transaction pooler the server connection ended is the pooler's, not ours: nothing fails to retry",
)
def test_a_write_whose_connection_dies_mid_transaction_is_not_retried(app):
    """A write is not repeated behind the caller's back (it may have half happened): it fails, and the
    caller's answer is the outage's 503 (tests/test_outages.py)."""
    with app.app_context():
        sql = DriverSql(standalone=True)
        try:
            sql.rows("SELECT 1")
            end_server_side([sql._dbapi.driver_connection.info.backend_pid])
            with pytest.raises((psycopg.OperationalError, psycopg.InterfaceError)):
                sql.rows("SELECT 1")
        finally:
            sql.close()
