"""GET /healthz: 200 when the database answers, for load balancers and orchestrators. GET /readyz: the
same, and 503 while the schema is not at the latest migration (a deploy that has not run `db upgrade`).

When it does not, the error reaches prefs/outages.py, which answers 503 `{"status": "unavailable"}` within
the connect timeout (PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS), as every other surface does.
"""

from __future__ import annotations

from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from .db.statements import PING, SCHEMA_VERSION
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    db.session.execute(text(PING))
    return {"status": "ok", "database": "up"}


@bp.get("/readyz")
def readyz():
    db.session.execute(text(PING))
    try:
        current = db.session.execute(text(SCHEMA_VERSION)).scalar_one_or_none()
    except ProgrammingError:  # PostgreSQL: no alembic_version table yet (SQLite's error is an outage's 503)
        db.session.rollback()
        current = None
    latest = migration_head(current_app.extensions["migrate"].directory)
    if current != latest:
        return {"status": "unavailable", "database": "up", "schema": current, "latest_schema": latest}, 503
    return {"status": "ok", "database": "up", "schema": current}


@cache
def migration_head(directory: str) -> str | None:
    """The newest migration shipped with this code (read once per process)."""
    return ScriptDirectory(directory).get_current_head()
