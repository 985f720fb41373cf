"""A real prefs for the client to talk to: the Flask app of this repository served by werkzeug on a free
loopback port, on a temporary SQLite database migrated as in production, with keys made by the operator CLI.

One server per test session; tests keep out of each other's way with ids of their own (support.unique)."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT))

from flask import Flask
from flask_migrate import upgrade
from prefs import create_app
from werkzeug.serving import BaseWSGIServer, make_server

from prefs_client import NotFound, PrefsClient, Topic

# The fail-closed production profile with every secret given, as the repo's own tests run it.
SERVER_SETTINGS: dict[str, Any] = {
    "PREFS_ENV": "production",
    "PREFS_SECRET_KEYS": "client-test-signing-key",
    "PREFS_SUPPRESSION_KEY": "client-test-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
    "PREFS_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",  # the webhook receiver of these tests listens on loopback
    # Off, as in the repo's own tests: texts and calls are not refused as quiet_hours when these tests happen to
    # run at night in the recipients' zones (+1 415, California: 21:00-08:00 there is 04:00-16:00 UTC or so).
    "PREFS_QUIET_HOURS": "",
    "TESTING": True,
}


@dataclass
class LiveServer:
    app: Flask
    url: str
    admin_key: str

    def make_key(self, name: str, *scopes: str) -> str:
        """A key made with `flask keys create`, as an operator makes one; the key is the output's last line."""
        args = ["keys", "create", name] + [arg for scope in scopes for arg in ("--scope", scope)]
        result = self.app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        return str(result.output.strip().splitlines()[-1])


def serve(app: Flask) -> tuple[BaseWSGIServer, str]:
    """`app` on a free loopback port, in a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('prefs') / 'prefs.sqlite3'}"
    app = create_app({**SERVER_SETTINGS, "PREFS_DATABASE_URL": url})
    with app.app_context():
        upgrade()
    return url


@pytest.fixture(scope="session")
def start_server(database_url: str) -> Iterator[Callable[..., LiveServer]]:
    """Start a prefs on the tests' database; settings given override SERVER_SETTINGS. Stopped at the end."""
    servers: list[BaseWSGIServer] = []

    def start(**settings: Any) -> LiveServer:
        app = create_app({**SERVER_SETTINGS, **settings, "PREFS_DATABASE_URL": database_url})
        server, url = serve(app)
        servers.append(server)
        live = LiveServer(app, url, "")
        live.admin_key = live.make_key(f"client-tests-admin-{uuid.uuid4().hex[:8]}", "admin")
        return live

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def prefs_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def client(prefs_server: LiveServer) -> Iterator[PrefsClient]:
    """A client with an admin key (every scope)."""
    with PrefsClient(prefs_server.url, prefs_server.admin_key, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def newsletter(prefs_server: LiveServer) -> Topic:
    """SPEC's example topic: email on by default, SMS only with consent."""
    with PrefsClient(prefs_server.url, prefs_server.admin_key) as client:
        try:
            return client.get_topic("newsletter")
        except NotFound:
            return client.create_topic(
                "newsletter", "Newsletter", ["email", "sms"], default_subscribed={"email": True, "sms": False}
            )
