"""R1: kill -9 the server during a stream of one-click unsubscribes, restart it, and check that every
acknowledged (2xx) unsubscribe is stored, with exactly one event each.

    .venv/bin/python bench/crash_safety.py                        # SQLite, 2,000 people, 8 clients
    .venv/bin/python bench/crash_safety.py --database postgresql+psycopg://postgres@127.0.0.1:5432/prefs_crash

gunicorn (2 workers) serves the app; client threads POST RFC 8058 one-click bodies, each to a different
person's link; once a third of them are acknowledged, the whole server (master and workers) gets SIGKILL.
The server is started again, the remaining links are sent, and the database is compared with what the
clients were told. On PostgreSQL the named database is emptied first: never point it at real data.
tests/test_crash_safety.py runs a short form of this in every CI run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
SETTINGS = {
    "PREFS_ENV": "production",
    "PREFS_SECRET_KEYS": "crash-signing-key",
    "PREFS_SUPPRESSION_KEY": "crash-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
}


@dataclass
class Outcome:
    acknowledged: set[str] = field(default_factory=set)  # recipient ids whose POST got a 2xx
    failed: int = 0  # connection errors while the server was down (not acknowledged: may or may not be stored)
    server_errors: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated and self.server_errors == 0


def prepare(database_url: str, people: int) -> dict[str, str]:
    """Migrate, create a topic and `people` recipients; returns recipient id -> one-click path."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from prefs import create_app
    from prefs.db.transactions import unit_of_work
    from prefs.extensions import db
    from prefs.runtime import runtime
    from prefs.services.events import Actor, ChangeContext
    from prefs.services.recipients import upsert_recipient
    from prefs.services.topics import create_topic
    from prefs.tokens import UNSUBSCRIBE, LinkTarget

    app = create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url})
    with app.app_context():
        if database_url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        unit_of_work(
            lambda: create_topic(
                {"key": "news", "name": "News", "channels": ["email"], "default_subscribed": {"email": True}}, "cli", "crash"
            )
        )
        context = ChangeContext(Actor("system", "crash-check", "setup"))

        def create_people() -> None:
            for n in range(people):
                upsert_recipient(runtime(), f"c{n}", {"email": f"c{n}@example.com"}, context)

        unit_of_work(create_people)
        signer = runtime().signer
        paths = {f"c{n}": "/u/" + signer.sign(UNSUBSCRIBE, LinkTarget(f"c{n}", "email", "news")) for n in range(people)}
        db.engine.dispose()
    return paths


def start_server(database_url: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [GUNICORN, "--config", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gunicorn_bare.conf.py"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "error", "app:app"],
        cwd=ROOT, env={**os.environ, **SETTINGS, "PREFS_DATABASE_URL": database_url}, start_new_session=True,
    )  # fmt: skip
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def send(port: int, queue: list[tuple[str, str]], outcome: Outcome, lock: threading.Lock, stop: threading.Event) -> None:
    while not stop.is_set():
        with lock:
            if not queue:
                return
            recipient_id, path = queue.pop()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=b"List-Unsubscribe=One-Click", method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if 200 <= response.status < 300:
                    with lock:
                        outcome.acknowledged.add(recipient_id)
        except urllib.error.HTTPError as error:
            with lock:
                outcome.server_errors += error.code >= 500
        except OSError:
            with lock:
                outcome.failed += 1
                queue.insert(0, (recipient_id, path))  # as a mail provider would: try again later


def run(database_url: str, people: int = 2000, clients: int = 8) -> Outcome:
    from served import free_port

    paths = prepare(database_url, people)
    queue = list(paths.items())
    outcome, lock, stop = Outcome(), threading.Lock(), threading.Event()
    port = free_port()
    server = start_server(database_url, port)
    threads = [threading.Thread(target=send, args=(port, queue, outcome, lock, stop)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while len(outcome.acknowledged) < people // 3:
        time.sleep(0.005)
    os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-stream
    server.wait()
    killed_at = len(outcome.acknowledged)
    time.sleep(0.5)  # clients meet a dead server and put their links back in the queue
    server = start_server(database_url, port)
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    os.killpg(server.pid, signal.SIGTERM)
    server.wait()
    verify(database_url, outcome)
    print(f"R1  {people:,} one-click unsubscribes, {clients} clients, killed with SIGKILL after {killed_at:,} acknowledgements")
    print(
        f"    acknowledged {len(outcome.acknowledged):,}; connection errors while down {outcome.failed}; 5xx {outcome.server_errors}"
    )
    print(
        f"    missing {len(outcome.missing)}; with more than one event {len(outcome.duplicated)}: {'PASS' if outcome.ok else 'FAIL'}"
    )
    return outcome


def verify(database_url: str, outcome: Outcome) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = {
            row[0]
            for row in connection.execute(
                text(
                    "SELECT r.id FROM recipients r JOIN choices c ON c.recipient_pk = r.pk WHERE c.topic = 'news' AND c.channel = 'email' AND c.subscribed = :no"
                ),
                {"no": False},
            )
        }
        counts = dict(
            connection.execute(
                text("SELECT recipient_id, count(*) FROM consent_events WHERE via = 'one_click' GROUP BY recipient_id")
            ).all()
        )
    engine.dispose()
    outcome.missing = sorted(r for r in outcome.acknowledged if r not in stored)
    outcome.duplicated = sorted(r for r, count in counts.items() if count > 1)
    outcome.missing += sorted(r for r in outcome.acknowledged if counts.get(r, 0) != 1 and r not in outcome.missing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a SQLAlchemy URL; default: a fresh SQLite file")
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefs-crash-") as directory:
        database = args.database or f"sqlite:///{os.path.join(directory, 'crash.sqlite3')}"
        outcome = run(database, args.people, args.clients)
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
