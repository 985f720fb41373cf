"""P1: 10,000 mixed checks through POST /check/batch vs the same look-ups in raw SQL, on one SQLite file.

    .venv/bin/python bench/check.py            # 1,000,000 recipients (builds a fresh file, ~1 min)
    .venv/bin/python bench/check.py --n 10000  # quick

The batch goes through the whole app in-process (routing, key check, JSON in and out, validation, the
decision rule), so what is measured is the service's own work; the baseline runs the same joined queries
(recipient, choices, suppression of its addresses) with the sqlite3 module and fetches every row.
Both are timed several times after a warm-up; the median is reported. Target (SPEC §9): ratio ≤ 3 (goal 2).
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

from dataset import SETTINGS, build_sqlite, mixed_checks  # noqa: E402


def raw_lookups(path: str, items: list[dict]) -> int:
    """The service's own look-up query (same SQL, same chunks), on a bare sqlite3 connection."""
    from prefs.services.states import CHUNK, LOOKUP_COLUMNS, state_sql

    connection = sqlite3.connect(path)
    rows = 0
    for kind in LOOKUP_COLUMNS:
        keys = list({item[kind] for item in items if kind in item})
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            rows += len(connection.execute(state_sql(kind, len(chunk), "?"), chunk).fetchall())
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="recipients in the database (default 1,000,000)")
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from prefs import create_app
    from prefs.services.api_keys import create_key
    from prefs.transactions import commit

    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        path = os.path.join(directory, "bench.sqlite3")
        build_sqlite(path, args.n)
        items = mixed_checks(args.n, args.checks)

        app = create_app({**SETTINGS, "PREFS_DATABASE_URL": f"sqlite:///{path}"})
        with app.app_context():
            key = commit(lambda: create_key("bench", ["check"], "cli", "bench"))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}

        def batch():
            response = client.post("/api/v1/check/batch", json={"checks": items}, headers=headers)
            assert response.status_code == 200 and len(response.get_json()["results"]) == len(items)

        service = timed(batch, args.repeats)
        baseline = timed(lambda: raw_lookups(path, items), args.repeats)
        ratio = service / baseline
        print(f"P1  {args.checks:,} mixed checks, {args.n:,} recipients (SQLite)")
        print(f"    /check/batch  {service * 1000:8.1f} ms")
        print(f"    raw SQL       {baseline * 1000:8.1f} ms")
        print(f"    ratio         {ratio:8.2f}x   target <= 3x (goal 2x): {'met' if ratio <= 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
