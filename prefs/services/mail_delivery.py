"""The worker's steps for outbound email (SPEC §14), beside the webhooks' (services/delivery.py) and the
providers' pushes (services/sync_delivery.py): claim the due messages, send each over SMTP
(prefs/outbound/smtp.py), record what each gave. Same guarantees as webhooks: one ordering key's messages
(one person's) leave in commit order (a failing one holds back that person's later ones), at least once
(recorded only after the relay's answer; a message may then go twice, with the same Message-ID), and the
webhooks' retry schedule (PREFS_RETRY_SCHEDULE) with its jitter. A relay's permanent refusal (5xx to the
recipient or the message) fails the message at once. Sent or failed, the row keeps no address and no
message. The worker (prefs/cli/worker.py) owns the transactions; nothing here commits or sleeps.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..db.driver import DriverSql
from ..db.statements import (
    CUSTOM_PLANS_POSTGRES,
    DUE_OUTBOUND_MAILS,
    DUE_OUTBOUND_MAILS_POSTGRES,
    OUTBOUND_MAIL_FAILED,
    OUTBOUND_MAIL_RETRY,
    OUTBOUND_MAIL_SENT,
)
from ..outbound.smtp import SendResult
from .delivery import Recorded, retry_delay
from .mail import build_message


class Sender(Protocol):
    def send(self, message: Any, sender: str, recipient: str) -> SendResult: ...


@dataclass(frozen=True)
class Mail:
    """One message to send: which row, its queued payload (services/mail.py) and how many tries it had."""

    mail_id: int
    payload: dict[str, Any] | None
    attempts_before: int


def claim_due_mails(now: datetime, limit: int) -> list[Mail]:
    """Up to `limit` due messages, oldest first; on PostgreSQL locked until the transaction ends, skipping
    those another worker holds."""
    sql = DriverSql()
    if sql.postgres:
        sql.execute(CUSTOM_PLANS_POSTGRES)
    statement = DUE_OUTBOUND_MAILS_POSTGRES if sql.postgres else DUE_OUTBOUND_MAILS
    return [
        Mail(mail_id, sql.read_json(payload), attempts)
        for mail_id, payload, attempts in sql.rows(statement, (sql.time(now), limit))
    ]


def send_mails(mails: Sequence[Mail], sender: Sender, pool: Executor) -> list[SendResult]:
    """Every message at once on the pool's threads (a connection each); results in the same order."""
    return list(pool.map(lambda mail: _send(mail, sender), mails))


def _send(mail: Mail, sender: Sender) -> SendResult:
    if not mail.payload:  # cannot happen for a pending message; a failure, not a crash, if it ever does
        return SendResult(False, permanent=True, error="the message is no longer kept")
    try:
        message = build_message(mail.payload)
    except (KeyError, TypeError, ValueError):
        return SendResult(False, permanent=True, error="the queued message cannot be read")
    return sender.send(message, mail.payload["from"], mail.payload["to"])


def record_mails(
    mails: Sequence[Mail], results: Sequence[SendResult], retry_schedule: Sequence[float], now: datetime, rng: random.Random
) -> Recorded:
    """Sent (the address and message dropped), retried later, or failed after the last try or a permanent
    refusal (dropped too: there is nothing to reconcile, and the message holds a signed link)."""
    sql = DriverSql()
    stamp = sql.time(now)
    sent, retries, failed = [], [], []
    for mail, result in zip(mails, results, strict=True):
        if result.ok:
            sent.append((result.code, stamp, mail.mail_id))
            continue
        error = (result.error or "failed")[:300]
        delay = None if result.permanent else retry_delay(mail.attempts_before + 1, retry_schedule, rng)
        if delay is None:
            failed.append((result.code, error, stamp, mail.mail_id))
        else:
            retries.append((result.code, error, sql.time(now + timedelta(seconds=delay)), stamp, mail.mail_id))
    sql.many(OUTBOUND_MAIL_SENT, sent)
    sql.many(OUTBOUND_MAIL_RETRY, retries)
    sql.many(OUTBOUND_MAIL_FAILED, failed)
    return Recorded(len(sent), len(retries), len(failed))
