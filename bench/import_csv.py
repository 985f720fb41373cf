"""P4: `flask --app app recipients import` of 1,000,000 rows into a fresh database (SQLite unless told).

    .venv/bin/python bench/import_csv.py             # 1,000,000 rows
    .venv/bin/python bench/import_csv.py --n 100000
    .venv/bin/python bench/import_csv.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/prefs_bench_import

Runs the real CLI in a subprocess (both cores: validation in worker processes while one process writes).
Target (SPEC §9): ≤ 60 s. Then imports the same file again, which must change nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import SETTINGS, migrate  # noqa: E402


def write_csv(path: str, n: int) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "phone", "locale", "newsletter:email", "newsletter:sms"])
        for i in range(1, n + 1):
            writer.writerow([f"r{i}", f"user{i}@example.com", f"+4479{i:08d}" if i % 3 else "", "en-GB",
                             ("yes", "no", "")[i % 3], "yes" if i % 10 == 0 else ""])  # fmt: skip


def run_import(csv_path: str, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "app", "recipients", "import", csv_path],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return elapsed, done.stdout.strip().splitlines()[-1]


def measure_import(database_url: str, n: int, directory: str, again: bool = True) -> dict:
    migrate(database_url)
    env = {**SETTINGS, "PREFS_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-c", "from prefs import create_app\nfrom prefs.services.topics import create_topic\nfrom prefs.db.transactions import unit_of_work\n"
         "app = create_app()\nwith app.app_context(): unit_of_work(lambda: create_topic({'key': 'newsletter', 'name': 'Newsletter', 'channels': ['email', 'sms'],"
         " 'default_subscribed': {'email': True}}, 'cli', 'bench'))"],
        cwd=ROOT, env={**os.environ, **env}, check=True,
    )  # fmt: skip
    csv_path = os.path.join(directory, "people.csv")
    write_csv(csv_path, n)
    first, summary = run_import(csv_path, env)
    result = {"seconds": first, "summary": summary}
    if again:
        result["again_seconds"], result["again_summary"] = run_import(csv_path, env)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/prefs_bench_import (emptied)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        url = args.database_url or f"sqlite:///{os.path.join(directory, 'import.sqlite3')}"
        result = measure_import(url, args.n, directory)
    print(f"P4  recipients import, {args.n:,} rows into {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}")
    print(
        f"    first import  {result['seconds']:7.1f} s   ({result['summary']})   target <= 60 s: {'met' if result['seconds'] <= 60 else 'NOT met'}"
    )
    print(f"    same again    {result['again_seconds']:7.1f} s   ({result['again_summary']})")


if __name__ == "__main__":
    main()
