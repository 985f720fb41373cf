"""The suppression sync to mail providers (SPEC §15, outbound): every email address that may no longer get
marketing is pushed to each target in PREFS_SYNC_TARGETS, and taken off again when an opt-in lifts that.

An address may no longer get marketing when it is suppressed (an erasure, an import, a provider's report
about an address nobody holds) or when its holder stopped marketing by email (a channel stop or an
all-marketing stop). The few places that change one of those call the hooks below in the change's own
transaction, and a hook queues a `sync` outbox message only when the answer for the address flips, with the
address itself (the suppression list keeps only its hash, so the message must carry it):

- `email_stop_changed`: services/preferences.write_choices changed a channel or all-marketing choice;
- `address_suppressed`: services/suppressions.suppress added an email address (erasure goes through it);
- `suppression_lifted`: an opt-in with evidence lifted the recipient's email suppression;
- `address_taken`: a recipient who stopped marketing by email was given a new address (PUT, console, import:
  services/recipients.email_taken).

With no target configured nothing is queued, so no address is written anywhere for a feature that is off
(`configure`, called once by the app factory: the targets are the deployment's, the same for every process).
With targets, an address waits in the outbox and then in its `provider_syncs` rows until pushed (an
erasure's too: the push is what keeps the erased person from being mailed), and is cleared once done; a
push that failed for good keeps it for `providers reconcile` until the row is pruned after 30 days (after an
erasure only the newest failed suppression per target, which reconcile reads: forget_unneeded_failed_pushes).

The worker fans each message out to one `provider_syncs` row per target (`fan_out_syncs`), except a target
that reported something about the address itself (provider_events: a bounce, complaint or unsubscribe of
its own): prefs never writes that provider's list for that address, in either direction, so a report is
never echoed back and a provider's own record is never undone. That row is the target's receipt
(`sync_receipts`); services/sync_delivery.py sends and records the pushes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from ..addresses import lookup_email, mask_email
from ..db.driver import DriverSql
from ..db.statements import (
    EMAIL_HOLDER_STOPPED,
    INSERT_PROVIDER_SYNC,
    PROVIDER_REPORTERS,
    STORED_CHOICES,
    SUPPRESSED_HASHES,
)
from ..decision import ANY
from ..errors import PrefsError
from ..extensions import db
from ..models import Choice, ProviderEvent, ProviderSync, Recipient, Suppression
from ..outbound.mail_providers import Listed
from ..suppression import AddressHasher
from .admin_events import record_admin_event
from .outbox import enqueue

SYNC_KIND = "sync"  # the outbox kind of these messages (webhooks never see them)
SUPPRESS, UNSUPPRESS = "suppress", "unsuppress"
ACTIONS = (SUPPRESS, UNSUPPRESS)
_TYPES = {SUPPRESS: "provider.suppress", UNSUPPRESS: "provider.unsuppress"}
# A receipt's state: pending (not tried yet), failed (its last try failed: retried at next_attempt_at, or
# never again when that is None), done.
STATES = ("pending", "done", "failed")
# The stored choices that stop marketing by email: the channel stop and the all-marketing stop.
EMAIL_STOP_KEYS = ((ANY, "email"), (ANY, ANY))
CHUNK = 1000
_configured: list[tuple[str, ...]] = [()]  # the targets of PREFS_SYNC_TARGETS, set by configure()


def configure(targets: tuple[str, ...]) -> None:
    """Say which targets are configured (the app factory, once per app); none: the hooks queue nothing."""
    _configured[0] = targets


def syncing() -> bool:
    """Whether any target is configured: every hook returns at once when not, before reading anything."""
    return bool(_configured[0])


def queue(sql: DriverSql, action: str, email: str, digest: str, recipient_id: str | None) -> None:
    """The outbox message of one push, in the current transaction; one address's messages keep their order."""
    payload = {"action": action, "email": email, "hash": digest, "recipient_id": recipient_id}
    enqueue(_TYPES[action], f"sync:{digest[:32]}", payload, sql, kind=SYNC_KIND)


def _stopped(values: Mapping[tuple[str, str], bool | None]) -> bool:
    return any(values.get(key) is False for key in EMAIL_STOP_KEYS)


