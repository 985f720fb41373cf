"""The worker's steps for the mail providers' suppression lists (SPEC §15, outbound), beside the webhooks'
(services/delivery.py): claim the due pushes of each target, make them through the target's client, record
what each gave. Same guarantees as webhooks: an address's pushes reach a target in order (a failing one holds
back that address's later ones there), at least once (recorded only after the answer), and the webhooks'
retry schedule with its jitter. The worker (prefs/cli/worker.py) paces each target and owns the transactions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..db.driver import DriverSql
from ..db.statements import (
    CUSTOM_PLANS_POSTGRES,
    DUE_PROVIDER_SYNCS,
    DUE_PROVIDER_SYNCS_POSTGRES,
    PROVIDER_SYNC_DONE,
    PROVIDER_SYNC_FAILED,
    PROVIDER_SYNC_RETRY,
)
from ..outbound.mail_providers import PushResult, SyncClient
from .delivery import Recorded, retry_delay
from .provider_sync import SUPPRESS


@dataclass(frozen=True)
class Push:
    """One push to make: which row, to which target, what, and how many tries it had."""

    sync_id: int
    target: str
    action: str  # suppress, unsuppress
    email: str
    attempts_before: int


def claim_due_pushes(now: datetime, limits: Mapping[str, int]) -> list[Push]:
    """Up to limits[target] due pushes per target, oldest first; on PostgreSQL locked until the transaction
    ends, skipping those another worker holds."""
    sql = DriverSql()
    if sql.postgres:
        sql.execute(CUSTOM_PLANS_POSTGRES)
    statement = DUE_PROVIDER_SYNCS_POSTGRES if sql.postgres else DUE_PROVIDER_SYNCS
    pushes = []
    for target, limit in sorted(limits.items()):
        if limit > 0:
            for sync_id, name, action, email, attempts in sql.rows(statement, (target, sql.time(now), limit)):
                pushes.append(Push(sync_id, name, action, email or "", attempts))
    return pushes


def push_all(pushes: Sequence[Push], clients: Mapping[str, SyncClient], pool: Executor) -> list[PushResult]:
    """Each target's pushes one after another (the provider's pacing), the targets at once on the pool."""
    by_target: dict[str, list[int]] = {}
    for index, push in enumerate(pushes):
        by_target.setdefault(push.target, []).append(index)

    def run(indexes: list[int]) -> list[tuple[int, PushResult]]:
        return [(index, _push(pushes[index], clients[pushes[index].target])) for index in indexes]

    results: list[PushResult | None] = [None] * len(pushes)
    for done in pool.map(run, by_target.values()):
        for index, result in done:
            results[index] = result
    return [result for result in results if result is not None]


def _push(push: Push, client: SyncClient) -> PushResult:
    if not push.email:  # cannot happen for a pending push; a failure, not a crash, if it ever does
        return PushResult(False, None, "the address is no longer kept")
    return client.suppress(push.email) if push.action == SUPPRESS else client.unsuppress(push.email)


def record_pushes(
    pushes: Sequence[Push], results: Sequence[PushResult], retry_schedule: Sequence[float], now: datetime, rng: random.Random
) -> Recorded:
    """Done (the address is then dropped), retried later, or failed after the last try (the address is kept
    for `providers reconcile`)."""
    sql = DriverSql()
    stamp = sql.time(now)
    done, retries, failed = [], [], []
    for push, result in zip(pushes, results, strict=True):
        if result.ok:
            done.append((stamp, push.sync_id))
            continue
        error = (result.error or "failed")[:300]
        delay = retry_delay(push.attempts_before + 1, retry_schedule, rng)
        if delay is None:
            failed.append((error, stamp, push.sync_id))
        else:
            retries.append((error, sql.time(now + timedelta(seconds=delay)), stamp, push.sync_id))
    sql.many(PROVIDER_SYNC_DONE, done)
    sql.many(PROVIDER_SYNC_RETRY, retries)
    sql.many(PROVIDER_SYNC_FAILED, failed)
    return Recorded(len(done), len(retries), len(failed))
