"""All the speed targets of SPEC §9 in one run, each against a baseline measured in the same run.

    .venv/bin/python bench/run.py                 # SQLite, 1,000,000 recipients (about 5 minutes here)
    .venv/bin/python bench/run.py --postgres      # the same on PostgreSQL (127.0.0.1, database prefs_bench)
    .venv/bin/python bench/run.py --n 100000 --seconds 5

P1  10,000 mixed checks through POST /check/batch vs the service's look-up SQL on a bare driver connection
P2  single POST /check over HTTP (gunicorn, 2 workers, wrk) vs a trivial JSON route; and its p99
P3  single-check latency (p50) with N recipients vs 10,000
P4  `flask recipients import` of N rows
P5  one-click unsubscribe POSTs over HTTP vs the trivial route

Writes bench/out/results-<database>.json, the chart docs/perf-<database>.png (check latency percentiles),
and the table in docs/performance.md between its markers. Needs wrk (apt-get install wrk) and matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from app_overhead import measure as measure_overhead  # noqa: E402
from check import app_and_key, measure_batch, measure_single_latency  # noqa: E402
from dataset import POSTGRES_URL, SETTINGS, build, mixed_checks  # noqa: E402
from import_csv import measure_import  # noqa: E402
from one_click import measure_one_click  # noqa: E402
from served import CONNECTIONS, CpuMeter, gunicorn, lua_script, wrk  # noqa: E402

CHECK_LUA = """
local bodies = {}
for line in io.lines(os.getenv("PREFS_BODIES")) do bodies[#bodies + 1] = line end
local key = os.getenv("PREFS_KEY")
local counter = 0
function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  return wrk.format("POST", "/api/v1/check", headers, bodies[counter % #bodies + 1])
end
"""


def measure_http_check(database_url: str, n: int, seconds: int, directory: str) -> dict:
    app, headers = app_and_key(database_url)  # creates a key in the database the server will read
    key = headers["Authorization"].split()[1]
    from prefs.extensions import db

    with app.app_context():
        db.engine.dispose()
    bodies = os.path.join(directory, "checks.jsonl")
    with open(bodies, "w") as handle:
        for item in mixed_checks(n, 20_000, seed=31):
            handle.write(json.dumps(item) + "\n")
    with gunicorn({**SETTINGS, "PREFS_DATABASE_URL": database_url}) as base:
        wrk(base + "/bench/trivial", seconds=2)  # warm-up
        with CpuMeter(base) as trivial_meter:
            trivial = wrk(base + "/bench/trivial", seconds=seconds)
        with CpuMeter(base) as meter:
            check = wrk(base, seconds=seconds, script=lua_script(CHECK_LUA), env={"PREFS_BODIES": bodies, "PREFS_KEY": key})
    return {
        **meter.per_request_us(check.requests),
        **{f"trivial_{name}": value for name, value in trivial_meter.per_request_us(trivial.requests).items()},
        "trivial_rps": trivial.requests_per_second,
        "trivial_p99_ms": trivial.p99_ms,
        "check_rps": check.requests_per_second,
        "check_p50_ms": check.p50_ms,
        "check_p99_ms": check.p99_ms,
        "errors": check.errors,
        "ratio": check.requests_per_second / trivial.requests_per_second,
    }


def database_url_for(args, name: str, directory: str) -> str:
    if args.postgres:
        server = args.postgres.rpartition("/")[0]
        return f"{server}/{name}"
    return f"sqlite:///{os.path.join(directory, name + '.sqlite3')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="per HTTP measurement")
    parser.add_argument("--postgres", nargs="?", const=POSTGRES_URL, help=f"run on PostgreSQL (default {POSTGRES_URL})")
    args = parser.parse_args()
    kind = "postgresql" if args.postgres else "sqlite"
    started = time.perf_counter()
    results: dict = {
        "database": kind,
        "n": args.n,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "connections": CONNECTIONS,
    }
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory:
        large, small = database_url_for(args, "prefs_bench", directory), database_url_for(args, "prefs_bench_small", directory)
        build(large, args.n)
        build(small, 10_000)
        results["P1"] = measure_batch(large, args.n)
        results["P3"] = {"large": measure_single_latency(large, args.n), "small": measure_single_latency(small, 10_000)}
        results["P3"]["ratio"] = results["P3"]["large"]["p50_ms"] / results["P3"]["small"]["p50_ms"]
        results["P2"] = measure_http_check(large, args.n, args.seconds, directory)
        results["P5"] = measure_one_click(large, args.n, args.seconds, directory)
        results["overhead"] = measure_overhead(args.seconds, 2, small)
        results["P4"] = measure_import(database_url_for(args, "prefs_bench_import", directory), args.n, directory, again=False)
    results["seconds"] = time.perf_counter() - started
    rows = table(results)
    print("\n".join(rows))
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", f"results-{kind}.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    chart(results, os.path.join(ROOT, "docs", f"perf-{kind}.png"))
    update_docs(kind, results, rows)


def table(r: dict) -> list[str]:
    p1, p2, p3, p4, p5, overhead = r["P1"], r["P2"], r["P3"], r["P4"], r["P5"], r["overhead"]
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    n = f"{r['n']:,}"
    return [
        *cpu_table(r),
        "| target | figure | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
        f"| P1 batch of 10,000 mixed checks, {n} recipients | {p1['service_ms']:.0f} ms | raw SQL {p1['baseline_ms']:.0f} ms | {p1['ratio']:.2f}× | ≤ 3× (goal 2×) | {met(p1['ratio'] <= 3)} |",
        f"| P2 POST /check over HTTP | {p2['check_rps']:.0f} req/s, p99 {p2['check_p99_ms']:.1f} ms | trivial route {p2['trivial_rps']:.0f} req/s | {p2['ratio']:.1%} | ≥ 60%, p99 ≤ 10 ms | {met(p2['ratio'] >= 0.6 and p2['check_p99_ms'] <= 10)} |",
        f"| P3 check latency p50, {n} vs 10,000 | {p3['large']['p50_ms']:.2f} ms | {p3['small']['p50_ms']:.2f} ms | {p3['ratio']:.2f}× | ≤ 1.25× | {met(p3['ratio'] <= 1.25)} |",
        f"| P4 import of {n} rows | {p4['seconds']:.1f} s | — | — | ≤ 60 s | {met(p4['seconds'] <= 60)} |",
        f"| P5 one-click POSTs over HTTP | {p5['one_click_rps']:.0f} req/s, p99 {p5['one_click_p99_ms']:.1f} ms | trivial route {p5['trivial_rps']:.0f} req/s | {p5['ratio']:.1%} | ≥ 40% | {met(p5['ratio'] >= 0.4)} |",
        f"| the app's JSON 404 (its cost per request, issue 17) | {overhead['app_404_rps']:.0f} req/s | bare Flask JSON route {overhead['bare_rps']:.0f} req/s | {overhead['ratio']:.1%} | ≥ 80% | {met(overhead['ratio'] >= 0.8)} |",
    ]


def cpu_table(r: dict) -> list[str]:
    """CPU per request of each HTTP measurement: what a route costs beyond the trivial one decides its ratio."""
    p2, p5 = r["P2"], r["P5"]
    postgres = r["database"] == "postgresql"
    trivial = p2["trivial_app_cpu_us"] + p2["trivial_database_cpu_us"] * postgres

    def row(name: str, app: float, database: float) -> str:
        total = app + database * postgres
        return (
            f"| {name} | {app:.0f} µs | {f'{database:.0f} µs' if postgres else '(inside the app)'} | {total - trivial:+.0f} µs |"
        )

    return [
        "CPU per request during each HTTP load (the app's gunicorn workers, and PostgreSQL's processes):",
        "",
        "| request | app workers | PostgreSQL | beyond the trivial route |",
        "|---|---|---|---|",
        row("trivial route", p2["trivial_app_cpu_us"], p2["trivial_database_cpu_us"]),
        row("POST /check (P2)", p2["app_cpu_us"], p2["database_cpu_us"]),
        row("one-click POST (P5)", p5["app_cpu_us"], p5["database_cpu_us"]),
        "",
    ]


def chart(r: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["p50", "p90", "p99"]
    series = {
        "in-process, 10,000 recipients": [r["P3"]["small"][f"{p}_ms"] for p in labels],
        f"in-process, {r['n']:,} recipients": [r["P3"]["large"][f"{p}_ms"] for p in labels],
        f"HTTP under load ({r['connections']} connections)": [r["P2"]["check_p50_ms"], None, r["P2"]["check_p99_ms"]],
    }
    figure, axes = plt.subplots(figsize=(7, 4))
    width = 0.27
    for index, (name, values) in enumerate(series.items()):
        positions = [x + (index - 1) * width for x in range(len(labels))]
        axes.bar(
            [p for p, v in zip(positions, values, strict=True) if v is not None],
            [v for v in values if v is not None],
            width,
            label=name,
        )
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylabel("ms per POST /check")
    axes.set_title(f"Check latency, {r['database']} ({r['at']})")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def update_docs(kind: str, r: dict, rows: list[str]) -> None:
    path = os.path.join(ROOT, "docs", "performance.md")
    if not os.path.exists(path):
        return
    text = open(path).read()
    block = (
        f"<!-- results:{kind} -->\nMeasured {r['at']} on this project's machine (2 cores), {r['n']:,} recipients, whole run {r['seconds']:.0f} s.\n\n"
        + "\n".join(rows)
        + f"\n<!-- /results:{kind} -->"
    )
    text = re.sub(rf"<!-- results:{kind} -->.*?<!-- /results:{kind} -->", lambda _m: block, text, flags=re.S)
    with open(path, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
