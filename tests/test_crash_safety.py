"""R1, short form: SIGKILL gunicorn mid-stream of one-click unsubscribes; nothing acknowledged is lost.

The full script is bench/crash_safety.py. On PostgreSQL it uses a database of its own, because it empties the
database it is given: created on the same server as PREFS_TEST_DATABASE_URL, named after that database with a
random suffix (so that two passes side by side, say straight and through pgbouncer, never share it) and dropped
after.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterator

import pytest
from conftest import ON_POSTGRES, TEST_DATABASE_URL
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import crash_safety  # noqa: E402

pytestmark = pytest.mark.slow  # a real gunicorn, killed


@pytest.fixture
def crash_database(tmp_path) -> Iterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return
    url = make_url(TEST_DATABASE_URL)
    name = re.sub(r"[^a-z0-9_]", "_", (url.database or "test").lower())[:40] + f"_crash_{secrets.token_hex(4)}"
    engine = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:  # FORCE: a pooler may still hold connections to it
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_every_acknowledged_unsubscribe_survives_kill_9(crash_database):
    outcome = crash_safety.run(crash_database, people=600, clients=6)
    assert len(outcome.acknowledged) == 600  # after the restart every link got through
    assert outcome.server_errors == 0
    assert outcome.missing == [] and outcome.duplicated == []
