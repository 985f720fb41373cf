"""R1, short form: SIGKILL gunicorn mid-stream of one-click unsubscribes; nothing acknowledged is lost.

The full script is bench/crash_safety.py. On PostgreSQL it uses its own database (prefs_crash), created
on the same server as PREFS_TEST_DATABASE_URL, because it empties the database it is given.
"""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ON_POSTGRES, TEST_DATABASE_URL
from sqlalchemy import create_engine, text

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import crash_safety  # noqa: E402

pytestmark = pytest.mark.slow  # a real gunicorn, killed


def crash_database(tmp_path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    server, _, _ = TEST_DATABASE_URL.rpartition("/")
    engine = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = 'prefs_crash'")).first():
            connection.execute(text("CREATE DATABASE prefs_crash"))
    engine.dispose()
    return f"{server}/prefs_crash"


def test_every_acknowledged_unsubscribe_survives_kill_9(tmp_path):
    outcome = crash_safety.run(crash_database(tmp_path), people=600, clients=6)
    assert len(outcome.acknowledged) == 600  # after the restart every link got through
    assert outcome.server_errors == 0
    assert outcome.missing == [] and outcome.duplicated == []
