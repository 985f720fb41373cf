"""P1: 10,000 mixed checks through POST /check/batch vs the same look-ups in raw SQL, on one database.
P3: single-check latency on a large database vs a small one.

    .venv/bin/python bench/check.py            # 1,000,000 recipients (builds a fresh SQLite file)
    .venv/bin/python bench/check.py --n 10000  # quick

The batch goes through the whole app in-process (routing, key check, JSON in and out, validation, the
decision rule), so what is measured is the service's own work; the baseline runs the service's own
look-up query (same SQL, same chunks) on a bare driver connection and fetches every row. Both are timed
several times after a warm-up; the median is reported. Target (SPEC §9): ratio ≤ 3 (goal 2).
bench/run.py runs this with the other targets.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import SETTINGS, build, mixed_checks  # noqa: E402


def raw_lookups(database_url: str, items: list[dict]) -> int:
    """The service's own look-up query (same SQL, same chunks), on a bare driver connection."""
    from prefs.services.states import CHUNK, LOOKUP_COLUMNS, state_sql

    if database_url.startswith("postgresql"):
        import psycopg

        connection, mark = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")), "%s"
    else:
        connection, mark = sqlite3.connect(database_url.split("///", 1)[1]), "?"
    rows = 0
    cursor = connection.cursor()
    for kind in LOOKUP_COLUMNS:
        keys = list({item[kind] for item in items if kind in item})
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            cursor.execute(state_sql(kind, len(chunk), mark), chunk)
            rows += len(cursor.fetchall())
    connection.close()
    return rows


def timed(function, repeats: int) -> float:
    function()  # warm-up: caches, compiled statements, page cache
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def app_and_key(database_url: str):
    from prefs import create_app
    from prefs.db.transactions import unit_of_work
    from prefs.services.api_keys import create_key

    app = create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url})
    with app.app_context():
        key = unit_of_work(lambda: create_key(f"bench-{time.monotonic_ns()}", ["check"], "cli", "bench"))
    return app, {"Authorization": f"Bearer {key}"}


def measure_batch(database_url: str, n: int, checks: int = 10_000, repeats: int = 7) -> dict:
    items = mixed_checks(n, checks)
    app, headers = app_and_key(database_url)
    client = app.test_client()

    def batch():
        response = client.post("/api/v1/check/batch", json={"checks": items}, headers=headers)
        assert response.status_code == 200 and len(response.get_json()["results"]) == len(items)

    service = timed(batch, repeats)
    baseline = timed(lambda: raw_lookups(database_url, items), repeats)
    _dispose(app)
    return {"service_ms": service * 1000, "baseline_ms": baseline * 1000, "ratio": service / baseline}


def measure_single_latency(database_url: str, n: int, count: int = 3000) -> dict:
    """Latency of one POST /check, in-process, over `count` mixed items: percentiles in ms."""
    items = mixed_checks(n, count, seed=23)
    app, headers = app_and_key(database_url)
    client = app.test_client()
    for item in items[:200]:
        client.post("/api/v1/check", json=item, headers=headers)
    samples = []
    for item in items:
        started = time.perf_counter()
        response = client.post("/api/v1/check", json=item, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    _dispose(app)
    samples.sort()
    return {f"p{p}_ms": samples[min(len(samples) - 1, int(len(samples) * p / 100))] for p in (50, 90, 99)}


def _dispose(app) -> None:
    from prefs.extensions import db

    with app.app_context():
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="recipients in the database (default 1,000,000)")
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        url = f"sqlite:///{os.path.join(directory, 'bench.sqlite3')}"
        build(url, args.n)
        result = measure_batch(url, args.n, args.checks, args.repeats)
    print(f"P1  {args.checks:,} mixed checks, {args.n:,} recipients (SQLite)")
    print(f"    /check/batch  {result['service_ms']:8.1f} ms")
    print(f"    raw SQL       {result['baseline_ms']:8.1f} ms")
    print(f"    ratio         {result['ratio']:8.2f}x   target <= 3x (goal 2x): {'met' if result['ratio'] <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
