"""The two ways a change is written, each committed before anything is acknowledged.

`unit_of_work`: through the SQLAlchemy session, the ordinary regime. `fast_write`: plain SQL on a connection
of its own (db/driver.py), for the one-click unsubscribe only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from ..errors import PrefsError
from ..extensions import db
from ..runtime import runtime
from .driver import standalone_transaction
from .write_gate import gate

T = TypeVar("T")


def unit_of_work(operation: Callable[[], T], conflict: str = "address_in_use") -> T:
    """Run `operation` and commit. Retries once when a concurrent writer won a unique-key race.

    The retry reads the winner's row and so takes the ordinary path (an update, or a clean 409); should
    it lose again, PrefsError(`conflict`) is raised. Raises PrefsError from the operation, rolled back.
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
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def fast_write(operation: Callable[[], T]) -> T:
    """Run `operation` in a transaction of its own connection and commit (db/driver.py): for
    the one-click unsubscribe, whose statements are all plain SQL. Raises what the operation raises,
    with nothing written."""
    with gate(runtime().write_gate), standalone_transaction():
        return operation()
