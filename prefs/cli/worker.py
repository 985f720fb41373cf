"""`flask --app app worker [--once]`: the delivery worker (SPEC §12).

Each round fans new outbox messages out to endpoints (and to the mail providers in PREFS_SYNC_TARGETS, and
emails to their own rows), then claims a batch of due deliveries, sends them on a pool of threads and records
the outcomes; then, with PREFS_SMTP_URL set, the same for due emails over SMTP; then, when sync
targets are set, the same for the pushes to the providers' suppression lists, each target paced to its
REQUESTS_PER_SECOND (one round a second per target at most). On PostgreSQL the claim, the sends and the record are one
transaction whose row locks (FOR UPDATE SKIP LOCKED) keep other workers off the batch; a worker killed with
-9 never commits, so its batch is simply due again. SQLite has one writer, so there the claim is a plain
read, the sends happen outside any transaction, and only the record takes the write lock; one worker runs
per SQLite database (a lock file next to it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..db.transactions import unit_of_work
from ..deps import Deps
from ..extensions import db
from ..logs import describe_error, scrubbed_traceback
from ..metrics import count_deliveries
from ..models import utcnow
from ..outages import is_outage, is_write_race
from ..outbound.http import GuardedHttp
from ..outbound.mail_providers import REQUESTS_PER_SECOND, client_for
from ..outbound.smtp import SendResult, SmtpSender
from ..runtime import runtime
from ..services.delivery import Recorded, claim_due, fan_out, prepare, prune, record, send_all
from ..services.insights import ACTIVE_EVERY_SECONDS, ACTIVE_SOONEST_SECONDS, active_count_interval, recount_active, refresh
from ..services.mail_delivery import Mail, claim_due_mails, record_mails, send_mails
from ..services.partitions import ensure_event_partitions
from ..services.sync_delivery import Push, claim_due_pushes, push_all, record_pushes

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.2  # how long an idle worker waits before looking again (commit-to-delivery latency)
PACING = timedelta(seconds=1)  # a target gets at most REQUESTS_PER_SECOND pushes in this long
PRUNE_EVERY_SECONDS = 3600
PARTITIONS_EVERY_SECONDS = 24 * 3600  # consent_events' monthly partitions, made months ahead (PostgreSQL)
INSIGHTS_EVERY_SECONDS = 1.0  # the insights' roll-ups look for new events this often, at once while there were some
INSIGHTS_BUDGET_SECONDS = 0.5  # a backlog is folded in slices this long, so delivery never waits behind it
ACTIVE_LOOK_SECONDS = 2.0  # how often the counting thread asks whether active recipients are due a count


class Worker:
    def __init__(
        self, deps: Deps, batch: int | None = None, seed: int | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.deps = deps
        self.clock = clock  # tests step time instead of sleeping through retry delays
        threads = deps.delivery.threads
        self.http = GuardedHttp(deps.webhook_allow_hosts, pool_size=threads)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="prefs-delivery")
        self.batch = batch or threads * 8
        self.rng = random.Random(seed)  # noqa: S311 (retry jitter, not a secret)
        self.postgres = db.engine.dialect.name == "postgresql"
        # The mail providers' suppression lists (SPEC §15): a client per target, paced per target.
        self.sync_clients = {target.name: client_for(target) for target in deps.delivery.sync_targets}
        self.sync_pool = ThreadPoolExecutor(len(self.sync_clients), "prefs-sync") if self.sync_clients else None
        self.sync_due_at: dict[str, datetime] = {}
        # Outbound email (SPEC §14): sent over SMTP when PREFS_SMTP_URL is set; otherwise queued mail waits.
        self.smtp = SmtpSender(deps.mail.smtp) if deps.mail is not None else None

    def run_once(self) -> int:
        """One round; returns how much it did (messages fanned out + attempts made)."""
        fanned = unit_of_work(lambda: fan_out(self.clock(), sync_targets=tuple(self.sync_clients)))
        recorded = unit_of_work(self._deliver_in_one_transaction) if self.postgres else self._deliver_outside_the_write_lock()
        done = fanned
        if recorded is not None:
            count_deliveries("webhook", recorded.delivered, recorded.retried, recorded.failed)  # committed: count them
            done += recorded.done
        mailed = self._mail_round() if self.smtp is not None else None
        if mailed is not None:
            count_deliveries("email", mailed.delivered, mailed.retried, mailed.failed)
            done += mailed.done  # a round that only cancelled mail did something: --once goes on
        synced = self._sync_round() if self.sync_clients else None
        if synced is not None:
            count_deliveries("sync", synced.delivered, synced.retried, synced.failed)
            done += synced.done
        return done

    def _mail_round(self) -> Recorded | None:
        """The due emails, sent and recorded: on PostgreSQL in one transaction holding their row locks; on
        SQLite the claim is a plain read and only the record takes the write lock."""
        if self.postgres:
            return unit_of_work(self._mail_in_one_transaction)
        now = self.clock()
        try:
            mails = claim_due_mails(now, self.batch)
        finally:
            db.session.rollback()  # end the read before the SMTP exchanges: SQLite's writers must not wait on us
        if not mails:
            return None
        results = self._send_mails(mails)
        return unit_of_work(lambda: record_mails(mails, results, self.deps.delivery.retry_schedule, self.clock(), self.rng))

    def _mail_in_one_transaction(self) -> Recorded | None:
        mails = claim_due_mails(self.clock(), self.batch)
        if not mails:
            return None
        results = self._send_mails(mails)
        return record_mails(mails, results, self.deps.delivery.retry_schedule, self.clock(), self.rng)

    def _send_mails(self, mails: list[Mail]) -> list[SendResult]:
        assert self.smtp is not None  # noqa: S101 (only called with mail configured)
        return send_mails(mails, self.smtp, self.pool)

    def _sync_round(self) -> Recorded | None:
        """The due pushes of each target whose pacing allows a round now, made and recorded."""
        now = self.clock()
        never = datetime.min.replace(tzinfo=UTC)
        limits = {name: REQUESTS_PER_SECOND[name] for name in self.sync_clients if now >= self.sync_due_at.get(name, never)}
        if not limits:
            return None
        if self.postgres:
            pushes, recorded = unit_of_work(lambda: self._push_in_one_transaction(now, limits))
        else:
            try:
                pushes = claim_due_pushes(now, limits)
            finally:
                db.session.rollback()  # end the read before the requests: SQLite's writers must not wait on us
            recorded = None
            if pushes:
                results = self._push(pushes)
                recorded = unit_of_work(
                    lambda: record_pushes(pushes, results, self.deps.delivery.retry_schedule, self.clock(), self.rng)
                )
        for name in {push.target for push in pushes}:
            self.sync_due_at[name] = now + PACING
        return recorded

    def _push_in_one_transaction(self, now: datetime, limits: dict[str, int]) -> tuple[list[Push], Recorded | None]:
        pushes = claim_due_pushes(now, limits)
        if not pushes:
            return pushes, None
        results = self._push(pushes)
        return pushes, record_pushes(pushes, results, self.deps.delivery.retry_schedule, self.clock(), self.rng)

    def _push(self, pushes: list[Push]) -> list:
        assert self.sync_pool is not None  # noqa: S101 (only called with targets configured)
        return push_all(pushes, self.sync_clients, self.sync_pool)

    def _deliver_in_one_transaction(self) -> Recorded | None:
        now = self.clock()
        outgoing = prepare(claim_due(now, self.batch), now)
        if not outgoing:
            return None
        return record(outgoing, send_all(outgoing, self.http.post, self.pool), self.deps.delivery, self.clock(), self.rng)

    def _deliver_outside_the_write_lock(self) -> Recorded | None:
        now = self.clock()
        try:
            outgoing = prepare(claim_due(now, self.batch), now)
        finally:
            db.session.rollback()  # end the read before sending: SQLite's writers must not wait on us
        if not outgoing:
            return None
        results = send_all(outgoing, self.http.post, self.pool)
        return unit_of_work(lambda: record(outgoing, results, self.deps.delivery, self.clock(), self.rng))

    def drain(self) -> int:
        """Rounds until nothing is due (for --once): what is not due yet (a retry later) stays queued."""
        total = 0
        while done := self.run_once():
            total += done
        return total

    def run_until(self, stop: threading.Event) -> None:
        """Rounds until `stop` is set. A database outage does not end the worker: it waits (1 s, doubling up to
        30 s), logging the first failure and then one line a minute, and carries on where it was. Active
        recipients are counted meanwhile in a thread of its own (count_active_until)."""
        finished = threading.Event()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        counting = threading.Thread(
            target=self.count_active_until, args=(app, finished), name="prefs-insights-count", daemon=True
        )
        counting.start()
        try:
            self._deliver_until(stop)
        finally:
            finished.set()
            counting.join(timeout=2)  # a count still in hand is abandoned (daemon): its transaction ends with the process

    def _deliver_until(self, stop: threading.Event) -> None:
        pruned_at, backoff, logged_at = 0.0, 0.0, float("-inf")
        partitions_at = float("-inf")  # at start, then once a day
        insights_due = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - partitions_at > PARTITIONS_EVERY_SECONDS:
                    self.keep_partitions()
                    partitions_at = time.monotonic()
                if time.monotonic() >= insights_due:
                    folded = self.keep_insights(INSIGHTS_BUDGET_SECONDS, count_active=False)
                    insights_due = time.monotonic() + (0.0 if folded else INSIGHTS_EVERY_SECONDS)
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    behind = unit_of_work(lambda: prune(self.clock()))
                    # A table with more to forget than one batch is pruned again next round, not next hour.
                    pruned_at = float("-inf") if behind else time.monotonic()
                done = self.run_once()
                backoff = 0.0
            except Exception as error:
                if is_write_race(error):  # e.g. an endpoint deleted under a delivery in flight: the round again
                    with suppress(Exception):
                        db.session.rollback()
                    log.warning("worker: a concurrent change got in the way, trying again: %s", describe_error(error))
                    stop.wait(IDLE_SECONDS)
                    continue
                if not is_outage(error):
                    raise
                with suppress(Exception):
                    db.session.rollback()
                if time.monotonic() - logged_at >= 60:
                    log.warning("worker: database unavailable, waiting: %s", describe_error(error))
                    logged_at = time.monotonic()
                backoff = min(max(backoff * 2, 1.0), 30.0)
                stop.wait(backoff)
                continue
            if not done:
                stop.wait(IDLE_SECONDS)

    def keep_partitions(self) -> None:
        """PostgreSQL: the coming months' partitions of consent_events (services/partitions.py); SQLite: nothing."""
        if not self.postgres:
            return
        try:
            unit_of_work(lambda: ensure_event_partitions(utcnow()))
        except Exception as error:
            if is_outage(error):
                raise
            # Never a reason to stop delivering: events go to the default partition meanwhile.
            log.warning("worker: could not make the partitions of consent_events: %s", describe_error(error))

    def keep_insights(self, budget_seconds: float | None = None, count_active: bool = True) -> int:
        """The insights' roll-ups (services/insights.py) brought up to date, within `budget_seconds`; returns
        the events folded in. A failure is logged, never a reason to stop delivering."""
        try:
            return refresh(
                run=unit_of_work,
                budget_seconds=budget_seconds,
                active_every_seconds=ACTIVE_EVERY_SECONDS,
                count_active=count_active,
            )
        except Exception as error:
            if is_outage(error):
                raise
            log.warning("worker: could not bring the insights up to date: %s", describe_error(error))
            return 0

    def count_active_until(self, app: Flask, finished: threading.Event) -> None:
        """In a thread of its own (run_until starts it): the count of active recipients per channel, which
        takes about a second per million recipients, so the delivery loop never waits behind it."""
        every = ACTIVE_SOONEST_SECONDS  # until a count says what counting costs here
        with app.app_context():
            while not finished.is_set():
                try:
                    started = time.monotonic()
                    if recount_active(run=unit_of_work, every_seconds=every):
                        every = active_count_interval(time.monotonic() - started)
                except Exception as error:
                    if not is_outage(error):  # an outage is the delivery loop's to report, once a minute
                        log.warning("worker: could not count active recipients: %s", describe_error(error))
                finally:
                    db.session.remove()
                finished.wait(ACTIVE_LOOK_SECONDS)

    def close(self) -> None:
        self.pool.shutdown()
        if self.sync_pool is not None:
            self.sync_pool.shutdown()
        self.http.close()