def _suppressed(sql: DriverSql, digest: str) -> bool:
    return bool(sql.select_in(SUPPRESSED_HASHES, [digest]))


def email_stop_changed(
    sql: DriverSql,
    recipient_id: str,
    email: str | None,
    email_hash: str | None,
    stored: Mapping[tuple[str, str], tuple[bool, bool]],
    written: Mapping[tuple[str, str], bool | None],
) -> None:
    """After write_choices stored `written` over `stored`: queue a push when marketing by email went from
    allowed to stopped or back for this address (a suppressed address stays pushed either way)."""
    if not syncing() or email is None or email_hash is None or not any(key in written for key in EMAIL_STOP_KEYS):
        return
    before = {key: value[0] for key, value in stored.items()}
    after = {**before, **written}
    if _stopped(before) == _stopped(after) or _suppressed(sql, email_hash):
        return
    queue(sql, SUPPRESS if _stopped(after) else UNSUPPRESS, email, email_hash, recipient_id)


def address_suppressed(email: str, digest: str, sql: DriverSql | None = None) -> None:
    """An email address was added to the suppression list: push it, unless its holder had stopped marketing
    by email already (then it was pushed then)."""
    if not syncing():
        return
    sql = sql or DriverSql()
    holder = sql.rows(EMAIL_HOLDER_STOPPED, (False, email))
    if holder and holder[0][1]:
        return
    queue(sql, SUPPRESS, email, digest, holder[0][0] if holder else None)


def suppression_lifted(recipient_id: str, recipient_pk: int, email: str, digest: str, sql: DriverSql | None = None) -> None:
    """The recipient's opt-in lifted the suppression of their email address: take it off the targets, unless
    they still stop marketing by email."""
    if not syncing():
        return
    sql = sql or DriverSql()
    stored = {(topic, channel): bool(subscribed) for topic, channel, subscribed, _ in sql.rows(STORED_CHOICES, (recipient_pk,))}
    if not _stopped(stored):
        queue(sql, UNSUPPRESS, email, digest, recipient_id)


def address_lifted(email: str, digest: str, sql: DriverSql | None = None) -> None:
    """Staff lifted the suppression of an address no recipient holds, with the person's consent: take it off
    the targets, as a recipient's own opt-in does (suppression_lifted)."""
    if not syncing():
        return
    sql = sql or DriverSql()
    holder = sql.rows(EMAIL_HOLDER_STOPPED, (False, email))
    if not (holder and holder[0][1]):  # a holder who stops marketing by email keeps it on the lists
        queue(sql, UNSUPPRESS, email, digest, holder[0][0] if holder else None)


def address_taken(recipient_id: str, recipient_pk: int, email: str, digest: str, sql: DriverSql | None = None) -> None:
    """A recipient was given this email address: push it when they stop marketing by email (a suppressed
    address was pushed when it was suppressed). The address they had stays on the lists."""
    if not syncing():
        return
    sql = sql or DriverSql()
    stored = {(topic, channel): bool(subscribed) for topic, channel, subscribed, _ in sql.rows(STORED_CHOICES, (recipient_pk,))}
    if _stopped(stored) and not _suppressed(sql, digest):
        queue(sql, SUPPRESS, email, digest, recipient_id)


def fan_out_syncs(sql: DriverSql, messages: Sequence[tuple[Any, Any]], targets: Sequence[str], now: datetime) -> int:
    """One provider_syncs row per target for each (payload, created_at) of `sync` outbox messages; a target
    that reported something about the address gets a receipt that says so and no request. Returns the rows."""
    if not targets or not messages:
        return 0
    payloads = [sql.read_json(payload) for payload, _ in messages]
    reporters: dict[str, set[str]] = {}
    hashes = sorted({payload["hash"] for payload in payloads})
    for start in range(0, len(hashes), CHUNK):
        for digest, provider in sql.select_in(PROVIDER_REPORTERS, hashes[start : start + CHUNK]):
            reporters.setdefault(digest, set()).add(provider)
    stamp = sql.time(now)
    rows = []
    for payload in payloads:
        reported_by = reporters.get(payload["hash"], set())
        for target in targets:
            here = target in reported_by
            email = None if here else payload["email"]
            rows.append((target, payload["action"], payload["hash"], email, payload["recipient_id"], here,
                         "done" if here else "pending", stamp, stamp, stamp))  # fmt: skip
    sql.many(INSERT_PROVIDER_SYNC, rows)
    return len(rows)


