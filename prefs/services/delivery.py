"""The delivery worker's steps (SPEC §12, §13): fan the outbox out to the endpoints that want each message,
claim what is due, sign it, and record what each attempt gave. The worker (prefs/cli/worker.py) runs the
steps and owns the transactions; nothing here commits or sleeps.

Order: a delivery is due only when no older delivery of the same recipient to the same endpoint is still
pending, so one recipient's messages reach an endpoint in commit order and a failing one holds back only
that recipient's later ones. At least once: a delivery is marked delivered only after the 2xx, in a
transaction that a killed worker never commits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from ..db.driver import DriverSql
from ..db.statements import (
    CUSTOM_PLANS_POSTGRES,
    DELETE_OUTBOX,
    DELIVERED,
    DISABLE_ENDPOINT,
    DISABLE_FAILING_ENDPOINT,
    DUE_DELIVERIES,
    DUE_DELIVERIES_POSTGRES,
    ENABLED_ENDPOINTS,
    ENDPOINT_FAILED,
    ENDPOINT_SUCCEEDED,
    ENDPOINTS_FOR_SENDING,
    GIVE_UP_DELIVERY,
    INSERT_ATTEMPT,
    INSERT_DELIVERY,
    OUTBOX_BATCH,
    OUTBOX_BATCH_POSTGRES,
    PRUNE_DELIVERIES,
    PRUNE_INBOUND_TEXTS,
    PRUNE_MAILGUN_TOKENS,
    PRUNE_OUTBOUND_MAILS,
    PRUNE_PROVIDER_SYNCS,
    RETRY_DELIVERY,
    TRY_LOCK_FAN_OUT,
)
from ..extensions import db
from ..models import ConsentEvent
from ..outbound.http import PostResult
from ..outbound.mail_providers import TargetSettings
from .lifecycle import event_to_dict
from .mail import MAIL_KIND, fan_out_mails
from .provider_events import MAILGUN_TOKENS_KEPT
from .provider_sync import SYNC_KIND, fan_out_syncs
from .webhook_endpoints import message_id, signing_secrets, wants

FAN_OUT_LOCK = 0x70726566 + 1  # any constant other than the event write lock's
JITTER = 0.2  # each retry delay ±20%
GONE = 410  # "this endpoint is gone": disabled at once
RETENTION = timedelta(days=30)  # finished deliveries are kept this long (replay rebuilds older ones from events)


@dataclass(frozen=True)
class DeliverySettings:
    retry_schedule: tuple[float, ...]  # seconds before retry 1, 2, ...; then the delivery has failed
    disable_after_s: int  # an endpoint failing this long is disabled
    threads: int  # attempts a worker makes at once
    sync_targets: tuple[TargetSettings, ...] = ()  # mail providers whose suppression lists follow ours (SPEC §15)


@dataclass(frozen=True)
class Outgoing:
    """One attempt to make: the delivery, where it goes, and the exact bytes and headers to send."""

    delivery_id: int
    endpoint_id: int
    attempts_before: int
    url: str
    body: bytes
    headers: dict[str, str]


def fan_out(now: datetime, limit: int = 1000, sync_targets: Sequence[str] = ()) -> int:
    """Turn the oldest outbox messages into deliveries to each enabled endpoint that wants them (and existed
    when the message was written), then delete them. Returns how many messages were fanned out; 0 when
    another worker is fanning out (PostgreSQL), which keeps deliveries in outbox order. Messages for the mail
    providers (kind `sync`) become a push per target in `sync_targets` instead (none configured: dropped)."""
    sql = DriverSql()
    if sql.postgres and not sql.rows(TRY_LOCK_FAN_OUT, (FAN_OUT_LOCK,))[0][0]:
        return 0
    everything = sql.rows(OUTBOX_BATCH_POSTGRES if sql.postgres else OUTBOX_BATCH, (limit,))
    if not everything:
        return 0
    messages = [row for row in everything if row[1] not in (SYNC_KIND, MAIL_KIND)]
    syncs = [(row[5], row[6]) for row in everything if row[1] == SYNC_KIND]
    if syncs:
        fan_out_syncs(sql, syncs, sync_targets, now)
    mails = [(row[2], row[4], row[5]) for row in everything if row[1] == MAIL_KIND]
    if mails:  # email (services/mail.py): a message each to send over SMTP, whatever the endpoints
        fan_out_mails(sql, mails, now)
    endpoints = [
        (endpoint_id, sql.read_json(events), _aware(sql.read_time(created)))
        for endpoint_id, events, created in sql.rows(ENABLED_ENDPOINTS, (True,))
    ]
    stamp = sql.time(now)
    rows = []
    for _outbox_id, _kind, type_, event_id, ordering_key, payload, created_at in messages:
        written = _aware(sql.read_time(created_at))
        webhook_id = message_id(event_id)  # the same for every endpoint, and through every retry
        for endpoint_id, events, endpoint_created in endpoints:
            if wants(events, type_) and endpoint_created <= written:
                rows.append((endpoint_id, webhook_id, type_, event_id, ordering_key,
                             payload if payload is None or isinstance(payload, str) else json.dumps(payload),
                             sql.time(written), stamp, stamp))  # fmt: skip
    sql.many(INSERT_DELIVERY, rows)
    sql.execute_in(DELETE_OUTBOX, [row[0] for row in everything])
    return len(everything)


def claim_due(now: datetime, limit: int) -> list[tuple]:
    """Due deliveries (rows of DUE_DELIVERIES); on PostgreSQL locked until the transaction ends, skipping
    those another worker holds."""
    sql = DriverSql()
    if not sql.postgres:
        return sql.rows(DUE_DELIVERIES, (sql.time(now), True, limit))
    sql.execute(CUSTOM_PLANS_POSTGRES)
    return sql.rows(DUE_DELIVERIES_POSTGRES, (sql.time(now), True, limit))


def prepare(claimed: Sequence[tuple], now: datetime) -> list[Outgoing]:
    """The signed request of each claimed delivery (SPEC §13): body {type, timestamp, data}, where data is
    the consent event as the change feed shows it now (so an erasure since has scrubbed it)."""
    if not claimed:
        return []
    sql = DriverSql()
    endpoints = {row[0]: row for row in sql.select_in(ENDPOINTS_FOR_SENDING, sorted({row[1] for row in claimed}))}
    event_ids = [row[4] for row in claimed if row[4] is not None]
    found = db.session.execute(select(ConsentEvent).where(ConsentEvent.id.in_(event_ids))).scalars()
    events = {event.id: event_to_dict(event) for event in found} if event_ids else {}
    timestamp = str(int(now.timestamp()))
    outgoing = []
    for delivery_id, endpoint_id, msg_id, type_, event_id, payload, occurred_at, attempts in claimed:
        _, url, secret, previous = endpoints[endpoint_id]
        data = events.get(event_id) if event_id is not None else sql.read_json(payload)
        body = json.dumps(
            {"type": type_, "timestamp": _aware(sql.read_time(occurred_at)).isoformat(), "data": data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        secrets = signing_secrets(secret, sql.read_json(previous), now)
        signatures = " ".join(Webhook(key).sign(msg_id, now, body) for key in secrets)
        headers = {
            "content-type": "application/json",
            "user-agent": "prefs-webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signatures,
        }
        outgoing.append(Outgoing(delivery_id, endpoint_id, attempts, url, body.encode(), headers))
    return outgoing


def send_all(
    outgoing: Sequence[Outgoing], post: Callable[[str, bytes, dict[str, str]], PostResult], pool: Executor
) -> list[PostResult]:
    """Every attempt at once on the pool's threads; results in the same order."""
    return list(pool.map(lambda item: post(item.url, item.body, item.headers), outgoing))


