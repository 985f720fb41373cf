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
    OUTBOUND_MAIL_CANCELLED,
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
    not_theirs: bool = False  # its recipient no longer holds the address, or is no longer active: never sent


# Why a due message is cancelled instead of sent.
NOT_THEIRS = "the recipient no longer holds the address, or is no longer active"


def claim_due_mails(now: datetime, limit: int) -> list[Mail]:
    """Up to `limit` due messages, oldest first; on PostgreSQL locked until the transaction ends, skipping
    those another worker holds.

    A message goes only to an address its recipient (the ordering key) still holds, while active: one queued
    before an erasure, a change of address, or a signup's address taken by the client's customer is cancelled
    by record_mails. The queueing transaction may have read the recipient without a lock (email me my link),
    so this is where it is decided (found in review: a link request racing an erasure mailed the erased
    address)."""
    sql = DriverSql()
    if sql.postgres:
        sql.execute(CUSTOM_PLANS_POSTGRES)
    statement = DUE_OUTBOUND_MAILS_POSTGRES if sql.postgres else DUE_OUTBOUND_MAILS
    mails = []
    for mail_id, payload, attempts, status, email in sql.rows(statement, (sql.time(now), limit)):
        message = sql.read_json(payload)
        not_theirs = isinstance(message, dict) and (status != "active" or email != message.get("to"))
        mails.append(Mail(mail_id, message, attempts, not_theirs))
    return mails


def send_mails(mails: Sequence[Mail], sender: Sender, pool: Executor) -> list[SendResult]:
    """Every message at once on the pool's threads (a connection each); results in the same order."""
    return list(pool.map(lambda mail: _send(mail, sender), mails))


def _send(mail: Mail, sender: Sender) -> SendResult:
    if mail.not_theirs:
        return SendResult(False, permanent=True, error=NOT_THEIRS)  # not sent; record_mails cancels it
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
    sent, retries, failed, cancelled = [], [], [], []
    for mail, result in zip(mails, results, strict=True):
        if mail.not_theirs:
            cancelled.append((NOT_THEIRS, stamp, mail.mail_id))
            continue
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
    sql.many(OUTBOUND_MAIL_CANCELLED, cancelled)
    return Recorded(len(sent), len(retries), len(failed), len(cancelled))
