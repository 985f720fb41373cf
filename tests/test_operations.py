"""Running the service: what it says at start (only when serving, in whole sentences), one clear line for a
setting it refuses, HSTS outside development, and migrations that lint clean and go up and down."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from conftest import BASE_SETTINGS, ON_POSTGRES
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, make_url, text

from prefs import create_app
from prefs.extensions import db

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
WARNINGS = [
    "The SMS webhook (/webhooks/sms) is off because PREFS_TWILIO_AUTH_TOKEN is not set.",
    "The inbound-mail webhook (/webhooks/email) is off because PREFS_EMAIL_WEBHOOK_SECRET is not set.",
    "Mailto unsubscribe addresses in List-Unsubscribe are off because PREFS_UNSUBSCRIBE_MAILTO is not set.",
]


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """Production settings with the optional features left off, as an operator's first start would have."""
    # The machine's facts stay (a pass through pgbouncer must reach the database as pgbouncer needs); the
    # product's settings go.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFS_") or k == "PREFS_DATABASE_POOLER"}
    env.update(PREFS_ENV="production", PREFS_DATABASE_URL=database_url, PREFS_SECRET_KEYS="test-signing-key-1",
               PREFS_SUPPRESSION_KEY="test-suppression-key", PREFS_BASE_URL="https://prefs.example.com")  # fmt: skip
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(command: list[str], env: dict[str, str], port: int, log_path) -> tuple[str, dict[str, str]]:
    """Start a server, fetch /healthz once it answers, stop it; returns its log and the answer's headers."""
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    headers = dict(response.headers)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start: " + log_path.read_text())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()  # never left running behind the next tests
            server.wait(timeout=10)
            raise
    return log_path.read_text(), headers


