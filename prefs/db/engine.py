"""The engine's wiring: every wait on the database bounded, SQLite's pragmas, the fast-write guard on the session.

On PostgreSQL the fast paths (db/driver.py: the check's reads, the one-click's transaction, the import) take
their connections from a second engine of their own, with the same options. psycopg forgets every
server-side prepared statement of a connection at each ROLLBACK (psycopg/_preparing.py), and every
session ends with one: sharing one pool, the check's statement lost its prepared form whenever a session
had used its connection, and about a third of the checks were parsed and planned afresh (the database's
CPU per check about 600 µs instead of about 300 µs, measured with bench/run.py on a 2-core machine). The fast paths end their
transactions with COMMIT, or in autocommit with nothing, so their connections keep their prepared
statements. Each sync worker still holds at most two connections at a time (docs/scaling.md): a request's
session's, and its fast path's. SQLite keeps one engine (an in-memory database is one connection's, and
sqlite3's statement cache survives a rollback).
"""

from __future__ import annotations

import select
import sqlite3
from collections.abc import Mapping
from typing import Any

from flask import Flask
from psycopg.pq import ConnStatus
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from ..extensions import db
from ..metrics import POOL_CAPACITY, POOL_IN_USE
from .driver import NO_PIPELINES, give_fast_paths_their_engine, lost_its_place
from .transactions import guard_fast_writes


