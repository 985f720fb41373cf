"""Builds a benchmark database: N recipients, 8 topics, about 3 choices each, 5% channel stops,
1% all-marketing stops, 0.5% suppressed addresses. Written with plain SQL for speed, after the real
migrations created the schema, so the app reads exactly what it would have written itself."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import sqlite3
import time
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


def email_of(n: int) -> str:
    return f"user{n}@example.com"


def phone_of(n: int) -> str:
    return f"+4479{n:08d}"


def _hash(kind: str, address: str) -> str:
    return hmac.new(SETTINGS["PREFS_SUPPRESSION_KEY"].encode(), f"{kind}:{address}".encode(), hashlib.sha256).hexdigest()


def migrate(database_url: str) -> None:
    from flask_migrate import upgrade

    from prefs import create_app
    from prefs.extensions import db

    app = create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def build_sqlite(path: str, n: int, seed: int = 7, log=print) -> None:
    """Create the schema with the migrations, then fill it."""
    started = time.perf_counter()
    migrate(f"sqlite:///{path}")
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).isoformat(sep=" ")
    connection.executemany(
        "INSERT INTO topics (key, name, description, mandatory, channels, default_subscribed, archived, created_at, updated_at)"
        " VALUES (?, ?, '', 0, ?, ?, 0, ?, ?)",
        [(key, key.title(), json.dumps(channels), json.dumps({c: c in on for c in channels}), now, now) for key, channels, on in TOPICS],
    )
    batch = 50_000
    for start in range(1, n + 1, batch):
        recipients, choices, suppressions = [], [], []
        for pk in range(start, min(start + batch, n + 1)):
            email, phone = email_of(pk), phone_of(pk) if pk % 3 else None
            recipients.append((pk, f"r{pk}", email, phone, _hash("email", email), _hash("phone", phone) if phone else None,
                               '{"lines": ["1 High St"], "country": "GB"}' if pk % 4 == 0 else None, "active" if pk % 200 else "deactivated", now, now))  # fmt: skip
            for _ in range(rng.choice((2, 3, 3, 4))):
                key, channels, _on = rng.choice(TOPICS)
                choices.append((pk, key, rng.choice(channels), rng.random() < 0.5, now))
            if rng.random() < 0.05:
                choices.append((pk, "*", rng.choice(CHANNELS), False, now))
            if rng.random() < 0.01:
                choices.append((pk, "*", "*", False, now))
            if rng.random() < 0.005:
                suppressions.append((_hash("email", email), "email", "import", now))
        connection.executemany(
            "INSERT INTO recipients (pk, id, email, phone, email_hash, phone_hash, postal_address, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            recipients,
        )
        connection.executemany("INSERT OR REPLACE INTO choices (recipient_pk, topic, channel, subscribed, updated_at) VALUES (?, ?, ?, ?, ?)", choices)
        connection.executemany("INSERT OR IGNORE INTO suppressions (hash, kind, source, created_at) VALUES (?, ?, ?, ?)", suppressions)
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    log(f"built {n:,} recipients in {time.perf_counter() - started:.1f} s")


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
