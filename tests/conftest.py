"""Fixtures: one migrated database per run (SQLite, or PostgreSQL from PREFS_TEST_DATABASE_URL), emptied
after every test; a fresh app per test; helpers that use the service the way its clients do."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

# SPEC §11: adding a channel is one registry entry. PREFS_TEST_FIFTH_CHANNEL=1 adds a test-only one (a chat
# app reaching the phone number) before anything binds the channel list, so the channel-generic tests run
# over five channels (.ci/run does that for them). No production channel is added.
if os.environ.get("PREFS_TEST_FIFTH_CHANNEL"):
    from prefs.channels import PHONE, Channel, register

    register(Channel("chat", "chat message", "chat messages", PHONE, mailto_code=4))

from prefs import (
    create_app,
    models,  # noqa: F401  (fills db.metadata)
)
from prefs.extensions import db

TEST_DATABASE_URL = os.environ.get("PREFS_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
requires_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL: set PREFS_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test (as .ci/run does)",
)

BASE_SETTINGS = {
    "PREFS_ENV": "production",  # tests run the fail-closed profile, with every secret given
    "PREFS_SECRET_KEYS": "test-signing-key-1",
    "PREFS_SUPPRESSION_KEY": "test-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
    "PREFS_TWILIO_AUTH_TOKEN": "test-twilio-token",
    "PREFS_EMAIL_WEBHOOK_SECRET": "test-email-webhook-secret",
    "PREFS_SMS_PROGRAM_NAME": "Acme",
    "PREFS_SUPPORT_CONTACT": "help@acme.example",
    "PREFS_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",  # the tests' webhook receivers listen on loopback
    # Off, so texts and calls are not refused as quiet_hours when the suite happens to run at night (in the
    # recipients' zones); tests of quiet hours set their own window and clock.
    "PREFS_QUIET_HOURS": "",
    "TESTING": True,
    "PREFS_TEST_CHEAP_PASSWORD_HASHING": True,  # honoured only with TESTING (prefs/passwords.py)
}


def pytest_report_header(config) -> str:
    return f"prefs database: {'PostgreSQL' if ON_POSTGRES else 'SQLite'} ({'PREFS_TEST_DATABASE_URL' if TEST_DATABASE_URL else 'temporary file'})"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """Migrate a clean database once; every test then starts from the migrated state."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'prefs.sqlite3'}"
    if ON_POSTGRES:
        engine = create_engine(url)
        with engine.begin() as connection:  # the test database is ours: start from nothing
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url


@pytest.fixture(scope="session")
def seeded_rows(database_url) -> dict[str, list[dict[str, Any]]]:
    """The rows the migrations put in (the mandatory topics), restored after each test."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = {table.name: [dict(r._mapping) for r in connection.execute(table.select())] for table in db.metadata.sorted_tables}
    engine.dispose()
    return rows


@pytest.fixture
def settings_override() -> dict[str, Any]:
    """Settings a test module adds to BASE_SETTINGS (override this fixture in the module)."""
    return {}


@pytest.fixture
def app(database_url, seeded_rows, settings_override):
    app = create_app({**BASE_SETTINGS, **settings_override, "PREFS_DATABASE_URL": database_url})
    yield app
    with app.app_context():
        db.session.remove()
        _reset(seeded_rows)
        db.engine.dispose()


def _reset(seeded_rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if ON_POSTGRES:
            # Sequences keep counting, so re-inserted seed rows (explicit ids) never collide with new ones.
            connection.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if seeded_rows.get(table.name):
                connection.execute(table.insert(), seeded_rows[table.name])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ApiClient:
    """The JSON API as a mailer uses it: a bearer key on every call."""

    def __init__(self, client, key: str | None) -> None:
        self.client = client
        self.key = key

    def _headers(self, key: str | None) -> dict[str, str]:
        key = self.key if key is None else key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def call(self, method: str, path: str, json: Any = None, key: str | None = None, **kwargs):
        return self.client.open("/api/v1" + path, method=method, json=json, headers=self._headers(key), **kwargs)

    def get(self, path: str, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs):
        return self.call("POST", path, json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs):
        return self.call("PUT", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs):
        return self.call("PATCH", path, json, **kwargs)

    def delete(self, path: str, json: Any = None, **kwargs):
        return self.call("DELETE", path, json, **kwargs)

    def check(self, topic: str, channel: str, **who) -> dict[str, Any]:
        response = self.post("/check", {**who, "topic": topic, "channel": channel})
        assert response.status_code == 200, response.get_json()
        return response.get_json()


@pytest.fixture
def make_key(runner):
    """Create an API key through the operator CLI, as an operator would; returns the key."""

    def make(name: str, *scopes: str) -> str:
        args = ["keys", "create", name] + [arg for scope in scopes for arg in ("--scope", scope)]
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]

    return make


@pytest.fixture
def api(client, make_key) -> ApiClient:
    """An API client holding a key with every scope."""
    return ApiClient(client, make_key("test-admin", "admin"))


@pytest.fixture
def newsletter(api) -> dict[str, Any]:
    """SPEC's example: email on by default (existing customers), SMS needs express consent."""
    response = api.post(
        "/topics",
        {
            "key": "newsletter",
            "name": "Newsletter",
            "channels": ["email", "sms"],
            "default_subscribed": {"email": True, "sms": False},
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def person(api) -> dict[str, Any]:
    response = api.put("/recipients/cust-1", {"email": "Ann@Example.com", "phone": "+14155550123"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