@pytest.mark.slow  # a real server process
def test_gunicorn_says_what_is_off_in_whole_sentences_and_sends_hsts(database_url, tmp_path):
    port = free_port()
    env = service_env(database_url, PREFS_BIND=f"127.0.0.1:{port}", PREFS_WORKERS="1")
    log, headers = serve(
        [os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py", "app:app"], env, port, tmp_path / "gunicorn.log"
    )
    for warning in WARNINGS:
        assert warning in log.splitlines(), log
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.slow  # a real server process
def test_flask_run_says_what_is_off_too(database_url, tmp_path):
    port = free_port()
    command = [os.path.join(BIN, "flask"), "--app", "app", "run", "--port", str(port)]
    log, _ = serve(command, service_env(database_url, PREFS_TWILIO_AUTH_TOKEN="t"), port, tmp_path / "flask.log")
    assert WARNINGS[1] in log.splitlines() and WARNINGS[0] not in log, log


def flask(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, "flask"), "--app", "app", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.slow  # a real server process
def test_operator_commands_print_no_start_up_warnings(database_url):
    result = flask("staff", "list", env=service_env(database_url))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.slow  # real flask and gunicorn processes
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"PREFS_SECRET_KEYS": ""}, "PREFS_ENV=production needs these settings: PREFS_SECRET_KEYS"),
        ({"PREFS_LINK_MAX_AGE_DAYS": "soon"}, "PREFS_LINK_MAX_AGE_DAYS must be a whole number, not 'soon'"),
    ],
)
def test_a_refused_setting_is_one_clear_line_under_flask_and_gunicorn(database_url, tmp_path, settings, message):
    env = service_env(database_url, **settings)
    result = flask("staff", "list", env=env)
    assert result.returncode != 0
    assert result.stderr == f"prefs: not started: {message}\n"

    env.update(PREFS_BIND=f"127.0.0.1:{free_port()}", PREFS_WORKERS="2")
    gunicorn = subprocess.run([os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py", "app:app"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert gunicorn.returncode != 0  # it stops instead of starting new workers forever
    assert f"prefs: not started: {message}" in gunicorn.stderr and "Traceback" not in gunicorn.stderr


def test_hsts_on_every_answer_outside_development_only(app, client, database_url):
    for response in (
        client.get("/healthz"),
        client.get("/nowhere"),
        client.get("/console/login"),
        client.post("/api/v1/check", json={}),
    ):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", response.status_code
    development = create_app({**BASE_SETTINGS, "PREFS_ENV": "development", "PREFS_DATABASE_URL": database_url})
    try:
        assert "Strict-Transport-Security" not in development.test_client().get("/healthz").headers
    finally:
        with development.app_context():
            db.engine.dispose()


def test_migrations_pass_ruff():
    result = subprocess.run(
        [os.path.join(BIN, "ruff"), "check", "migrations"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


@pytest.fixture
def empty_database(tmp_path):
    """A database of its own (a fresh SQLite file, or a fresh PostgreSQL database beside the test database), so
    the test database stays migrated. A database, not a schema chosen by search_path in the start-up options:
    pgbouncer drops those options, and the migrations would then run in the test database itself."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(os.environ["PREFS_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(os.environ["PREFS_TEST_DATABASE_URL"]).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))  # pgbouncer may still hold a connection
        admin.dispose()


def test_the_staff_sessions_migration_goes_up_and_down_keeping_accounts(empty_database):
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": empty_database})
    try:
        with app.app_context():
            upgrade(revision="0002")
            with db.engine.begin() as connection:
                connection.execute(text("INSERT INTO staff_users (email, password_hash, role, created_at) "
                                        "VALUES ('ops@example.com', 'scrypt:x', 'admin', CURRENT_TIMESTAMP)"))  # fmt: skip
            upgrade(revision="0003")
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT email, session_epoch FROM staff_users")).all() == [("ops@example.com", 0)]
            downgrade(revision="0002")
            columns = {column["name"] for column in inspect(db.engine).get_columns("staff_users")}
            assert "session_epoch" not in columns and "email" in columns
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT email FROM staff_users")).scalar_one() == "ops@example.com"
            upgrade()
            assert re.fullmatch(r"\d{4}", db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_migrations_that_rebuild_recipients_keep_every_choice_going_down_and_up(empty_database):
    """On SQLite a batch migration rebuilds `recipients`, and with foreign keys on, dropping the old table
    deleted every choice (ON DELETE CASCADE: found in review, going down past 0021)."""
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": empty_database})
    try:
        with app.app_context():
            upgrade()
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO recipients (id, status, awaiting_confirmation, created_at, updated_at)"
                        " VALUES ('ann', 'active', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
                connection.execute(text("INSERT INTO choices (recipient_pk, topic, channel, subscribed, with_evidence, updated_at)"
                                        " SELECT pk, '*', 'email', false, false, CURRENT_TIMESTAMP FROM recipients"))  # fmt: skip
            downgrade(revision="0020")
            upgrade()
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM choices")).scalar_one() == 1
                foreign_keys = (
                    connection.exec_driver_sql("PRAGMA foreign_keys").scalar() if db.engine.dialect.name == "sqlite" else 1
                )
            assert foreign_keys == 1  # on again for the app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def api_call(site: str, key: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(site + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"{}")


def wait_until_ready(site: str, log_path) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(site + "/readyz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start: " + log_path.read_text())


@pytest.mark.slow  # real server and worker processes
def test_serve_stopped_by_sigterm_stops_its_worker_too(database_url, tmp_path):
    """A service manager stops with SIGTERM: serve must take its worker down with it, not leave it running."""
    port = free_port()
    env = service_env(database_url, PREFS_BASE_URL=f"http://127.0.0.1:{port}")
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([os.path.join(BIN, "flask"), "--app", "app", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log, stderr=log, start_new_session=True)  # fmt: skip
    try:
        for _ in range(300):
            match = re.search(r"worker pid (\d+)", log_path.read_text())
            if match:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise AssertionError("serve did not start: " + log_path.read_text())
        worker_pid = int(match.group(1))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        for _ in range(100):  # the worker is reaped by serve before it exits; give the kernel a moment
            if not os.path.exists(f"/proc/{worker_pid}") or "zombie" in open(f"/proc/{worker_pid}/status").read():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("serve's worker still runs after SIGTERM: " + log_path.read_text())
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.mark.slow  # real server and worker processes
def test_serve_runs_the_web_server_and_a_worker_that_delivers_webhooks(
    database_url, tmp_path, app
):  # app: its teardown empties what the server wrote
    from webhook_receiver import Receiver

    receiver = Receiver().start()
    port = free_port()
    env = service_env(database_url, PREFS_WEBHOOK_ALLOW_HOSTS="127.0.0.1", PREFS_BASE_URL=f"http://127.0.0.1:{port}")
    key = flask("keys", "create", "serve-test", "--scope", "admin", env=env).stdout.strip().splitlines()[-1]
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([os.path.join(BIN, "flask"), "--app", "app", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log, stderr=log, start_new_session=True)  # fmt: skip

    def call(method: str, path: str, body: dict) -> dict:
        return api_call(f"http://127.0.0.1:{port}", key, method, "/api/v1" + path, body)

    try:
        wait_until_ready(f"http://127.0.0.1:{port}", log_path)
        call("POST", "/webhooks", {"url": receiver.url()})
        call("PUT", "/recipients/serve-1", {"email": "serve@example.com"})
        for _ in range(100):  # the worker polls every 0.2 s
            if receiver.received:
                break
            time.sleep(0.1)
        assert receiver.types() == ["recipient.created"], log_path.read_text()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)  # serve gives its worker 20 s to finish the batch in hand
            stopped = True
        except subprocess.TimeoutExpired:
            # Never leave a server or its worker behind: a stray worker would deliver (or drop) the outbox of
            # every later test on this database.
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            stopped = False
        receiver.stop()
    assert stopped, "serve did not stop within 60 s of Ctrl-C: " + log_path.read_text()
    assert "prefs is ready at http://127.0.0.1:" in log_path.read_text()


@pytest.mark.slow  # real server and worker processes
def test_serve_on_a_port_of_its_own_links_there_says_what_is_off_and_logs_no_token_or_address(
    database_url, tmp_path, app
):  # app: its teardown empties what the server wrote
    """The README's run command with --port and no PREFS_BASE_URL: links name the port served (development's
    default names 5000), the start says what is off as gunicorn's does, and werkzeug's request lines are
    redacted as gunicorn's are (prefs/log_redaction.py)."""
    port = free_port()
    env = service_env(database_url, PREFS_ENV="development")
    del env["PREFS_BASE_URL"]
    key = flask("keys", "create", "serve-port-test", "--scope", "admin", env=env).stdout.strip().splitlines()[-1]
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([os.path.join(BIN, "flask"), "--app", "app", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log, stderr=log, start_new_session=True)  # fmt: skip
    site = f"http://127.0.0.1:{port}"

    def call(method: str, path: str, body: dict | None = None) -> dict:
        return api_call(site, key, method, path, body)

    try:
        wait_until_ready(site, log_path)
        call("POST", "/api/v1/topics", {"key": "port-news", "name": "News", "channels": ["email"]})
        call("PUT", "/api/v1/recipients/port-1", {"email": "port.person@example.com"})
        links = call("POST", "/api/v1/links", {"recipient_id": "port-1", "topic": "port-news"})
        assert links["unsubscribe_url"].startswith(site + "/u/"), links
        token = links["unsubscribe_url"].rsplit("/", 1)[-1]
        urllib.request.urlopen(links["unsubscribe_url"], timeout=5).close()  # the link works where it points
        assert call("GET", "/api/v1/recipients?email=port.person%40example.com")["recipients"][0]["id"] == "port-1"
        try:
            urllib.request.urlopen(site + "/c/a-confirmation-token-value", timeout=5).close()
        except urllib.error.HTTPError:
            pass  # not a valid confirmation: the line it leaves is what counts
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    logged = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text())  # werkzeug colours a 4xx line on a terminal's codes
    assert f"prefs is ready at {site}/" in logged
    for warning in WARNINGS:
        assert warning in logged.splitlines(), logged
    for secret in (token, "port.person", "a-confirmation-token-value"):
        assert secret not in logged, secret
    for line in ['"GET /u/… HTTP/1.1" 200', '"GET /api/v1/recipients?… HTTP/1.1" 200', '"GET /c/… HTTP/1.1"']:
        assert line in logged, line


@pytest.mark.slow  # a real flask process
def test_serve_on_a_port_in_use_says_so_in_one_line_and_starts_no_worker(database_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([os.path.join(BIN, "flask"), "--app", "app", "serve", "--port", str(port)], cwd=ROOT,
                                env=service_env(database_url), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert "Address already in use" in result.stderr.splitlines(), result.stderr  # werkzeug's words
    assert "prefs is ready" not in result.stderr and "worker pid" not in result.stderr and "Traceback" not in result.stderr
