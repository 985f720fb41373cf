"""What prefs counts for its operators (`GET /metrics`, Prometheus text format; docs/operations.md says what to
build from it). Every name starts `prefs_`; no label carries a person, an address, a token or a URL: routes
are Flask's rules (`/u/<token>`), channels and reasons come from closed lists.

Several processes: gunicorn's workers and the delivery worker each count in their own process. With
`PROMETHEUS_MULTIPROC_DIR` set before prometheus_client is imported (gunicorn.conf.py does it when
PREFS_METRICS_TOKEN is set), each process writes its values to files there and a scrape sums them
(prometheus_client's multiprocess mode); without it, a scrape shows the one process that answers it.
The worker counts deliveries only into a directory it shares with the web server: run both with the same
PROMETHEUS_MULTIPROC_DIR (README "Running in production").

Plain functions and prometheus_client only: no Flask, no database (the scrape-time gauges are handed in).
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"  # a 404: the path itself may be anything a client typed

# Buckets for a service whose checks take about a millisecond and whose batches take a few hundred.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "prefs_http_request_duration_seconds",
    "Time from the request reaching prefs to its response, per route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter("prefs_http_requests", "Responses, per route and HTTP status.", ["method", "route", "status"])
CHECKS = Counter(
    "prefs_checks",
    "Checks answered (single and batch items), per channel and reason; the reason says whether it was allowed.",
    ["channel", "reason"],
)
UNSUBSCRIBES = Counter(
    "prefs_unsubscribes",
    "Unsubscribes through a link: via one_click (RFC 8058 POST) or confirm_page; changed=false when already out.",
    ["via", "changed"],
)
DELIVERIES = Counter(
    "prefs_deliveries",
    "Delivery attempts by the worker, per kind (webhook) and result: delivered, retry (failed, tried again "
    "later) or failed (the last try failed; the message is given up).",
    ["kind", "result"],
)
RATE_LIMITED = Counter("prefs_rate_limited", "Requests refused with 429 by a rate limit, per route.", ["route"])
POOL_IN_USE = Gauge(
    "prefs_db_pool_connections_in_use",
    "Database connections checked out of a pool now, per pool (sessions, fast_paths), summed over processes.",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_CAPACITY = Gauge(
    "prefs_db_pool_capacity",
    "Connections a pool may hold (size + overflow), per pool, summed over processes; 0 where the pool has no limit.",
    ["pool"],
    multiprocess_mode="livesum",
)


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"  # a client may send any method name


# Each route's metric children, found once: `labels()` validates and locks on every call, and every request
# pays for this. Routes are the app's rules, so the map stays as small as the URL map.
_request_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    children = _request_children.get((method, route or UNMATCHED_ROUTE, status))
    if children is None:
        label, rule = method_label(method), route or UNMATCHED_ROUTE
        children = (REQUEST_SECONDS.labels(label, rule), REQUESTS.labels(label, rule, str(status)))
        if label != "OTHER":  # a made-up method is counted, but not remembered
            _request_children[(method, rule, status)] = children
    children[0].observe(seconds)
    children[1].inc()


def count_checks(answers: Iterable[tuple[str, str]]) -> None:
    """`answers`: (channel, reason) of each answered check; one increment per distinct pair, not per check
    (a batch of 10,000 costs a tally and a handful of increments)."""
    for (channel, reason), n in Tally(answers).items():
        CHECKS.labels(channel, reason).inc(n)


def count_check(channel: str, reason: str) -> None:
    CHECKS.labels(channel, reason).inc()


def count_unsubscribe(via: str, changed: bool) -> None:
    UNSUBSCRIBES.labels(via, "true" if changed else "false").inc()


def count_deliveries(kind: str, delivered: int, retried: int, failed: int) -> None:
    for result, n in (("delivered", delivered), ("retry", retried), ("failed", failed)):
        if n:
            DELIVERIES.labels(kind, result).inc(n)


def count_rate_limited(route: str | None) -> None:
    RATE_LIMITED.labels(route or UNMATCHED_ROUTE).inc()


@dataclass(frozen=True)
class Backlog:
    """What waits to leave the service, read from the database at scrape time."""

    outbox_messages: int  # written, not yet turned into deliveries
    outbox_oldest_seconds: float  # age of the oldest of those; 0 when there is none
    deliveries_pending: int  # deliveries not yet delivered or given up (due now or waiting for a retry)
    deliveries_oldest_seconds: float


class _Families:
    """A collector that yields families made elsewhere (the scrape's database readings)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self.families)


def database_families(backlog: Backlog | None) -> list[GaugeMetricFamily]:
    """`backlog` None: the database did not answer (prefs_database_up 0 and no backlog figures)."""
    up = GaugeMetricFamily("prefs_database_up", "1 when the scrape could read the database, 0 when it could not.")
    up.add_metric([], 0 if backlog is None else 1)
    if backlog is None:
        return [up]
    depth = GaugeMetricFamily("prefs_outbox_depth", "Messages waiting to leave, per stage.", labels=["stage"])
    depth.add_metric(["outbox"], backlog.outbox_messages)
    depth.add_metric(["delivery"], backlog.deliveries_pending)
    age = GaugeMetricFamily(
        "prefs_outbox_oldest_age_seconds", "Age of the oldest message waiting, per stage (0 when none waits).", labels=["stage"]
    )
    age.add_metric(["outbox"], backlog.outbox_oldest_seconds)
    age.add_metric(["delivery"], backlog.deliveries_oldest_seconds)
    return [up, depth, age]


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def exposition(backlog: Backlog | None) -> bytes:
    """The scrape's body: every process's counts (or this process's), then the database readings."""
    if multiprocess():
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
        counted = generate_latest(processes)
    else:
        counted = generate_latest(REGISTRY)
    readings = CollectorRegistry()
    readings.register(_Families(database_families(backlog)))
    return counted + generate_latest(readings)


def forget_dead_processes(directory: str, is_alive) -> list[str]:
    """Remove the value files of processes that no longer run (a previous start's), keeping live ones (a
    delivery worker started before the web server). prometheus_client names them `<kind>_<pid>.db`."""
    removed = []
    for name in os.listdir(directory):
        stem, _, extension = name.rpartition(".")
        pid_text = stem.rpartition("_")[2]
        if extension != "db" or not pid_text.isdigit() or is_alive(int(pid_text)):
            continue
        os.remove(os.path.join(directory, name))
        removed.append(name)
    return removed
