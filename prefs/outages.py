"""The database down or hung: every surface answers 503 with `Retry-After` within seconds, never a 500 or a hang.

The engine options (prefs/db/engine.py) bound the waits (connect, a pooled connection, a statement, a server
gone from the network), so an unreachable or silent server turns into an error in seconds; a server process
that hangs while its host still answers TCP is the one wait they cannot bound (README). The error handlers here turn that error into each
audience's answer: the API's JSON shape (`unavailable`), a friendly page on /u, /p and the console, a plain
503 on the webhooks (the SMS provider counts it a failure and may retry). Handlers cost nothing until one
fires; nothing here runs on a request that reaches the database.

Redis (rate limits) is the other outside service; it fails open through Flask-Limiter's own options
(config.py, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import suppress

import psycopg
from flask import Flask, Response, current_app, request
from sqlalchemy import exc as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from . import languages
from .db.driver import lost_its_place
from .errors import PrefsError
from .extensions import db
from .i18n import lazy_gettext as _l
from .i18n import page_language
from .logs import describe_error, scrubbed_traceback

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
LOG_EVERY_SECONDS = 60  # one line per worker per minute of outage, not one per request
_LOG_EXTENSION = "prefs.outage_log"

# What "the database is unavailable" looks like: refused, timed out, dropped, or too slow. SQLAlchemy wraps
# the driver's errors; the hot paths' plain SQL (db/driver.py) raises the driver's own.
UNAVAILABLE = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,
    sa.InternalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    psycopg.InternalError,
    sqlite3.OperationalError,
)
# An OperationalError that is a race between two writers, not an outage: it stays a 500 and is logged as a bug.
# An InternalError is an outage only when the connection lost its place (db/driver.py, lost_its_place:
# pgbouncer's word that the server behind it died), or when the server ended the connection or may not write
# (below); others it sends (class XX, data corruption; class 25 for a transaction misused) stay 500s.
NOT_OUTAGES = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
# psycopg maps all of SQLSTATE class 25 to InternalError. Of those, these are the server's state, not a bug:
# idle_in_transaction_session_timeout and transaction_timeout (the server closes the connection: a DBA's
# limit, met by a request's read transaction left idle while it works elsewhere), and read_only_sql_transaction
# (a standby answering writes after a failover; prefs never opens read-only transactions itself).
SERVER_UNAVAILABLE_STATES = frozenset({"25P03", "25P04", "25006"})
# SQLite raises OperationalError for bugs too (no such table, a syntax error); only these are the file
# being out of reach or held too long by another writer.
SQLITE_OUTAGES = ("database is locked", "unable to open database file", "disk I/O error")

MESSAGE = "The service can't reach its database just now; try again in a minute."
PAGE_WORDS = {
    "console": (
        "The console is briefly unavailable",
        "It can't reach its database just now. Nothing you did is lost; try again in a minute.",
    ),
    "pages": (  # in the visitor's language (prefs/i18n.py): the recipient pages' catalogues
        _l("We can't do that right now"),
        _l("Our system is briefly unavailable and your request was not completed. Please try again in a few minutes."),
    ),
}


def register_outage_handlers(app: Flask) -> None:
    app.extensions[_LOG_EXTENSION] = _OutageLog()

    def unavailable(error: Exception):
        if _not_an_outage(error):
            raise error  # Flask's handler of last resort: logged as a bug, answered 500
        return outage_answer(error)

    for error_class in UNAVAILABLE:
        app.register_error_handler(error_class, unavailable)
    # Flask runs teardowns last registered first: this one before Flask-SQLAlchemy's (registered by
    # db.init_app, earlier), which then finds no session left to remove.
    app.teardown_appcontext(end_session_despite_outage)


def end_session_despite_outage(_error: BaseException | None) -> None:
    """End the request's session when the request ends, whatever its connection's fate.

    By then the answer is made, and anything it acknowledges is committed: what is left is a read's transaction
    (the catalogue's poll runs on the session). Its rollback failing on a dead connection escaped Flask, after
    the answer, and gunicorn replaced a committed one-click's 200 with a bare 500 of its own (the kill test
    through pgbouncer met it in CI), leaving the thread a session half closed. Now nothing escapes: the failure
    is logged (as a bug when it is not an outage), the connection discarded without a round trip, the session
    dropped, and the next request starts clean."""
    if not db.session.registry.has():
        return
    held = _connection_of(db.session())
    try:
        db.session.remove()
    except Exception as error:
        if is_outage(error):
            log.warning("the database went away before a session ended (its answer stands): %s", describe_error(error))
        else:
            log.error("ending a session failed (its answer stands)\n%s", scrubbed_traceback(error))
        if held is not None:
            with suppress(Exception):
                held.invalidate()  # the pool discards it (a failed close leaves it checked out otherwise)
        db.session.registry.clear()


def _connection_of(session: Session) -> Connection | None:
    """The connection the session's transaction holds, if it has one (no round trip)."""
    if not session.in_transaction():
        return None
    try:
        return session.connection()
    except Exception:  # a transaction that failed a flush refuses even this; remove() still ends it
        return None


