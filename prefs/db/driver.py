"""SQL straight on the driver's cursor, inside the session's transaction: for the hot paths only.

The check, the one-click unsubscribe and the bulk import spend more time in SQLAlchemy's per-statement and
per-parameter work than in the database. Their few statements are plain SQL, named in db/statements.py, with
`?` placeholders (turned into `%s` for psycopg), and values are converted as the column types would have:
JSON as text, times as SQLite's text or PostgreSQL's timestamp. Everything else uses SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy.engine import Connection, Engine

from ..extensions import db
from .statements import BEGIN_IMMEDIATE, IN_LIST_POSTGRES_NUMBERS, IN_LIST_POSTGRES_TEXT, IN_LIST_SQLITE


class DriverSql:
    """By default inside the session's transaction, or inside the transaction of standalone_transaction()
    when one is open. `standalone=True` borrows a connection of its own from the fast paths' pool (db/engine.py),
    for the check's reads, skipping the session's begin and close; call close() to give it back."""

    connection: Connection | None  # the session's, when the statements run in its transaction
    _dbapi: Any  # the driver's connection (sqlite3 or psycopg) behind the pool's proxy
    postgres: bool
    _cursor: Any

    def __init__(self, standalone: bool = False, reads_only: bool = False) -> None:
        outer = _standalone.get()
        if outer is not None and not standalone:
            self.connection, self._dbapi, self.postgres = None, outer._dbapi, outer.postgres
            self._standalone, self._cursor, self._autocommit, self._used = False, None, False, True
            return
        self._standalone = standalone
        self._cursor = None
        self._autocommit = False
        self._used = False
        if standalone:
            self.connection = None
            self.postgres = db.engine.dialect.name == "postgresql"
            self._autocommit = reads_only and self.postgres
            self._checkout()
        else:
            self.connection = db.session.connection()  # begins the session's transaction if none is open
            self._dbapi = self.connection.connection
            self.postgres = self.connection.dialect.name == "postgresql"

    def _checkout(self) -> None:
        self._dbapi = fast_paths_engine(db.engine).raw_connection()
        if self._autocommit:
            # Reads only: each statement is its own transaction, so no BEGIN and no ROLLBACK round trips
            # (PostgreSQL's READ COMMITTED gives each statement its own snapshot either way).
            self._dbapi.driver_connection.autocommit = True

    @property
    def cursor(self):
        if self._cursor is None:
            self._cursor = self._dbapi.cursor()
        return self._cursor

    def sql(self, text: str) -> str:
        return _for_psycopg(text) if self.postgres else text

    def _run(self, text: str, params: Any) -> None:
        """Execute; a read-only standalone connection found dead at its first statement (the server
        restarted since the pool last used it) is replaced once: the pool no longer pings every checkout
        (prefs/db/engine.py), so the first use is where a dead connection shows."""
        first, self._used = not self._used, True
        try:
            try:
                self.cursor.execute(text, params)
            except DEAD_CONNECTION_ERRORS:
                if not (first and self._autocommit and self._dbapi.driver_connection.closed):
                    raise
                self._cursor = None
                self._dbapi.invalidate()
                # Nothing is held until the new checkout succeeds: if the server is still down it raises (the
                # caller's 503), and close() must not try to give back the connection just discarded.
                self._dbapi = None
                self._checkout()
                self.cursor.execute(text, params)
        except psycopg.InternalError as error:
            self._close_if_lost(error)
            raise

    def _close_if_lost(self, error: psycopg.InternalError) -> None:
        """A connection that lost its place in the protocol is closed at once: the pool then discards it (this
        class's close() and SQLAlchemy's reset both see it closed) instead of lending it again."""
        if lost_its_place(error):
            with suppress(psycopg.Error):
                self._dbapi.driver_connection.close()

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._run(self.sql(text), params)
        return self.cursor.fetchall()

    def fetch(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        """rows() for a statement already written in the driver's placeholder style (built per call, so not
        worth rewriting each time: the check's joined look-up, services/states.py)."""
        self._run(text, params)
        return self.cursor.fetchall()

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self._run(self.sql(text), params)

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.sql(text), rows)

    def select_in(self, statement: str, values: list) -> list[tuple]:
        """Rows of `statement` (db/statements.py) whose `{in_list}` key is among `values`, one bound parameter
        however many values."""
        if not values:
            return []
        self._run(*_with_in_list(statement, values, self.postgres))
        return self.cursor.fetchall()

    def execute_in(self, statement: str, values: list, more: Sequence[Any] = ()) -> None:
        """Run `statement` (an UPDATE, DELETE or INSERT ... SELECT) for the rows whose `{in_list}` key is among
        `values`; `more` are the parameters after the list's."""
        if values:
            text, (listed,) = _with_in_list(statement, values, self.postgres)
            self.cursor.execute(text, (listed, *more))

    def copy(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL: `rows` through `statement` (a COPY ... FROM STDIN), the bulk path of the import."""
        with self.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def time(self, moment: datetime) -> Any:
        """What SQLAlchemy's DateTime would send: text on SQLite, a timestamp on PostgreSQL."""
        return moment if self.postgres else moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def read_time(self, value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    @staticmethod
    def json(value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def read_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def begin_immediate(self) -> bool:
        """SQLite: start the transaction holding the write lock, if none is open yet. Returns whether it did."""
        if self.postgres or self._dbapi.in_transaction:
            return False
        self.cursor.execute(BEGIN_IMMEDIATE)
        return True

    def commit(self) -> None:
        try:
            self._dbapi.commit()
        except psycopg.InternalError as error:
            self._close_if_lost(error)
            raise

    def rollback(self) -> None:
        self._dbapi.rollback()

    def pipeline(self) -> AbstractContextManager[Any]:
        """psycopg's pipeline mode on PostgreSQL (statements sent without waiting for the ones before, their
        errors raised at the next read or the commit); nothing on SQLite, which has no round trips.

        Not behind a transaction pooler (PREFS_DATABASE_POOLER): when the server behind pgbouncer dies,
        pgbouncer tells the client with an error of its own besides the server's, which a pipeline does not
        expect. psycopg (3.3) then fails inside its own pipeline code (`IndexError: pop from an empty deque`),
        which no handler can tell from a bug: a 500 instead of the outage's 503 (the kill test through
        pgbouncer, tests/test_postgres_outage.py). Outside a pipeline the same error is an InternalError that
        lost_its_place() recognises. Without a pipeline the one-click takes seven round trips instead of three;
        a check takes one either way."""
        if self.postgres and _PIPELINES and not self._dbapi.info.get(NO_PIPELINES):
            return self._dbapi.driver_connection.pipeline()
        return nullcontext()

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None
        if self._standalone and self._dbapi is not None:
            if self._dbapi.driver_connection is None:
                pass  # already discarded: invalidate() gave it back to the pool
            elif getattr(self._dbapi.driver_connection, "closed", False):
                # It died under us (psycopg knows): discard it, rather than have the pool try to roll back
                # on it and log that failure with a traceback.
                self._dbapi.invalidate()
            else:
                if self._autocommit:
                    with suppress(*DEAD_CONNECTION_ERRORS):  # a dead connection is discarded by the pool anyway
                        self._dbapi.driver_connection.autocommit = False  # the pool's other users expect transactions
                self._dbapi.close()  # back to the pool (which rolls back whatever a transaction began)
            self._dbapi = None


# What a connection that died under us raises (the server restarted, the network dropped it).
DEAD_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def lost_its_place(error: BaseException) -> bool:
    """Whether psycopg raised `error` (or the driver error SQLAlchemy wrapped in it) because the connection read
    answers it did not ask for, not because the server refused a statement: an InternalError of psycopg's own,
    with no SQLSTATE ("received 2 results from command 'BEGIN'"). pgbouncer causes it when the server behind it
    dies: its "server conn crashed?" error can reach a pooled connection just as that starts its next command.
    The connection is unusable, as if the server had closed it; an InternalError the server sends (SQLSTATE
    class XX, e.g. data corruption) is a bug to look at, not this."""
    driver_error = getattr(error, "orig", None) or error
    if not isinstance(driver_error, psycopg.InternalError) or driver_error.sqlstate is not None:
        return False
    # psycopg's own words for answers out of step with the commands sent (psycopg 3.3; the interrupting proxy's
    # test in tests/test_dead_connections.py fails if they change): its other InternalErrors without SQLSTATE
    # are bugs of its own (found in review).
    return str(driver_error).startswith(_OUT_OF_STEP)


_OUT_OF_STEP = ("received ", "got no result from the query", "unexpected result status from query")


_PIPELINES = psycopg.Pipeline.is_supported()  # libpq 14 or later (the psycopg[binary] wheel bundles one)
# Set in a pooled connection's info by the engine's wiring behind a transaction pooler (db/engine.py).
NO_PIPELINES = "prefs_no_pipelines"
# Per app engine, the engine whose pool lends the standalone connections (db/engine.py says why).
_FAST_PATHS: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def fast_paths_engine(engine: Engine) -> Engine:
    """The engine that lends the fast paths their connections, for the app whose engine is `engine`."""
    return _FAST_PATHS.get(engine, engine)


def give_fast_paths_their_engine(engine: Engine, fast_paths: Engine) -> None:
    _FAST_PATHS[engine] = fast_paths


_standalone: ContextVar[DriverSql | None] = ContextVar("prefs_standalone_transaction", default=None)


@contextmanager
def standalone_transaction() -> Iterator[DriverSql]:
    """A transaction on a pooled connection of its own that every DriverSql() inside joins, committed on
    leaving (rolled back on an error). For the one-click path, whose statements are all plain SQL: it
    skips the session's begin, commit and close, a fifth of that request. Nothing in it may write through
    the session (on SQLite that second writer would wait for the first until it times out)."""
    sql = DriverSql(standalone=True)
    token = _standalone.set(sql)
    try:
        # PostgreSQL: pipeline mode sends what needs no answer (BEGIN, the writes, COMMIT) with the next
        # statement that does, so the one-click's seven round trips become three.
        with sql.pipeline():
            yield sql
            sql.commit()
    finally:
        _standalone.reset(token)
        sql.close()  # back to the pool, which rolls back anything left uncommitted


def standalone_transaction_open() -> bool:
    return _standalone.get() is not None


def _with_in_list(statement: str, values: list, postgres: bool) -> tuple[str, tuple[str]]:
    """`statement` with its `{in_list}` filled in for `values` (all whole numbers, or all text), and its one
    parameter: the values as one JSON array, or on PostgreSQL an array literal when they are numbers."""
    numbers = all(type(value) is int for value in values)
    if not numbers and not all(type(value) is str for value in values):
        raise TypeError("an {in_list} takes whole numbers or text, not a mix")
    if not postgres:
        return _in_list_statement(statement, IN_LIST_SQLITE), (json.dumps(values),)
    if numbers:
        return _in_list_statement(statement, IN_LIST_POSTGRES_NUMBERS), ("{" + ",".join(map(str, values)) + "}",)
    return _in_list_statement(statement, IN_LIST_POSTGRES_TEXT), (json.dumps(values),)


@lru_cache(maxsize=256)
def _in_list_statement(statement: str, in_list: str) -> str:
    filled = statement.format(in_list=in_list)
    return filled if in_list == IN_LIST_SQLITE else _for_psycopg(filled)


@lru_cache(maxsize=256)
def _for_psycopg(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")