@dataclass(frozen=True)
class Receipt:
    target: str
    action: str
    state: str  # STATES
    attempts: int
    last_error: str | None
    at: datetime  # when it was queued, last tried or finished
    next_attempt_at: datetime | None  # the retry of a failed push; None when done or given up
    reported_here: bool  # the target reported the address itself: left alone, no request made

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "action": self.action,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "at": self.at,
            "next_attempt_at": self.next_attempt_at,
            "reported_here": self.reported_here,
        }


def _receipt(row: ProviderSync) -> Receipt:
    at, retry_at = _utc(row.updated_at), _utc(row.next_attempt_at)
    if row.status == "pending":
        state = "failed" if row.attempts else "pending"
        retry = retry_at if row.attempts else None
    else:
        state, retry = row.status, None
    return Receipt(row.target, row.action, state, row.attempts, row.last_error, at, retry, row.reported_here)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def sync_receipts(recipient_id: str) -> dict[str, Receipt]:
    """Each target's latest push about this recipient's addresses, by target."""
    latest = (
        select(func.max(ProviderSync.id))
        .where(ProviderSync.recipient_id == recipient_id)
        .group_by(ProviderSync.target)
        .scalar_subquery()
    )
    rows = db.session.execute(select(ProviderSync).where(ProviderSync.id.in_(latest)).order_by(ProviderSync.target)).scalars()
    return {row.target: _receipt(row) for row in rows}


def forget_unneeded_failed_pushes(recipient_id: str, digest: str | None) -> None:
    """Erasure of the recipient whose email address has hash `digest`: a failed push of that address keeps it
    only where `providers reconcile` reads it, the newest push to a target when it is a suppression (it keeps
    the erased person off that list: the erasure suppressed the address). Every other failed push of it, and
    every failed push made for the recipient about an address they held before (which nothing suppresses on
    their behalf), forgets it (found in review: a failed removal from a list kept the erased person's address
    for 30 days, read by nothing)."""
    failed = [ProviderSync.status == "failed", ProviderSync.email.is_not(None)]
    if digest is not None:
        newest = select(func.max(ProviderSync.id)).where(ProviderSync.address_hash == digest).group_by(ProviderSync.target)
        read_by_reconcile = select(ProviderSync.id).where(ProviderSync.id.in_(newest), ProviderSync.action == SUPPRESS)
        db.session.execute(
            update(ProviderSync)
            .where(ProviderSync.address_hash == digest, ProviderSync.id.not_in(read_by_reconcile), *failed)
            .values(email=None)
        )
    former = [] if digest is None else [ProviderSync.address_hash != digest]
    db.session.execute(update(ProviderSync).where(ProviderSync.recipient_id == recipient_id, *former, *failed).values(email=None))


# --- providers reconcile


@dataclass
class ReconcilePlan:
    """What a target's list and prefs disagree about. Addresses are kept for --fix and shown only masked."""

    target: str
    listed: int = 0
    missing: dict[str, str] = field(default_factory=dict)  # hash -> address prefs says must be there, and is not
    extra: dict[str, str] = field(default_factory=dict)  # hash -> address there although its holder may get marketing
    providers_own: int = 0  # there, not wanted by prefs, but the provider recorded it itself: left alone
    unknown: int = 0  # there, and prefs knows nothing of the address: left alone
    unreadable: int = 0  # entries whose address is not one

    def masked(self, which: Mapping[str, str], limit: int = 20) -> list[str]:
        return [mask_email(address) or "" for address in sorted(which.values())[:limit]]


