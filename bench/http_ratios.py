"""P2 and P5 alone (the two HTTP ratios of bench/run.py), a few rounds on fresh data: for trying a change to
the check or the one-click without the whole run, and for asking where their cost lies.

    .venv/bin/python bench/http_ratios.py                          # SQLite, 100,000 recipients
    .venv/bin/python bench/http_ratios.py --postgres --rounds 2
    .venv/bin/python bench/http_ratios.py --postgres --database-cpus 1

`--database-cpus` runs PostgreSQL on those CPUs only and the app, wrk and this script on the others (Linux
CPU affinity; changing PostgreSQL's needs the rights to, e.g. root). It stands in for a database on a machine of
its own: what is left of the shortfall then is the app's own cost. PostgreSQL's processes get every CPU back
at the end. Each round builds the data again: a one-click changes what the next one would find.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from dataset import POSTGRES_URL, build  # noqa: E402
from one_click import measure_one_click  # noqa: E402
from run import measure_http_check  # noqa: E402
from served import postgres_pids  # noqa: E402


@contextmanager
def database_on(cpus: set[int] | None) -> Iterator[None]:
    """PostgreSQL on `cpus`, this process (and so the app and wrk it starts) on the rest; None: as they are.
    PostgreSQL's backends are forked by its postmaster, so they inherit its CPUs."""
    if not cpus:
        yield
        return
    every = os.sched_getaffinity(0)
    rest = every - cpus
    if not rest or not cpus <= every:
        raise SystemExit(f"--database-cpus must name some of this machine's CPUs {sorted(every)}, not all of them")
    try:
        _pin_postgres(cpus)
    except PermissionError:
        raise SystemExit("--database-cpus needs the rights to change PostgreSQL's CPU affinity (run as root)") from None
    os.sched_setaffinity(0, rest)
    try:
        yield
    finally:
        os.sched_setaffinity(0, every)
        _pin_postgres(every)


def _pin_postgres(cpus: set[int]) -> None:
    for pid in postgres_pids():
        with suppress(ProcessLookupError):  # a backend that ended meanwhile
            os.sched_setaffinity(pid, cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8, help="per HTTP measurement")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--postgres", nargs="?", const=POSTGRES_URL, help=f"run on PostgreSQL (default {POSTGRES_URL})")
    parser.add_argument("--database-cpus", help="PostgreSQL on these CPUs only, e.g. 1 or 2,3 (see above)")
    args = parser.parse_args()
    cpus = {int(cpu) for cpu in args.database_cpus.split(",")} if args.database_cpus else None
    if cpus and not args.postgres:
        raise SystemExit("--database-cpus is for PostgreSQL: SQLite runs inside the app")
    with tempfile.TemporaryDirectory(prefix="prefs-bench-") as directory, database_on(cpus):
        built = 0

        def fresh_data() -> str:
            """A database just built: PostgreSQL's is emptied first; SQLite's is a new file each time."""
            nonlocal built
            built += 1
            url = args.postgres or f"sqlite:///{os.path.join(directory, f'ratios-{built}.sqlite3')}"
            build(url, args.n, log=lambda *_: None)
            return url

        app_cpus = sorted(os.sched_getaffinity(0))
        print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, {args.n:,} recipients; app and wrk on CPUs {app_cpus}", end="")
        print(f", PostgreSQL on {sorted(cpus)}" if cpus else "")
        for _ in range(args.rounds):
            p2 = measure_http_check(fresh_data(), args.n, args.seconds, directory)
            p5 = measure_one_click(fresh_data(), args.n, args.seconds, directory)
            trivial = p2["trivial_app_cpu_us"]
            print(
                f"P2 {p2['ratio']:.0%} (check {p2['check_rps']:.0f} req/s, trivial {p2['trivial_rps']:.0f}); "
                f"P5 {p5['ratio']:.0%} (one-click {p5['one_click_rps']:.0f} req/s, trivial {p5['trivial_rps']:.0f})"
            )
            print(
                f"   CPU per request: trivial {trivial:.0f} µs in the workers; check {p2['app_cpu_us']:.0f} µs "
                f"+ {p2['database_cpu_us']:.0f} µs PostgreSQL; one-click {p5['app_cpu_us']:.0f} µs "
                f"+ {p5['database_cpu_us']:.0f} µs PostgreSQL"
            )


if __name__ == "__main__":
    main()