def end_failed_transaction() -> None:
    """For the error handlers: roll back the request's transaction, if it has one. A connection that died
    meanwhile has nothing left to roll back, and the answer stands (a refusal wrote nothing): a rollback that
    raised there made the refusal a 500 (found in review)."""
    if db.session.registry.has():
        with suppress(*UNAVAILABLE):
            db.session.rollback()


def outage_answer(error: Exception) -> Response | tuple:
    """The 503 for `error` (an outage: is_outage) in the shape of the request's audience. For the error
    handlers, and for another error handler whose own page met the outage (an error raised there would be a
    500: Flask does not hand it to these handlers)."""
    current_app.extensions[_LOG_EXTENSION].note(error)
    end_failed_transaction()  # a dead connection has none to end
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    path = request.path
    if path.startswith("/api/"):
        return PrefsError("unavailable", MESSAGE).to_dict(), 503, headers
    if path == "/healthz":
        return {"status": "unavailable", "database": "down"}, 503, headers
    if path.startswith("/webhooks/"):
        return Response(MESSAGE + "\n", 503, headers, mimetype="text/plain")
    title, message = PAGE_WORDS["console" if path.startswith("/console") else "pages"]
    # Rendered past the context processors: the console's asks who is signed in, which is a query. The
    # language needs none (the console's is English).
    tag = page_language()
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        title=title, message=message, page_lang=tag, page_dir=languages.direction(tag)
    )
    return Response(page, 503, headers, mimetype="text/html")


def is_write_race(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL ending one of two transactions that got in each other's way (a deadlock,
    a serialization failure): not an outage, and gone if the work is done again."""
    return isinstance(getattr(error, "orig", None) or error, NOT_OUTAGES)


def is_outage(error: BaseException) -> bool:
    """Whether `error` means the database is out of reach (not a bug and not a race between writers)."""
    return isinstance(error, UNAVAILABLE) and not _not_an_outage(error)


def _not_an_outage(error: BaseException) -> bool:
    if getattr(error, "connection_invalidated", False):
        return False  # SQLAlchemy found the connection gone, whatever the error's class
    driver_error = getattr(error, "orig", None) or error
    if isinstance(driver_error, sqlite3.OperationalError):
        return not str(driver_error).startswith(SQLITE_OUTAGES)
    if isinstance(driver_error, psycopg.InternalError) or isinstance(error, sa.InternalError):
        return not (lost_its_place(error) or getattr(driver_error, "sqlstate", None) in SERVER_UNAVAILABLE_STATES)
    return isinstance(driver_error, NOT_OUTAGES)


class _OutageLog:
    """The first failure at once, then at most one line a minute with how many requests were refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._since = 0

    def note(self, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self._since += 1
            if now - self._last < LOG_EVERY_SECONDS:
                return
            refused, self._since, self._last = self._since, 0, now
        log.warning("database unavailable, answering 503 (%d request(s) since the last line): %s", refused, describe_error(error))