def plan_reconcile(address_hash: AddressHasher, target: str, listed: Iterable[Listed]) -> ReconcilePlan:
    """Compare what `target` lists with what prefs says must be on it. Reads only; `--fix` acts on the plan."""
    plan = ReconcilePlan(target)
    present: set[str] = set()
    for chunk in _chunks(listed, CHUNK):
        entries: dict[str, tuple[str, bool]] = {}
        for entry in chunk:
            plan.listed += 1
            try:
                address = lookup_email(entry.email)
            except PrefsError:
                plan.unreadable += 1
                continue
            entries[address_hash("email", address)] = (address, entry.providers_own)
        present.update(entries)
        wanted = _must_be_listed(list(entries))
        holders = _live_holders(list(entries))
        reported = _reported_by(target, list(entries))
        for digest, (address, own) in entries.items():
            if digest in wanted:
                continue
            if own or digest in reported:
                plan.providers_own += 1
            elif digest in holders:
                plan.extra[digest] = address
            else:
                plan.unknown += 1
    for digest, address in _known_addresses_to_list(target):
        if digest not in present:
            plan.missing[digest] = address
    reported = _reported_by(target, list(plan.missing))
    plan.missing = {digest: address for digest, address in plan.missing.items() if digest not in reported}
    return plan


def _chunks(items: Iterable[Listed], size: int) -> Iterator[list[Listed]]:
    chunk: list[Listed] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _stop_exists():
    return (
        select(Choice.recipient_pk)
        .where(
            Choice.recipient_pk == Recipient.pk,
            Choice.topic == ANY,
            Choice.channel.in_((ANY, "email")),
            Choice.subscribed.is_(False),
        )
        .exists()
    )


def _must_be_listed(hashes: list[str]) -> set[str]:
    """Those of `hashes` that may get no marketing: suppressed, or held by someone who stopped it by email."""
    if not hashes:
        return set()
    suppressed = set(db.session.execute(select(Suppression.hash).where(Suppression.hash.in_(hashes))).scalars())
    stopped = db.session.execute(
        select(Recipient.email_hash).where(Recipient.email_hash.in_(hashes), Recipient.status != "erased", _stop_exists())
    ).scalars()
    return suppressed | {digest for digest in stopped if digest}


def _live_holders(hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    found = db.session.execute(
        select(Recipient.email_hash).where(Recipient.email_hash.in_(hashes), Recipient.status != "erased")
    ).scalars()
    return {digest for digest in found if digest}


def _reported_by(target: str, hashes: list[str]) -> set[str]:
    if not hashes:
        return set()
    found = db.session.execute(
        select(ProviderEvent.address_hash).where(
            ProviderEvent.provider == target, ProviderEvent.kind != "soft_bounce", ProviderEvent.address_hash.in_(hashes)
        )
    ).scalars()
    return {digest for digest in found if digest}


def _known_addresses_to_list(target: str) -> Iterator[tuple[str, str]]:
    """(hash, address) of every address prefs knows in full and says must be listed: live holders who stopped
    marketing by email or whose address is suppressed, and pushes to this target that failed for good."""
    suppressed = select(Suppression.hash).where(Suppression.hash == Recipient.email_hash).exists()
    holders = db.session.execute(
        select(Recipient.email_hash, Recipient.email).where(
            Recipient.email.is_not(None), Recipient.status != "erased", or_(_stop_exists(), suppressed)
        )
    )
    for digest, email in holders:
        if digest and email:
            yield digest, email
    newest = (
        select(func.max(ProviderSync.id))
        .where(ProviderSync.target == target)
        .group_by(ProviderSync.address_hash)
        .scalar_subquery()
    )
    failed = db.session.execute(
        select(ProviderSync.address_hash, ProviderSync.email).where(
            ProviderSync.id.in_(newest),
            and_(ProviderSync.status == "failed", ProviderSync.action == SUPPRESS, ProviderSync.email.is_not(None)),
        )
    )
    for digest, email in failed:
        if email:
            yield digest, email


def record_reconcile(target: str, operator: str, plan: ReconcilePlan, pushed: int, removed: int) -> None:
    """The admin event of a `providers reconcile --fix`: counts only, never an address."""
    details = {
        "listed": plan.listed,
        "missing": len(plan.missing),
        "extra": len(plan.extra),
        "pushed": pushed,
        "removed": removed,
    }
    record_admin_event("cli", operator, "provider_list.reconciled", target, details)
