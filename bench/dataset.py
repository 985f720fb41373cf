"""Builds a benchmark database: N recipients, 8 topics, about 3 choices each, 5% channel stops,
1% all-marketing stops, 0.5% suppressed addresses. Written with plain SQL (SQLite) or COPY (PostgreSQL)
for speed, after the real migrations created the schema, so the app reads what it would have written."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime

CHANNELS = ("email", "sms", "phone", "post")
TOPICS = [
    # key, channels, default-on channels
    ("newsletter", ["email", "sms"], ["email"]),
    ("offers", ["email", "sms", "post"], ["email"]),
    ("product-updates", ["email"], ["email"]),
    ("events", ["email", "phone"], []),
    ("surveys", ["email", "sms"], []),
    ("partners", ["email", "post"], []),
    ("tips", ["email", "sms"], ["email"]),
    ("catalogue", ["post"], ["post"]),
]
SETTINGS = {
    "PREFS_ENV": "production",
    "PREFS_SECRET_KEYS": "bench-signing-key",
    "PREFS_SUPPRESSION_KEY": "bench-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
}
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/prefs_bench"


def email_of(n: int) -> str:
    return f"user{n}@example.com"


def phone_of(n: int) -> str:
    return f"+4479{n:08d}"


def _hash(kind: str, address: str) -> str:
    return hmac.new(SETTINGS["PREFS_SUPPRESSION_KEY"].encode(), f"{kind}:{address}".encode(), hashlib.sha256).hexdigest()


def migrate(database_url: str) -> None:
    """A fresh schema through the real migrations (PostgreSQL: the named database is emptied first)."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from prefs import create_app
    from prefs.extensions import db

    if database_url.startswith("postgresql"):
        server, _, name = database_url.rpartition("/")
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    app = create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def rows(n: int, seed: int = 7) -> Iterator[tuple[list, list, list]]:
    """(recipients, choices, suppressions) in batches of 50,000, the same for every database."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for start in range(1, n + 1, 50_000):
        recipients, choices, suppressions = [], [], []
        for pk in range(start, min(start + 50_000, n + 1)):
            email, phone = email_of(pk), phone_of(pk) if pk % 3 else None
            recipients.append((pk, f"r{pk}", email, phone, _hash("email", email), _hash("phone", phone) if phone else None,
                               '{"lines": ["1 High St"], "country": "GB"}' if pk % 4 == 0 else None,
                               "active" if pk % 200 else "deactivated", now, now))  # fmt: skip
            cells = {}
            for _ in range(rng.choice((2, 3, 3, 4))):
                key, channels, _on = rng.choice(TOPICS)
                cells[(key, rng.choice(channels))] = rng.random() < 0.5
            if rng.random() < 0.05:
                cells[("*", rng.choice(CHANNELS))] = False
            if rng.random() < 0.01:
                cells[("*", "*")] = False
            choices += [(pk, topic, channel, subscribed, now) for (topic, channel), subscribed in cells.items()]
            if rng.random() < 0.005:
                suppressions.append((_hash("email", email), "email", "import", now))
        yield recipients, choices, suppressions


def topic_rows() -> list[tuple]:
    now = datetime.now(UTC)
    return [
        (key, key.title(), "", False, json.dumps(channels), json.dumps({c: c in on for c in channels}), False, now, now)
        for key, channels, on in TOPICS
    ]


RECIPIENTS = "pk, id, email, phone, email_hash, phone_hash, postal_address, status, created_at, updated_at"
CHOICES = "recipient_pk, topic, channel, subscribed, updated_at"
SUPPRESSIONS = "hash, kind, source, created_at"
TOPIC_COLUMNS = "key, name, description, mandatory, channels, default_subscribed, archived, created_at, updated_at"


def build(database_url: str, n: int, log=print) -> None:
    started = time.perf_counter()
    migrate(database_url)
    if database_url.startswith("postgresql"):
        _fill_postgres(database_url, n)
    else:
        _fill_sqlite(database_url.split("///", 1)[1], n)
    log(f"built {n:,} recipients in {time.perf_counter() - started:.1f} s")


def build_sqlite(path: str, n: int, log=print) -> None:
    build(f"sqlite:///{path}", n, log)


def _fill_sqlite(path: str, n: int) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")

    def as_text(batch):
        return [tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row) for row in batch]

    connection.executemany(f"INSERT INTO topics ({TOPIC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", as_text(topic_rows()))
    for recipients, choices, suppressions in rows(n):
        connection.executemany(
            f"INSERT INTO recipients ({RECIPIENTS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", as_text(recipients)
        )
        connection.executemany(f"INSERT INTO choices ({CHOICES}) VALUES (?, ?, ?, ?, ?)", as_text(choices))
        connection.executemany(f"INSERT OR IGNORE INTO suppressions ({SUPPRESSIONS}) VALUES (?, ?, ?, ?)", as_text(suppressions))
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


def _fill_postgres(database_url: str, n: int) -> None:
    import psycopg

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO topics ({TOPIC_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", topic_rows())
            seen: set[str] = set()
            for recipients, choices, suppressions in rows(n):
                for table, columns, batch in (("recipients", RECIPIENTS, recipients), ("choices", CHOICES, choices)):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                fresh = [row for row in suppressions if row[0] not in seen]
                seen.update(row[0] for row in fresh)
                with cursor.copy(f"COPY suppressions ({SUPPRESSIONS}) FROM STDIN") as copy:
                    for row in fresh:
                        copy.write_row(row)
            cursor.execute("SELECT setval(pg_get_serial_sequence('recipients', 'pk'), (SELECT max(pk) FROM recipients))")
        connection.commit()
        connection.autocommit = True
        # What autovacuum does to a table in service: hint bits set and the visibility map made (else every
        # first read of a freshly loaded page writes it back, which no steady-state server does), statistics.
        connection.execute("VACUUM (ANALYZE)")


def mixed_checks(n: int, count: int, seed: int = 11) -> list[dict]:
    """Check items as a campaign sends them: mostly by id, some by email or phone, 3% strangers."""
    rng = random.Random(seed)
    topic_keys = [key for key, _c, _o in TOPICS] + ["billing"]
    items = []
    for _ in range(count):
        pk = rng.randint(1, n) if rng.random() > 0.03 else n + rng.randint(1, 1000)
        roll = rng.random()
        if roll < 0.6:
            item = {"recipient_id": f"r{pk}"}
        elif roll < 0.85:
            item = {"email": email_of(pk)}
        else:
            item = {"phone": phone_of(pk)}
        item["topic"] = rng.choice(topic_keys)
        item["channel"] = rng.choice(CHANNELS)
        items.append(item)
    return items
