"""P6 and R6 (SPEC §18): webhook delivery by the real worker (`flask --app app worker`) to a local receiver.

    .venv/bin/python bench/webhooks.py                              # P6 on a fresh SQLite file, 10,000 events
    .venv/bin/python bench/webhooks.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/prefs_webhooks
    .venv/bin/python bench/webhooks.py --kill 5 --events 20000      # R6: kill -9 the worker 5 times while it delivers
    .venv/bin/python bench/webhooks.py --two-workers --database-url postgresql+psycopg://...   # two workers at once

P6 first measures the receiver alone (bench/receiver.py under wrk), then, each on a fresh database:
  burst:      one worker running and idle; N consent events (N/5 people, 5 events each) committed in one
              transaction: deliveries/s from the first arrival to the last;
  backlog:    the same N events queued first, then the worker started on them;
  latency:    with the worker running, N events committed at a steady rate below the better of those (a
              fraction of it, --feed-fraction): each event's time from its commit to its first arrival.
R6 queues N events, starts the worker, and N times: waits until a share of them arrived, makes the receiver
hold its requests, kills the worker with SIGKILL once one is held (so a delivery is surely in flight),
releases them and starts the worker again; then every message must have arrived, each recipient's in
commit order. The database is emptied first: never point this at real data. Results go to
bench/out/webhooks-<mode>-<database>.json. tests/test_worker_processes.py runs short forms of R6 and of
the two workers.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from receiver import ArrivalLog, ReceiverProcess, measure_capacity  # noqa: E402

FLASK = os.path.join(os.path.dirname(sys.executable), "flask")
SETTINGS = {
    "PREFS_ENV": "production",
    "PREFS_SECRET_KEYS": "webhooks-signing-key",
    "PREFS_SUPPRESSION_KEY": "webhooks-suppression-key",
    "PREFS_BASE_URL": "https://prefs.example.com",
    "PREFS_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",  # the receiver listens on loopback
    "PREFS_RETRY_SCHEDULE": "1,1,2,2,5,5,10",  # a failed attempt (none is expected) is retried within seconds
}
WORKER_READY = "worker: delivering"  # what `flask worker` says once it runs
POLL_SECONDS = 0.02
DEADLINE_SECONDS = 600.0  # generous: a wait this long means something is stuck, never that it was slow


# --- the database and the events -----------------------------------------------------------------------


def prepare(database_url: str) -> None:
    """A fresh schema through the real migrations: on PostgreSQL the named database is emptied first (and
    created when missing), a SQLite file is deleted."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from prefs.extensions import db

    if database_url.startswith("postgresql"):
        server, _, name = database_url.rpartition("/")
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).first():
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    elif "///" in database_url:
        path = database_url.split("///", 1)[1]
        for leftover in (path, path + "-wal", path + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        db.engine.dispose()


def make_app(database_url: str):
    from prefs import create_app

    return create_app({**SETTINGS, "PREFS_DATABASE_URL": database_url})


def add_endpoint(app, url: str) -> None:
    """An endpoint for every event type at `url`, made by the service the API uses."""
    from prefs.db.transactions import unit_of_work
    from prefs.runtime import runtime
    from prefs.services.webhook_endpoints import create_endpoint

    with app.app_context():
        unit_of_work(lambda: create_endpoint({"url": url, "events": ["*"]}, runtime().webhook_allow_hosts, "cli", "bench"))


def person(n: int) -> str:
    return f"p{n}"


def queue_events(app, recipients: int, per_recipient: int, chunk: int = 1000, together: bool = False) -> None:
    """recipients × per_recipient consent events through the service functions: each person is created, then
    their status changes (deactivated, active, ...). In rounds by default (everyone's first event, then
    everyone's second, ...), so each person's events lie spread over the id range, as in real traffic;
    `together` writes each person's events one after another instead, so most of a batch is held back
    behind its recipient's older messages (the order rule at work). A transaction per `chunk` events."""
    from prefs.db.transactions import unit_of_work
    from prefs.runtime import runtime
    from prefs.services.events import Actor, ChangeContext
    from prefs.services.recipients import set_status, upsert_recipient, writable_recipient

    context = ChangeContext(Actor("system", "bench", "bench"))
    with app.app_context():
        deps = runtime()

        def change(part: list[tuple[str, int]]) -> None:
            for recipient_id, step in part:
                if step == 0:
                    upsert_recipient(deps, recipient_id, {"email": f"{recipient_id}@example.com"}, context)
                else:
                    set_status(writable_recipient(recipient_id), "deactivated" if step % 2 else "active", context)

        if together:
            changes = [(person(n), step) for n in range(recipients) for step in range(per_recipient)]
        else:
            changes = [(person(n), step) for step in range(per_recipient) for n in range(recipients)]
        for start in range(0, len(changes), chunk):
            unit_of_work(partial(change, changes[start : start + chunk]))


class Database:
    """Read-only look-ups on the bench's database, on a connection of their own."""

    def __init__(self, database_url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(database_url)

    def scalar(self, statement: str) -> int:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return int(connection.execute(text(statement)).scalar_one() or 0)

    def message_ids(self) -> set[str]:
        """The webhook-id of every consent event: each must arrive."""
        from sqlalchemy import text

        from prefs.services.webhook_endpoints import message_id

        with self.engine.connect() as connection:
            return {message_id(row[0]) for row in connection.execute(text("SELECT id FROM consent_events"))}

    def drained(self) -> bool:
        """Nothing left to send: the outbox fanned out and no delivery pending."""
        return (
            self.scalar("SELECT count(*) FROM outbox") == 0
            and self.scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'") == 0
        )

    def failed(self) -> int:
        return self.scalar("SELECT count(*) FROM deliveries WHERE status = 'failed'")

    def close(self) -> None:
        self.engine.dispose()


def wait_for(
    condition: Callable[[], bool], what: str, workers: Sequence[WorkerProcess] = (), deadline_seconds: float = DEADLINE_SECONDS
) -> None:
    """Poll until `condition` holds; a stuck run fails with `what` instead of hanging, and a worker that
    exited on its own fails it at once (with its output)."""
    give_up = time.monotonic() + deadline_seconds
    while not condition():
        for worker in workers:
            worker.check_running()
        if time.monotonic() > give_up:
            raise TimeoutError(f"gave up after {deadline_seconds:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


# --- the worker as a process ------------------------------------------------------------------------------


class WorkerProcess:
    """`flask --app app worker` in a process (and session) of its own; its output goes to a file."""

    def __init__(self, database_url: str, directory: str, name: str, threads: int | None = None) -> None:
        self.output_path = os.path.join(directory, f"{name}.log")
        env = {**os.environ, **SETTINGS, "PREFS_DATABASE_URL": database_url}
        if threads:
            env["PREFS_WORKER_THREADS"] = str(threads)
        with open(self.output_path, "ab") as output:
            self.process = subprocess.Popen(
                [FLASK, "--app", "app", "worker"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the worker exited ({self.process.returncode}):\n{self.output()}")

    def ready(self) -> bool:
        self.check_running()
        return WORKER_READY in self.output()

    def kill(self) -> None:
        """SIGKILL: no handler runs, no transaction commits."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM: the worker finishes the batch in hand and exits."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


def connection_ports(pid: int, remote_port: int) -> set[int]:
    """The local ports of process `pid`'s TCP connections to 127.0.0.1:`remote_port` (Linux /proc), to tell
    which worker sent a request the receiver logged by its peer port."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.split(":")[1], 16) == remote_port:
                ports.add(int(local.split(":")[1], 16))
    return ports


# --- what arrived -----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the receiver got, against what had to arrive."""

    expected: int
    arrivals: int  # requests, duplicates included
    distinct: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)  # recipients whose first arrivals skip back in commit order
    overlapping: list[str] = field(default_factory=list)  # webhook-ids two requests delivered at the same time
    failed: int = 0  # deliveries the worker gave up on

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.out_of_order or self.overlapping or self.failed)


def judge(expected: set[str], log: ArrivalLog, failed: int) -> Verdict:
    first_arrivals: dict[str, list[int]] = {}
    seen: set[str] = set()
    for arrival in log.arrivals:
        if arrival.webhook_id not in seen:
            seen.add(arrival.webhook_id)
            first_arrivals.setdefault(arrival.recipient_id, []).append(event_id(arrival.webhook_id))
    return Verdict(
        expected=len(expected),
        arrivals=len(log.arrivals),
        distinct=len(seen),
        missing=sorted(expected - seen),
        unexpected=sorted(seen - expected),
        out_of_order=sorted(recipient for recipient, ids in first_arrivals.items() if ids != sorted(ids)),
        overlapping=overlapping(log),
        failed=failed,
    )


def event_id(webhook_id: str) -> int:
    return int(webhook_id.removeprefix("evt_"))


def overlapping(log: ArrivalLog) -> list[str]:
    """Webhook-ids with two requests in flight at once at the receiver (one never answered counts as open)."""
    by_id: dict[str, list[tuple[float, float]]] = {}
    for arrival in log.arrivals:
        by_id.setdefault(arrival.webhook_id, []).append(
            (arrival.started, arrival.ended if arrival.ended is not None else float("inf"))
        )
    found = []
    for webhook_id, spans in by_id.items():
        spans.sort()
        if any(later_start < earlier_end for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False)):
            found.append(webhook_id)
    return sorted(found)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- R6: kill -9 while delivering --------------------------------------------------------------------------


def arrived(log: ArrivalLog, count: int) -> bool:
    return len(log.refresh().distinct()) >= count


def held(log: ArrivalLog, count: int) -> bool:
    return log.refresh().held >= count


@dataclass
class KillOutcome:
    verdict: Verdict
    arrived_at_kills: list[int]  # distinct webhook-ids arrived when each kill came
    seconds: float


def run_kills(
    database_url: str,
    recipients: int = 400,
    per_recipient: int = 5,
    kills: int = 1,
    delay_ms: float = 3.0,
    together: bool = False,
) -> KillOutcome:
    """R6: queue the events, start the worker, kill -9 it `kills` times mid-delivery (a request held at the
    receiver, unanswered), start it again each time, wait until nothing is left to send."""
    prepare(database_url)
    app = make_app(database_url)
    database = Database(database_url)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prefs-webhooks-") as directory:
        with ReceiverProcess(os.path.join(directory, "arrivals.log"), delay_ms) as receiver:
            add_endpoint(app, receiver.url())
            queue_events(app, recipients, per_recipient, together=together)
            _dispose(app)
            expected = database.message_ids()
            log = receiver.log
            worker = WorkerProcess(database_url, directory, "worker-0")
            arrived_at_kills = []
            try:
                for kill in range(1, kills + 1):
                    share = len(expected) * kill // (kills + 1)
                    wait_for(partial(arrived, log, share), f"{share} messages to arrive", [worker])
                    receiver.hold()
                    wait_for(partial(held, log, log.held + 1), "a delivery in flight", [worker])
                    worker.kill()
                    arrived_at_kills.append(len(log.distinct()))
                    receiver.release()
                    worker = WorkerProcess(database_url, directory, f"worker-{kill}")
                wait_for(database.drained, "the outbox and the pending deliveries to empty", [worker])
            finally:
                worker.stop()
            verdict = judge(expected, log.refresh(), database.failed())
    database.close()
    return KillOutcome(verdict, arrived_at_kills, time.perf_counter() - started)


# --- two workers on PostgreSQL ------------------------------------------------------------------------------


@dataclass
class TwoWorkersOutcome:
    verdict: Verdict
    by_worker: dict[str, int]  # requests each worker sent (by its connections' ports); "unknown" for closed ones
    seconds: float


def run_two_workers(
    database_url: str, recipients: int = 400, per_recipient: int = 5, delay_ms: float = 3.0, together: bool = False
) -> TwoWorkersOutcome:
    """Two workers at once: both started and idle, the events queued, the receiver holding its requests
    until both workers have one in flight (each has claimed a batch the other skipped), then released;
    then until nothing is left to send."""
    prepare(database_url)
    app = make_app(database_url)
    database = Database(database_url)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prefs-webhooks-") as directory:
        with ReceiverProcess(os.path.join(directory, "arrivals.log"), delay_ms) as receiver:
            add_endpoint(app, receiver.url())
            workers = [WorkerProcess(database_url, directory, f"worker-{n}") for n in (1, 2)]
            try:
                wait_for(lambda: all(worker.ready() for worker in workers), "both workers to start")
                log = receiver.log
                receiver.hold()
                queue_events(app, recipients, per_recipient, together=together)
                _dispose(app)
                expected = database.message_ids()

                def both_in_flight() -> bool:
                    held_ports = {arrival.peer_port for arrival in log.refresh().arrivals}
                    return all(held_ports & connection_ports(worker.pid, receiver.port) for worker in workers)

                wait_for(both_in_flight, "a delivery of each worker in flight at once", workers)
                receiver.release()
                wait_for(database.drained, "the outbox and the pending deliveries to empty", workers)
                ports = {f"worker {n}": connection_ports(worker.pid, receiver.port) for n, worker in enumerate(workers, 1)}
            finally:
                for worker in workers:
                    worker.stop()
            log.refresh()
            by_worker = {name: sum(arrival.peer_port in owned for arrival in log.arrivals) for name, owned in ports.items()}
            by_worker["unknown"] = len(log.arrivals) - sum(by_worker.values())
            verdict = judge(expected, log, database.failed())
    database.close()
    return TwoWorkersOutcome(verdict, by_worker, time.perf_counter() - started)


# --- P6: throughput and commit-to-delivery latency ---------------------------------------------------------


@dataclass
class Throughput:
    events: int
    worker_first: bool  # the worker ran (idle) before the events were committed; else it started on them
    seconds: float  # first arrival to last
    deliveries_per_second: float


@dataclass
class Latency:
    events: int
    feed_rate: float  # events/s asked for
    fed_rate: float  # events/s committed
    p50_ms: float
    p99_ms: float
    max_ms: float


def measure_throughput(database_url: str, directory: str, events: int, per_recipient: int, worker_first: bool) -> Throughput:
    """Deliveries/s of one worker through a backlog of `events`, from the first arrival to the last. With
    `worker_first` the worker is running and idle when the events are committed, in one transaction (a
    burst reaching a running service: its statements were planned on a table with nothing pending);
    otherwise it is started on the committed backlog."""
    prepare(database_url)
    app = make_app(database_url)
    database = Database(database_url)
    with ReceiverProcess(os.path.join(directory, f"arrivals-{'burst' if worker_first else 'backlog'}.log")) as receiver:
        add_endpoint(app, receiver.url())
        worker = None
        try:
            if worker_first:
                worker = WorkerProcess(database_url, directory, "worker-burst")
                wait_for(worker.ready, "the worker to start")
            queue_events(app, events // per_recipient, per_recipient, chunk=events if worker_first else 1000)
            _dispose(app)
            worker = worker or WorkerProcess(database_url, directory, "worker-backlog")
            wait_for(database.drained, "the backlog to drain", [worker])
        finally:
            if worker is not None:
                worker.stop()
        expected = database.message_ids()
        log = receiver.log.refresh()
    database.close()
    if not expected <= log.distinct():
        raise RuntimeError(f"{len(expected - log.distinct())} messages did not arrive")
    first: dict[str, float] = {}
    for arrival in log.arrivals:
        first.setdefault(arrival.webhook_id, arrival.started)
    span = max(first.values()) - min(first.values())
    return Throughput(len(expected), worker_first, span, len(expected) / span)


def measure_latency(database_url: str, directory: str, events: int, rate: float, recipients: int) -> Latency:
    """With the worker running and `recipients` people created (and announced), feed `events` status changes
    at `rate` per second; each event's latency runs from just after its commit to its first arrival."""
    prepare(database_url)
    app = make_app(database_url)
    database = Database(database_url)
    with ReceiverProcess(os.path.join(directory, "arrivals-latency.log")) as receiver:
        add_endpoint(app, receiver.url())
        queue_events(app, recipients, 1)
        _dispose(app)
        worker = WorkerProcess(database_url, directory, "worker-latency")
        try:
            wait_for(database.drained, "the people's creation to be delivered", [worker])
            already = receiver.log.refresh().distinct()
            committed_at, fed_seconds = feed(app, events, rate, recipients)
            wait_for(database.drained, "the fed events to be delivered", [worker])
        finally:
            worker.stop()
        log = receiver.log.refresh()
    database.close()
    first: dict[str, float] = {}
    for arrival in log.arrivals:
        if arrival.webhook_id not in already:
            first.setdefault(arrival.webhook_id, arrival.started)
    missing = set(committed_at) - set(first)
    if missing:
        raise RuntimeError(f"{len(missing)} fed messages did not arrive")
    latencies = [(first[webhook_id] - at) * 1000 for webhook_id, at in committed_at.items()]
    return Latency(
        len(committed_at),
        rate,
        len(committed_at) / fed_seconds,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        max(latencies),
    )


def feed(app, events: int, rate: float, recipients: int, batch: int = 10) -> tuple[dict[str, float], float]:
    """Commit `events` status changes of the first `recipients` people at `rate` per second, `batch` per transaction on
    a fixed schedule. Returns each event's webhook-id with the time just after its commit, and how long
    the feed took."""
    from sqlalchemy import text

    from prefs.db.transactions import unit_of_work
    from prefs.extensions import db
    from prefs.services.events import Actor, ChangeContext
    from prefs.services.recipients import set_status, writable_recipient
    from prefs.services.webhook_endpoints import message_id

    context = ChangeContext(Actor("system", "bench", "bench"))

    def flip(people: list[str]) -> None:
        for recipient_id in people:
            row = writable_recipient(recipient_id)
            set_status(row, "active" if row.status == "deactivated" else "deactivated", context)

    committed_at: dict[str, float] = {}
    with app.app_context():
        last_id = db.session.execute(text("SELECT coalesce(max(id), 0) FROM consent_events")).scalar_one()
        db.session.rollback()
        interval = batch / rate
        began = time.monotonic()
        for tick in range(events // batch):
            pause = began + tick * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # a steady feed: the load generator's schedule, not a measurement
            unit_of_work(partial(flip, [person((tick * batch + n) % recipients) for n in range(batch)]))
            now = time.time()
            newest = db.session.execute(text("SELECT max(id) FROM consent_events")).scalar_one()
            db.session.rollback()
            for id_ in range(last_id + 1, newest + 1):  # one feeder: the ids after the last commit are this commit's
                committed_at[message_id(id_)] = now
            last_id = newest
        fed_seconds = time.monotonic() - began
        db.session.remove()
        db.engine.dispose()
    return committed_at, fed_seconds


def run_p6(database_url: str, events: int, per_recipient: int, feed_fraction: float, feed_rate: float | None) -> dict:
    capacity = measure_capacity(seconds=5)
    with tempfile.TemporaryDirectory(prefix="prefs-webhooks-") as directory:
        burst = measure_throughput(database_url, directory, events, per_recipient, worker_first=True)
        backlog = measure_throughput(database_url, directory, events, per_recipient, worker_first=False)
        rate = feed_rate or max(burst.deliveries_per_second, backlog.deliveries_per_second) * feed_fraction
        latency = measure_latency(database_url, directory, events, rate, events // per_recipient)
    return {"receiver_capacity_rps": capacity, "burst": asdict(burst), "backlog": asdict(backlog), "latency": asdict(latency)}


def _dispose(app) -> None:
    """Close the bench's own connections (PostgreSQL: none left idle in the worker's way)."""
    from prefs.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- the command line ------------------------------------------------------------------------------------


def p6_table(result: dict) -> list[str]:
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    burst, backlog, lat = result["burst"], result["backlog"], result["latency"]
    return [
        "| figure | value | target | |",
        "|---|---|---|---|",
        f"| receiver alone (wrk, 16 connections) | {result['receiver_capacity_rps']:,.0f} req/s | ≫ 500 | {met(result['receiver_capacity_rps'] >= 5000)} |",
        f"| P6 deliveries/s: {burst['events']:,} events committed at once, the worker running | "
        f"{burst['deliveries_per_second']:,.0f}/s ({burst['seconds']:.1f} s) | ≥ 500/s | {met(burst['deliveries_per_second'] >= 500)} |",
        f"| P6 deliveries/s: the worker started on {backlog['events']:,} queued events | "
        f"{backlog['deliveries_per_second']:,.0f}/s ({backlog['seconds']:.1f} s) | ≥ 500/s | {met(backlog['deliveries_per_second'] >= 500)} |",
        f"| P6 commit-to-delivery, {lat['events']:,} events fed at {lat['fed_rate']:,.0f}/s | p50 {lat['p50_ms']:,.0f} ms, "
        f"p99 {lat['p99_ms']:,.0f} ms, max {lat['max_ms']:,.0f} ms | p99 ≤ 2 s | {met(lat['p99_ms'] <= 2000)} |",
    ]


def verdict_lines(verdict: Verdict) -> list[str]:
    return [
        f"    {verdict.expected:,} messages; arrived {verdict.distinct:,} distinct in {verdict.arrivals:,} requests "
        f"({verdict.arrivals - verdict.distinct:,} repeats)",
        f"    missing {len(verdict.missing)}; unexpected {len(verdict.unexpected)}; recipients out of commit order "
        f"{len(verdict.out_of_order)}; delivered twice at once {len(verdict.overlapping)}; failed {verdict.failed}: "
        f"{'PASS' if verdict.ok else 'FAIL'}",
    ]


def write_result(mode: str, database_url: str, result: dict) -> str:
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    path = os.path.join(HERE, "out", f"webhooks-{mode}-{kind}.json")
    with open(path, "w") as handle:
        json.dump({"database": kind, "at": datetime.now(UTC).isoformat(timespec="seconds"), **result}, handle, indent=2)
    return path


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a SQLAlchemy URL (emptied first); default: a fresh SQLite file")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--per-recipient", type=int, default=5, help="events per person")
    parser.add_argument("--feed-fraction", type=float, default=0.5, help="P6 latency: feed at this share of the throughput")
    parser.add_argument("--feed-rate", type=float, help="P6 latency: feed this many events/s instead")
    parser.add_argument("--kill", type=int, metavar="N", help="R6: kill -9 the worker N times while it delivers")
    parser.add_argument("--two-workers", action="store_true", help="two workers at once (PostgreSQL)")
    parser.add_argument("--delay-ms", type=float, default=3.0, help="R6 and --two-workers: the receiver's time per request")
    parser.add_argument("--together", action="store_true", help="R6 and --two-workers: each person's events one after another")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.two_workers and not (args.database_url or "").startswith("postgresql"):
        parser.error("--two-workers needs PostgreSQL (--database-url postgresql+psycopg://...): SQLite runs one worker")
    with tempfile.TemporaryDirectory(prefix="prefs-webhooks-db-") as directory:
        database_url = args.database_url or f"sqlite:///{os.path.join(directory, 'webhooks.sqlite3')}"
        recipients = args.events // args.per_recipient
        if args.kill:
            outcome = run_kills(database_url, recipients, args.per_recipient, args.kill, args.delay_ms, args.together)
            print(f"R6  {outcome.verdict.expected:,} messages, worker killed with SIGKILL {args.kill} times "
                  f"(after {', '.join(f'{n:,}' for n in outcome.arrived_at_kills)} had arrived), {outcome.seconds:.0f} s")  # fmt: skip
            print("\n".join(verdict_lines(outcome.verdict)))
            path = write_result("r6", database_url, {"kills": args.kill, **asdict(outcome)})
            ok = outcome.verdict.ok
        elif args.two_workers:
            two = run_two_workers(database_url, recipients, args.per_recipient, args.delay_ms, args.together)
            print(f"two workers  {two.verdict.expected:,} messages, {two.seconds:.0f} s; requests by worker: {two.by_worker}")
            print("\n".join(verdict_lines(two.verdict)))
            path = write_result("two-workers", database_url, asdict(two))
            ok = two.verdict.ok
        else:
            result = run_p6(database_url, args.events, args.per_recipient, args.feed_fraction, args.feed_rate)
            print("\n".join(p6_table(result)))
            path = write_result("p6", database_url, result)
            ok = True
    print(f"written to {os.path.relpath(path, ROOT)}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
