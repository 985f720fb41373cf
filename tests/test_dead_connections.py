"""The pool pings no connection before use (issue 17: a round trip per request saved), so a connection the
server closed while it sat in the pool must be noticed some other way: at checkout, without a round trip
(prefs/db/engine.py), or at a read's first statement, retried once (prefs/db/driver.py). Here the server
ends every idle connection of the app (as a restart or an idle timeout does) between two requests, and each
kind of request must still be answered as if nothing happened."""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

import psycopg
import pytest
import sqlalchemy as sa
from conftest import BASE_SETTINGS, TEST_DATABASE_URL, ApiClient, requires_postgres
from interrupting_proxy import InterruptingProxy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from prefs import create_app
from prefs.db.driver import DriverSql, fast_paths_engine
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
        # Take every pooled connection out (and a few more) of the session's pool and the fast paths' (the check,
        # the one-click: db/engine.py), note their server pids, put them all back.
        with app.app_context():
            engines = (db.engine, fast_paths_engine(db.engine))
            held = [engine.raw_connection() for engine in engines for _ in range(max(5, engine.pool.checkedin()))]
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
    reason="behind a transaction pooler the pids are the pooler's, not the server's",
)
def test_a_dead_connection_a_session_finds_empties_the_fast_paths_pool(app, api, newsletter, person):
    """In a failover connections can die silently (no FIN, so the checkout's look at the socket passes). When a
    session finds its connection dead, SQLAlchemy renews the sessions' pool; the fast paths' pool (the check, the
    one-click: db/engine.py) on the same server is emptied too, so their next request does not fail on a dead
    connection as well (found in review)."""
    api.check("newsletter", "email", recipient_id="cust-1")  # the fast paths' pool now holds an idle connection
    with app.app_context():
        idle = fast_paths_engine(db.engine).raw_connection()
        resting = idle.driver_connection
        idle.close()  # back to the pool
        db.session.execute(text("SELECT 1"))
        end_server_side([db.session.connection().connection.driver_connection.info.backend_pid])
        with pytest.raises(sa.exc.OperationalError) as failure:
            db.session.execute(text("SELECT 1"))
        assert failure.value.connection_invalidated
        db.session.rollback()
    assert resting.closed
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True


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


@pytest.fixture
def behind_interrupting_pooler(database_url):
    """A second app on the same database, through a proxy that can put pgbouncer's "server conn crashed?" error
    before the server's next answer (tests/interrupting_proxy.py), with PREFS_DATABASE_POOLER=pgbouncer."""
    url = make_url(database_url)
    proxy = InterruptingProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": proxied, "PREFS_DATABASE_POOLER": "pgbouncer"})
    yield app, proxy
    with app.app_context():
        db.engine.dispose()
    proxy.close()


