"""GET /healthz: 200 when the database answers, for load balancers and orchestrators.

When it does not, the error reaches prefs/outages.py, which answers 503 `{"status": "unavailable"}` within
the connect timeout (PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS), as every other surface does.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text

from .db.statements import PING
from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    db.session.execute(text(PING))
    return {"status": "ok", "database": "up"}
