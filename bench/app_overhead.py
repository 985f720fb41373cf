"""The app's own cost per request (issue 17): prefs' cheapest answer, a JSON 404 under /api/v1, against a bare
Flask JSON route (bench/bare_app.py), both under the project's gunicorn.conf.py (access log on, redacted),
2 sync workers, wrk with 8 connections. Target: ≥ 80% of the bare route's requests/s.

    .venv/bin/python bench/app_overhead.py [--seconds 10] [--rounds 3]

The two are measured in turns, `--rounds` times, and the best of each is compared: on a shared machine the
best run is the one least disturbed by everything else. The workers' CPU time per request is printed too: other
work on the machine moves it far less than requests/s, so it shows where the app's cost went.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from dataset import SETTINGS  # noqa: E402
from served import cpu_seconds, gunicorn, wrk  # noqa: E402

CONNECTIONS = 8
TARGET = 0.80


def measure(seconds: int, rounds: int, database_url: str) -> dict:
    config = os.path.join(ROOT, "gunicorn.conf.py")
    env = {**SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_WORKERS": "2"}
    bare: list[float] = []
    app: list[float] = []
    cpu = {"bare": [0.0, 0], "app": [0.0, 0]}  # the workers' CPU seconds, requests answered

    def load(name: str, base, url: str, into: list[float]) -> None:
        before = cpu_seconds(base.pid)
        result = wrk(url, seconds=seconds, connections=CONNECTIONS)
        cpu[name][0] += cpu_seconds(base.pid) - before
        cpu[name][1] += result.requests
        into.append(result.requests_per_second)

    with (
        gunicorn(env, config=config, app="bench.bare_app:app", quiet=True) as bare_base,
        gunicorn(env, config=config, quiet=True) as app_base,
    ):
        wrk(bare_base + "/api/v1/ping", seconds=2, connections=CONNECTIONS)  # warm-up
        wrk(app_base + "/api/v1/no-such-thing", seconds=2, connections=CONNECTIONS)
        for _ in range(rounds):
            load("bare", bare_base, bare_base + "/api/v1/ping", bare)
            load("app", app_base, app_base + "/api/v1/no-such-thing", app)
    return {
        "bare_rps": max(bare),
        "app_404_rps": max(app),
        "ratio": max(app) / max(bare),
        "bare_runs": bare,
        "app_runs": app,
        "bare_worker_cpu_us": cpu["bare"][0] / cpu["bare"][1] * 1e6,
        "app_worker_cpu_us": cpu["app"][0] / cpu["app"][1] * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{directory}/overhead.db"
        from dataset import migrate  # the app's 404 needs no rows, only a schema

        migrate(database_url)
        r = measure(args.seconds, args.rounds, database_url)
    verdict = "met" if r["ratio"] >= TARGET else "NOT met"
    print(
        f"bare Flask JSON route {r['bare_rps']:.0f} req/s; prefs JSON 404 {r['app_404_rps']:.0f} req/s: {r['ratio']:.0%} (target ≥ 80%): {verdict}"
    )
    print(
        f"gunicorn workers' CPU per request: bare {r['bare_worker_cpu_us']:.0f} µs, prefs {r['app_worker_cpu_us']:.0f} µs "
        f"(bare/prefs {r['bare_worker_cpu_us'] / r['app_worker_cpu_us']:.0%}; other load moves this far less than requests/s)"
    )


if __name__ == "__main__":
    main()
