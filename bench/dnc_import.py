"""Issue 16, acceptance 3: `flask --app app dnc import` of 1,000,000 numbers (SPEC §17), under 60 s.

    .venv/bin/python bench/dnc_import.py                  # 1,000,000 numbers into a fresh SQLite database
    .venv/bin/python bench/dnc_import.py --n 100000
    .venv/bin/python bench/dnc_import.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/prefs_bench_dnc

Runs the real CLI in a subprocess on a file of ten-digit US numbers, as the national registry hands them out
(one a line, no two alike), then loads a second such list, which replaces the first (switch, then the old
generation's numbers deleted) and is timed too. A PostgreSQL database named in --database-url is emptied first.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import SETTINGS, migrate  # noqa: E402


def write_numbers(path: str, n: int, seed: int) -> None:
    """`n` distinct NANP numbers (area code and exchange 200-999, any line), in random order."""
    rng = random.Random(seed)
    per_area = 800 * 10_000
    with open(path, "w") as handle:
        for index in rng.sample(range(800 * per_area), n):
            area, rest = divmod(index, per_area)
            exchange, line = divmod(rest, 10_000)
            handle.write(f"{200 + area}{200 + exchange}{line:04d}\n")


def run_load(path: str, env: dict[str, str], as_of: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "app", "dnc", "import", path, "--as-of", as_of],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return elapsed, done.stdout.strip().splitlines()[-1]


def measure(database_url: str, n: int, directory: str) -> dict:
    migrate(database_url)
    env = {**SETTINGS, "PREFS_DATABASE_URL": database_url}
    first_file, second_file = os.path.join(directory, "dnc-1.txt"), os.path.join(directory, "dnc-2.txt")
    write_numbers(first_file, n, seed=1)
    write_numbers(second_file, n, seed=2)
    today = datetime.now(UTC).date()
    first, first_summary = run_load(first_file, env, (today - timedelta(days=7)).isoformat())
    second, second_summary = run_load(second_file, env, today.isoformat())
    return {"first": first, "first_summary": first_summary, "second": second, "second_summary": second_summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        url = args.database_url or f"sqlite:///{os.path.join(directory, 'dnc.sqlite3')}"
        result = measure(url, args.n, directory)
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"dnc import, {args.n:,} numbers into {kind}")
    print(
        f"    first list    {result['first']:7.1f} s   ({result['first_summary']})   target <= 60 s: {'met' if result['first'] <= 60 else 'NOT met'}"
    )
    print(f"    replaced by   {result['second']:7.1f} s   ({result['second_summary']})")


if __name__ == "__main__":
    main()
