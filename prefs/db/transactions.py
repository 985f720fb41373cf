"""The two ways a change is written, each committed before anything is acknowledged.

`unit_of_work`: through the SQLAlchemy session, the ordinary regime. `fast_write`: plain SQL on a connection
of its own (db/driver.py), for the one-click unsubscribe only. Inside a fast write the session must not write:
on SQLite that second writer would wait for the first until its busy timeout. The guard below makes any
such write raise at once instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from psycopg.errors import DeadlockDetected
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, scoped_session
from sqlalchemy.sql.elements import TextClause

from ..errors import PrefsError
from ..extensions import db
from ..runtime import runtime
from .driver import standalone_transaction, standalone_transaction_open
from .write_gate import gate

T = TypeVar("T")


def unit_of_work(operation: Callable[[], T], conflict: str = "address_in_use") -> T:
    """Run `operation` and commit. Retries once when a concurrent writer won a unique-key race, or when
    PostgreSQL ended a deadlock by rolling this transaction back (two writers locking the same two people in
    opposite orders: a PUT taking an address from another recipient, an import): nothing of it was written.

    The retry reads the winner's rows and so takes the ordinary path (an update, or a clean 409); should
    it lose a key race again, PrefsError(`conflict`) is raised. Raises PrefsError from the operation, rolled back.
    (The worker's rounds that post, mail or push inside their transaction run again too: what they sent
    before the rollback is still due either way, and goes again, as at-least-once delivery allows.)
    """
    for attempt in (1, 2):
        try:
            with gate(runtime().write_gate):
                result = operation()
                db.session.commit()
            return result
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise PrefsError(conflict, "A concurrent change got there first; try again.") from None
        except BaseException as error:
            db.session.rollback()
            if attempt == 2 or not _deadlock_victim(error):
                raise
    raise AssertionError("unreachable")


def _deadlock_victim(error: BaseException) -> bool:
    # SQLAlchemy wraps the driver's error; plain SQL on the session's connection (db/driver.py) raises it bare.
    return isinstance(error, DeadlockDetected) or isinstance(getattr(error, "orig", None), DeadlockDetected)


def fast_write(operation: Callable[[], T]) -> T:
    """Run `operation` in a transaction of its own connection and commit (db/driver.py): for
    the one-click unsubscribe, whose statements are all plain SQL. Raises what the operation raises
    (FastWriteViolation if it writes through the session), with nothing written."""
    with gate(runtime().write_gate), standalone_transaction():
        try:
            return operation()
        except FastWriteViolation:
            db.session.rollback()  # the refused objects must not ride along in a later commit
            raise


class FastWriteViolation(RuntimeError):
    """An ORM or session write inside fast_write(): a bug in the code path, never the caller's input."""


def guard_fast_writes(session: scoped_session) -> None:
    """Make the session refuse to write inside a fast write (installed once, by the engine's wiring)."""
    if not event.contains(session, "before_flush", _refuse_flush):
        event.listen(session, "before_flush", _refuse_flush)
        event.listen(session, "do_orm_execute", _refuse_write_statement)


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


def _refuse_flush(session: Session, _flush_context, _instances) -> None:
    # A flush happens only when objects were added, changed or deleted: every one inside a fast write is refused.
    if standalone_transaction_open():
        raise FastWriteViolation("The session flushed inside fast_write(); the fast path writes with plain SQL only.")


def _refuse_write_statement(state: ORMExecuteState) -> None:
    if not standalone_transaction_open():
        return
    statement = state.statement
    if statement.is_dml or (isinstance(statement, TextClause) and statement.text.lstrip().upper().startswith(_WRITE_VERBS)):
        raise FastWriteViolation("The session executed a write inside fast_write(); the fast path writes with plain SQL only.")