def test_an_answer_the_pooler_interrupts_is_a_503_and_its_connection_is_not_used_again(
    api, make_key, newsletter, person, behind_interrupting_pooler
):
    """When PostgreSQL dies behind pgbouncer, pgbouncer may tell a client so just as the client's pooled
    connection starts its next command, which then reads two answers: psycopg raised InternalError ("received 2
    results from command 'BEGIN'"), a 500 on the one-click, and the connection stayed in the pool. The kill test
    through pgbouncer (tests/test_postgres_outage.py) met it on a busy machine. It is the outage's 503 now, and
    the next request gets a sound connection."""
    app, proxy = behind_interrupting_pooler
    client = app.test_client()
    mailer = ApiClient(client, make_key("mailer", "check"))
    link = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()
    one_click = urlparse(link["unsubscribe_url"]).path
    assert mailer.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True  # the pool holds a connection

    proxy.arm()
    refused = client.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert proxy.interrupted == 1
    assert refused.status_code == 503 and "briefly unavailable" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"]
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True  # nothing written
    assert client.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # as the provider retries
    assert mailer.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"

    proxy.arm()
    check = mailer.post("/check", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"})
    assert proxy.interrupted == 2
    assert check.status_code == 503 and check.get_json()["error"]["code"] == "unavailable"
    assert mailer.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"


def session_dies_after_the_view(app) -> list[int]:
    """Make each request's session read, then lose its connection, after the view made its answer and before
    the request ends (as when the catalogue's poll used the session, then the server died): the session still
    holds that read's transaction, which the end of the request must roll back. Returns the pids ended."""
    ended: list[int] = []

    def read_then_die(response):
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # the server's, even behind pgbouncer
        end_server_side([pid])
        ended.append(pid)
        return response

    # Straight into Flask's table: the app has served requests, so after_request() would refuse a new hook.
    app.after_request_funcs.setdefault(None, []).insert(0, read_then_die)
    return ended


@pytest.mark.parametrize("kind", ["one_click", "check"])
def test_a_connection_that_dies_after_the_answer_is_made_leaves_the_answer_and_the_next_request_sound(
    app, api, client, newsletter, person, kind
):
    """The session's transaction is ended when the request ends, after its answer is made. That rollback failing
    on a dead connection escaped Flask, and gunicorn turned the one-click's committed unsubscribe (or a check)
    into its own bare 500 (the kill test through pgbouncer met it in CI). Now the answer stands, and the session
    is discarded, so the thread's next request starts clean."""
    link = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()
    ended = session_dies_after_the_view(app)
    if kind == "one_click":
        answer = client.post(urlparse(link["unsubscribe_url"]).path, data={"List-Unsubscribe": "One-Click"})
    else:
        answer = api.post("/check", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert len(ended) == 1
    app.after_request_funcs[None].pop(0)
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is (kind == "check")


@pytest.mark.parametrize("kind", ["one_click", "check"])
def test_a_connection_the_server_ends_for_idling_in_a_transaction_leaves_the_answer(app, api, client, newsletter, person, kind):
    """A DBA's idle_in_transaction_session_timeout ends the connection of a request's read transaction left idle
    while the request works elsewhere: the error (SQLSTATE 25P03) is an InternalError to psycopg, which the end of
    the request re-raised as a bug, and gunicorn answered 500 (found in review)."""
    link = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()

    def read_then_idle(response):
        db.session.execute(text("SET idle_in_transaction_session_timeout = '100ms'"))  # as a DBA's setting would be
        time.sleep(0.5)
        return response

    app.after_request_funcs.setdefault(None, []).insert(0, read_then_idle)
    try:
        if kind == "one_click":
            answer = client.post(urlparse(link["unsubscribe_url"]).path, data={"List-Unsubscribe": "One-Click"})
        else:
            answer = api.post("/check", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"})
    finally:
        app.after_request_funcs[None].pop(0)
    assert answer.status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is (kind == "check")


def test_a_refusal_whose_connection_died_stays_the_refusal(app, api, client, newsletter, person, monkeypatch):
    """The error handlers roll back the request's transaction; on a connection that died after the request's
    reads that rollback raised, and a 401 or a 404 page became a 500 (found in review)."""
    from prefs.pages import unsubscribe as unsubscribe_pages
    from prefs.runtime import runtime

    def and_then_the_connection_dies(read):
        def reading(*args, **kwargs):
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            try:
                return read(*args, **kwargs)  # it may refuse (raise): the connection dies all the same
            finally:
                end_server_side([pid])

        return reading

    with app.app_context():
        keys = runtime().api_keys
    monkeypatch.setattr(keys, "holder", and_then_the_connection_dies(keys.holder))
    unknown_key = client.post("/api/v1/check", json={"recipient_id": "cust-1"}, headers={"Authorization": "Bearer not-a-key"})
    assert unknown_key.status_code == 401 and unknown_key.get_json()["error"]["code"] == "unauthorized"
    monkeypatch.undo()

    link = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()
    assert api.delete("/recipients/cust-1").status_code == 204  # erased: the link's page is a 404
    monkeypatch.setattr(
        unsubscribe_pages, "readable_recipient", and_then_the_connection_dies(unsubscribe_pages.readable_recipient)
    )
    page = client.get(urlparse(link["unsubscribe_url"]).path)
    assert page.status_code == 404 and "text/html" in page.content_type