@dataclass(frozen=True)
class Recorded:
    """How a batch of attempts ended: delivered, to be retried, or failed for good (the worker counts them
    once the record is committed); and the messages cancelled unsent (mail to an address its recipient gave
    up, services/mail_delivery.py), work done all the same."""

    delivered: int
    retried: int
    failed: int
    cancelled: int = 0

    @property
    def done(self) -> int:
        return self.delivered + self.retried + self.failed + self.cancelled


def record(
    outgoing: Sequence[Outgoing], results: Sequence[PostResult], settings: DeliverySettings, now: datetime, rng: random.Random
) -> Recorded:
    """Store each attempt and move each delivery on: delivered, retried later, or failed after the last
    try; an endpoint's failure clock starts at its first failure since a success, and an endpoint failing
    for `disable_after_s` (or answering 410 Gone) is disabled."""
    sql = DriverSql()
    stamp = sql.time(now)
    attempts, delivered, retries, failed = [], [], [], []
    succeeded_endpoints: set[int] = set()
    failed_endpoints: set[int] = set()
    gone: set[int] = set()
    for item, result in zip(outgoing, results, strict=True):
        attempts.append(
            (item.delivery_id, item.endpoint_id, stamp, result.status, result.error, round(result.duration_ms), item.delivery_id)
        )
        if result.ok:
            delivered.append((stamp, item.delivery_id))
            succeeded_endpoints.add(item.endpoint_id)
            continue
        failed_endpoints.add(item.endpoint_id)
        if result.status == GONE:
            gone.add(item.endpoint_id)
        delay = retry_delay(item.attempts_before + 1, settings.retry_schedule, rng)
        if delay is None:
            failed.append((item.delivery_id,))
        else:
            retries.append((sql.time(now + timedelta(seconds=delay)), item.delivery_id))
    sql.many(INSERT_ATTEMPT, attempts)
    sql.many(DELIVERED, delivered)
    sql.many(RETRY_DELIVERY, retries)
    sql.many(GIVE_UP_DELIVERY, failed)
    # An endpoint with successes and failures in one batch is not failing: its receiver answers.
    sql.many(ENDPOINT_SUCCEEDED, [(endpoint_id,) for endpoint_id in sorted(succeeded_endpoints)])
    failing = sorted(failed_endpoints - succeeded_endpoints)
    sql.many(ENDPOINT_FAILED, [(stamp, endpoint_id) for endpoint_id in failing])
    cut_off = sql.time(now - timedelta(seconds=settings.disable_after_s))
    disable = [
        (False, f"failing for {settings.disable_after_s} s", stamp, endpoint_id, True, cut_off)
        for endpoint_id in failing
        if endpoint_id not in gone
    ]
    sql.many(DISABLE_FAILING_ENDPOINT, disable)
    # 410 Gone disables at once, even when another message of the batch got through (SPEC §13).
    sql.many(
        DISABLE_ENDPOINT, [(False, "the receiver answered 410 Gone", stamp, endpoint_id, True) for endpoint_id in sorted(gone)]
    )
    return Recorded(len(delivered), len(retries), len(failed))


def prune(now: datetime, limit: int = 10_000) -> bool:
    """Forget delivered and failed deliveries older than RETENTION, with their attempts, the mail
    providers' finished pushes (their receipts), the sent or failed emails' receipts and the inbound texts' ids
    as old, and Mailgun's signature tokens older than a day (each is good for five minutes). At most `limit`
    rows of each table; returns whether a table had that many (more may be left: prune again soon)."""
    sql = DriverSql()
    cut = sql.time(now - RETENTION)
    full = False
    for statement, cutoff in (
        (PRUNE_DELIVERIES, cut),
        (PRUNE_PROVIDER_SYNCS, cut),
        (PRUNE_OUTBOUND_MAILS, cut),
        (PRUNE_INBOUND_TEXTS, cut),
        (PRUNE_MAILGUN_TOKENS, sql.time(now - MAILGUN_TOKENS_KEPT)),
    ):
        sql.execute(statement, (cutoff, limit))
        full = full or sql.cursor.rowcount >= limit
    return full


def retry_delay(attempts_made: int, schedule: Sequence[float], rng: random.Random) -> float | None:
    """Seconds until the next try after `attempts_made` failed ones (±20% jitter), or None: give up."""
    if attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValueError("a stored time is missing")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