def init_engine(app: Flask) -> None:
    """Bind the Flask-SQLAlchemy extension to the configured database, and give the fast paths their engine."""
    # Every wait on the database is bounded (connect, pool, statement); past it, 503 (prefs/outages.py).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine, app.config["PREFS_SQLITE_SYNCHRONOUS"])
            fast_paths = engine
        else:
            fast_paths = create_engine(engine.url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
            # Disposing of the app's engine (tests, benchmarks) disposes of both, closing the connections: the
            # event does not say whether dispose(close=False) was asked, which a process forked from one that had
            # connected would need. Nothing here forks after connecting (gunicorn workers import the app
            # themselves; the import's validators are spawned, not forked).
            event.listen(engine, "engine_disposed", lambda _engine: fast_paths.dispose())
            give_fast_paths_their_engine(engine, fast_paths)
            _wire(fast_paths, app, FAST_PATHS_POOL, counted_from_first_use=True)
        _wire(engine, app, SESSIONS_POOL)
        if fast_paths is not engine:
            event.listen(engine, "handle_error", _disconnects_empty(fast_paths))
    guard_fast_writes(db.session)


# The `pool` label of the pool metrics. On SQLite the fast paths use the sessions' pool.
SESSIONS_POOL, FAST_PATHS_POOL = "sessions", "fast_paths"


def _wire(engine: Engine, app: Flask, pool_name: str, counted_from_first_use: bool = False) -> None:
    _count_pool_use(engine, pool_name, counted_from_first_use)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", _refuse_dead_connections)
        event.listen(engine, "handle_error", _discard_lost_connections)
        if app.config["PREFS_DATABASE_POOLER"]:
            event.listen(engine, "connect", _no_pipelines)


def _count_pool_use(engine: Engine, pool_name: str, counted_from_first_use: bool) -> None:
    """prefs_db_pool_connections_in_use and _capacity (prefs/metrics.py), per pool: a pool running dry shows
    there first. The fast paths' pool counts its capacity from its first use, so that processes which never
    use it (the delivery worker, most commands) do not dilute its ratio with connections no one asks for."""
    in_use = POOL_IN_USE.labels(pool=pool_name)
    capacity = POOL_CAPACITY.labels(pool=pool_name)
    pool = engine.pool
    size = pool.size() + max(getattr(pool, "_max_overflow", 0), 0) if isinstance(pool, QueuePool) else 0  # no public accessor
    counted = [False]

    def checked_out(*_: Any) -> None:
        if not counted[0]:
            counted[0] = True
            capacity.inc(size)
        in_use.inc()

    if not counted_from_first_use:
        counted[0] = True
        capacity.inc(size)
    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", lambda *_: in_use.dec())


def _disconnects_empty(fast_paths: Engine):
    """A handle_error listener for the sessions' engine: when a session finds its connection dead, SQLAlchemy
    marks every older connection of that pool for replacement; the fast paths' pool, on the same server, is
    emptied too. Without it, a failover whose connections die silently (no FIN, so the checkout's look at the
    socket passes) would cost each worker a second slow failure, on the check or the one-click."""

    def empty(context: ExceptionContext) -> None:
        if context.is_disconnect:
            fast_paths.dispose()  # idle connections closed now; those in use are dropped when given back

    return empty


def _refuse_dead_connections(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle timeout, a pooler's recycling) is
    replaced at checkout without a round trip: the driver already knows it broke, or its socket, idle between
    requests, has something to read, which on an idle connection can only be the server's goodbye (an
    error notice, then end of file). The pool drops it and opens another (SQLAlchemy's disconnect
    handling); a connection that dies silently (a cable pulled) is caught at its first use instead."""
    if dbapi_connection.closed or dbapi_connection.pgconn.status != ConnStatus.OK:
        raise DisconnectionError("connection closed")
    if select.select([dbapi_connection.pgconn.socket], [], [], 0)[0]:
        raise DisconnectionError("the server closed the connection while it was idle in the pool")


def _discard_lost_connections(context: ExceptionContext) -> None:
    """SQLAlchemy's statements: a connection that lost its place in the protocol (db/driver.py, lost_its_place)
    counts as a disconnect, so the pool discards it; plain SQL on the driver closes it itself."""
    if lost_its_place(context.original_exception):
        context.is_disconnect = True


def _no_pipelines(_dbapi_connection: Any, record: Any) -> None:
    """Behind a transaction pooler, the fast paths do not use psycopg's pipeline mode (DriverSql.pipeline)."""
    record.info[NO_PIPELINES] = True


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options for the configured database, with every wait bounded.

    PostgreSQL: `connect_timeout` (a server that accepts and never answers fails in that many seconds),
    `statement_timeout` (set once per connection at connect time, not per request), TCP keepalives for a
    server gone from the network (dead_peer_options). SQLite: its busy
    timeout (how long a statement waits for another writer's lock). A server database also bounds how
    long a request waits for a pooled connection (SQLite's in-memory pools take no such option).
    `hide_parameters`: an error never carries a statement's values into a log. Values already in the
    database URL's query string win.

    Behind a transaction pooler (PREFS_DATABASE_POOLER=pgbouncer) a server connection serves another client
    after every transaction: psycopg's server-side prepared statements would meet a connection that never
    prepared them (pgbouncer before 1.21), so they are off, and the statement timeout cannot ride on the
    connection's start-up options (pgbouncer refuses them): set it on the database role instead
    (`ALTER ROLE prefs SET statement_timeout = '15s'`, README). Nor do the fast paths use pipeline mode there
    (init_engine marks each connection; DriverSql.pipeline says why).
    """
    uri = config["SQLALCHEMY_DATABASE_URI"]
    connect_seconds = config["PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS"]
    statement_seconds = config["PREFS_DATABASE_STATEMENT_TIMEOUT_SECONDS"]
    if uri.startswith("sqlite"):
        return {"hide_parameters": True, "connect_args": {"timeout": statement_seconds}}
    given = make_url(uri).query
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in given:
        connect_args["connect_timeout"] = connect_seconds
    dead_peer = dead_peer_options(connect_seconds)
    if not any(name in given for name in dead_peer):  # the URL's own TCP settings, if any, stand whole
        connect_args.update(dead_peer)
    if config.get("PREFS_DATABASE_POOLER") == "pgbouncer":
        connect_args["prepare_threshold"] = None
    elif "options" not in given:
        connect_args["options"] = f"-c statement_timeout={statement_seconds * 1000}"
    # No pool_pre_ping: it costs a round trip on every checkout. A dead connection is caught at checkout
    # without one (_refuse_dead_connections) or at its first use (db/driver.py retries a read once).
    return {"hide_parameters": True, "pool_timeout": connect_seconds, "connect_args": connect_args}


def dead_peer_options(connect_seconds: int) -> dict[str, int]:
    """libpq's TCP settings that find a server gone from the network (a partition, a dead host) on a connection
    already open: after `connect_seconds` of silence the kernel probes every second, and three probes unanswered
    (or data unacknowledged as long) end the connection, an outage's 503: 6 s with the default 3, within
    gunicorn's 30 s for up to 26. The OS defaults would wait for hours. Any of them in the database URL turns
    these off, as they work together (tcp_user_timeout also bounds the probes). Client-side only, so pgbouncer takes them too. They cannot see a server
    process that hangs while its host's kernel still answers (SIGSTOP, a stuck disk): statement_timeout bounds
    the server's work, nothing here bounds that wait (README, "When the database fails")."""
    probes, every = 3, 1
    return {
        "keepalives": 1,
        "keepalives_idle": connect_seconds,
        "keepalives_interval": every,
        "keepalives_count": probes,
        "tcp_user_timeout": (connect_seconds + probes * every) * 1000,
    }


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    """WAL (readers never block the writer), foreign keys on, synchronous NORMAL survives a killed process."""

    @event.listens_for(engine, "connect")
    def on_connect(connection: sqlite3.Connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")  # validated: NORMAL or FULL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
