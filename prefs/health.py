"""GET /healthz: 200 when the database answers, for load balancers and orchestrators. GET /readyz: the
same, and 503 while the schema is not at the latest migration (a deploy that has not run `db upgrade`).
GET /metrics: Prometheus, for the bearer of PREFS_METRICS_TOKEN only (prefs/metrics.py says what it counts).

When it does not, the error reaches prefs/outages.py, which answers 503 `{"status": "unavailable"}` within
the connect timeout (PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS), as every other surface does.
"""

from __future__ import annotations

import hmac
import logging
from contextlib import suppress
from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from .db.statements import PING, SCHEMA_VERSION
from .extensions import db
from .logs import describe_error
from .metrics import CONTENT_TYPE, Backlog, exposition
from .models import utcnow
from .outages import is_outage
from .services.outbox import backlog

log = logging.getLogger(__name__)

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


@bp.get("/metrics")
def metrics():
    """404 when PREFS_METRICS_TOKEN is not set (the endpoint does not exist); 401 without that bearer token.
    A database that does not answer leaves the process counts readable, with prefs_database_up 0."""
    token = current_app.config["PREFS_METRICS_TOKEN"]
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "A bearer token (PREFS_METRICS_TOKEN) is needed.\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain"
        )
    return Response(exposition(_backlog()), mimetype=CONTENT_TYPE)


def _backlog() -> Backlog | None:
    try:
        return backlog(utcnow())
    except Exception as error:
        if not is_outage(error):
            raise
        log.warning("metrics: the database did not answer: %s", describe_error(error))
        with suppress(Exception):
            db.session.rollback()
        return None