@contextmanager
def only_worker_on_sqlite(deps: Deps) -> Iterator[None]:
    """SQLite runs one worker: a second one stops at once with a clear message."""
    path = deps.write_gate.path if deps.write_gate is not None else None
    if path is None:
        yield
        return
    fd = os.open(path.removesuffix(".write-lock") + ".worker-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException("another worker is running on this SQLite database; SQLite runs one") from None
        yield
    finally:
        os.close(fd)


def say(message: str) -> None:
    """A line for whoever runs the worker: a log line when logs are JSON (every line of them is), else plain text."""
    if current_app.config["PREFS_LOG_FORMAT"] == "json":
        log.info(message)
    else:
        click.echo(message, err=True)


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron and tests).")
@with_appcontext
def worker(once: bool) -> None:
    """Deliver webhooks from the outbox until stopped (SIGTERM or Ctrl-C finish the batch in hand)."""
    deps = runtime()
    with only_worker_on_sqlite(deps):
        running = Worker(deps)
        try:
            if once:
                running.keep_partitions()
                say(f"worker: {running.drain()} done")
                running.keep_insights()
                return
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            say("worker: delivering; SIGTERM finishes the batch in hand and stops")
            running.run_until(stop)
        except Exception as error:
            if is_outage(error):  # --once (run_until waits an outage out): cron tries again at its next run
                log.warning("worker: database unavailable, stopping: %s", describe_error(error))
                raise SystemExit(1) from None
            # A bug: the worker stops, for its supervisor to start again. Its frames are logged with each
            # error's first line only: the rest may quote a row's data, as a database error's DETAIL does,
            # which Python's own traceback would print.
            log.error("worker: stopped by an unexpected error\n%s", scrubbed_traceback(error))
            raise SystemExit(1) from None
        finally:
            running.close()
