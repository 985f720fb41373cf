"""Recipients: create, merge contact data, look up. Every change leaves a consent event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update

from ..addresses import (
    is_recipient_id,
    normalize_email,
    normalize_locale,
    normalize_phone,
    normalize_postal_address,
    normalize_time_zone,
)
from ..db.driver import DriverSql
from ..db.statements import (
    LOCK_RECIPIENT_POSTGRES,
    LOCK_RECIPIENT_SQLITE,
    MARK_RELEASE_EVENT,
    READ_RECIPIENT_SQLITE,
    RECIPIENT_IDS_BY_EMAIL,
    RECIPIENT_IDS_BY_PHONE,
    RELEASE_UNVOUCHED_EMAIL,
    RELEASE_UNVOUCHED_PHONE,
)
from ..deps import Deps
from ..errors import PrefsError, invalid
from ..extensions import db
from ..models import Recipient, utcnow
from .events import ChangeContext, record_event
from .provider_sync import address_taken

CONTACT_FIELDS = ("email", "phone", "postal_address", "locale", "time_zone")
_recipients = cast(Table, Recipient.__table__)  # a declarative class types its table as any FROM clause


class RecipientRow(NamedTuple):
    """A locked recipient as plain values: the write paths read it without ORM bookkeeping."""

    pk: int
    id: str
    status: str
    email: str | None
    phone: str | None
    postal_address: dict | None
    email_hash: str | None
    phone_hash: str | None


_SET_STATUS = (
    update(_recipients)
    .where(_recipients.c.pk == bindparam("b_pk"))
    .values(status=bindparam("b_status"), updated_at=bindparam("b_now"))
)


def find_recipient(recipient_id: str) -> Recipient | None:
    return db.session.execute(select(Recipient).where(Recipient.id == recipient_id)).scalar_one_or_none()


def readable_recipient(recipient_id: str) -> Recipient:
    """The recipient for a read. Raises PrefsError(not_found) for unknown and erased ids alike."""
    recipient = find_recipient(recipient_id) if is_recipient_id(recipient_id) else None
    if recipient is None or recipient.status == "erased":
        raise PrefsError("not_found", "No such recipient.")
    return recipient


def lock_recipient(recipient_id: str) -> RecipientRow | None:
    """Read the recipient for a change, holding a lock on it until the transaction ends.

    Two writers to one person must not both read the old state and both write (a lost update). PostgreSQL
    gets a row lock (SELECT … FOR UPDATE). SQLite locks whole files: the transaction starts with
    BEGIN IMMEDIATE (or, if one is already open, a no-op UPDATE), so the write lock is held before anything
    is read and the read is current.
    """
    sql = DriverSql()
    if sql.postgres:
        rows = sql.rows(LOCK_RECIPIENT_POSTGRES, (recipient_id,))
    elif sql.begin_immediate():  # the write lock before the read, without rewriting the row
        rows = sql.rows(READ_RECIPIENT_SQLITE, (recipient_id,))
    else:  # a transaction is already open: a no-op write takes the lock and RETURNING reads the row
        rows = sql.rows(LOCK_RECIPIENT_SQLITE, (recipient_id,))
    if not rows:
        return None
    pk, id_, status, email, phone, postal_address, email_hash, phone_hash = rows[0]
    return RecipientRow(pk, id_, status, email, phone, sql.read_json(postal_address), email_hash, phone_hash)


def writable_recipient(recipient_id: str) -> RecipientRow:
    """The locked recipient for a change. Raises PrefsError: not_found, or erased (a tombstone stays)."""
    recipient = lock_recipient(recipient_id) if is_recipient_id(recipient_id) else None
    if recipient is None:
        raise PrefsError("not_found", "No such recipient.")
    if recipient.status == "erased":
        raise PrefsError("erased", "This recipient was erased; the id cannot be used again.")
    return recipient


def normalise_contact(region: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise the contact fields given; None clears one. Raises PrefsError(invalid)."""
    normalisers: dict[str, Callable[[Any], Any]] = {
        "email": normalize_email,
        "phone": lambda value: normalize_phone(value, region),
        "postal_address": normalize_postal_address,
        "locale": normalize_locale,
        "time_zone": normalize_time_zone,
    }
    return {name: None if given[name] is None else normalisers[name](given[name]) for name in CONTACT_FIELDS if name in given}


class ContactChange(NamedTuple):
    """What a write does to stored contact data: the fields that differ, and the new address hashes."""

    before: dict[str, Any]
    after: dict[str, Any]
    hashes: dict[str, str | None]  # email_hash / phone_hash of each address that changes (None when cleared)


def plan_contact_change(
    current: Mapping[str, Any], fields: Mapping[str, Any], address_hash: Callable[[str, str], str]
) -> ContactChange:
    """The change that normalised `fields` make to `current` (the stored values; empty for a new recipient).

    Pure, and the one rule for every path that writes contact data (PUT, console, import). Nothing else
    follows from a change of number: an SMS stop stays with the number it came from (SPEC §11).
    """
    before = {name: current.get(name) for name, value in fields.items() if current.get(name) != value}
    after = {name: fields[name] for name in before}
    hashes = {
        f"{kind}_hash": address_hash(kind, after[kind]) if after[kind] else None for kind in ("email", "phone") if kind in after
    }
    return ContactChange(before, after, hashes)


def contact_event(created: bool, change: ContactChange) -> tuple[str, dict | None, dict] | None:
    """(kind, before, after) of the event a contact write leaves; None when nothing changed."""
    if created:
        return "recipient_created", None, {"status": "active", **change.after}
    if change.after:
        return "contact_changed", change.before, change.after
    return None


def upsert_recipient(
    deps: Deps, recipient_id: str, given: Mapping[str, Any], context: ChangeContext, *, vouched: bool = True
) -> tuple[Recipient, bool]:
    """Create the recipient or merge the given fields into it. Returns (recipient, created).

    `vouched`: the writer speaks for the person (PUT, the console): the topics' defaults apply to them, and an
    address held by an unvouched recipient is theirs to take. False for the recipient a signup makes.

    Raises PrefsError: invalid, erased, address_in_use.
    """
    if not is_recipient_id(recipient_id):
        raise invalid("id", "1-128 letters, digits, '.', '_', ':' or '-' (never an email address).")
    fields = normalise_contact(deps.phone_region, given)
    locked = lock_recipient(recipient_id)
    created = locked is None
    if locked is None:
        # Insert the new id at once: its unique index is then the lock a concurrent creator of the same
        # id waits on, before either takes any other lock (the event lock), so two creators cannot
        # deadlock; the loser's IntegrityError is retried by db.transactions.unit_of_work as an update.
        recipient = Recipient(id=recipient_id, status="active")
        db.session.add(recipient)
        db.session.flush()
    elif locked.status == "erased":
        raise PrefsError("erased", "This recipient was erased; the id cannot be used again.")
    else:
        recipient = db.session.get_one(Recipient, locked.pk, populate_existing=True)
        # The client's system (or staff) writes this person: it vouches for them, so the topics' defaults apply
        # even if prefs made them for a double opt-in nobody confirmed (decision.gets_default).
        recipient.awaiting_confirmation = recipient.awaiting_confirmation and not vouched
    releases = _take_addresses(recipient, fields, vouched)

    change = plan_contact_change({name: getattr(recipient, name) for name in fields}, fields, deps.address_hash)
    for name, value in {**change.after, **change.hashes}.items():
        setattr(recipient, name, value)
    # The addresses' unique keys before the event lock, as the id's above: a writer holding the event lock
    # must never wait on an address key (an import holds new keys while it waits for the event lock).
    db.session.flush()
    event = contact_event(created, change)
    if event is not None:
        kind, before, after = event
        record_event(context, recipient_id, kind, before=before, after=after)
    for release in releases:
        record_release(context, release, recipient_id)
    if not created:
        email_taken(recipient.id, recipient.pk, change)
    return recipient, created


def email_taken(recipient_id: str, recipient_pk: int, change: ContactChange, sql: DriverSql | None = None) -> None:
    """A stored recipient's contact change gave them a new email address: a stop of marketing by email goes
    with them to it, onto the mail providers' lists (services/provider_sync.py). Every entry point that changes
    contact data calls this: PUT and the console (upsert_recipient), the import."""
    email, digest = change.after.get("email"), change.hashes.get("email_hash")
    if email and digest:
        address_taken(recipient_id, recipient_pk, email, digest, sql)


class Release(NamedTuple):
    """An address taken from the unvouched recipient holding it (db/statements.py, _UNVOUCHED)."""

    holder_id: str
    name: str  # email or phone
    address: str


_RELEASE = {"email": RELEASE_UNVOUCHED_EMAIL, "phone": RELEASE_UNVOUCHED_PHONE}
HOLDERS = {"email": RECIPIENT_IDS_BY_EMAIL, "phone": RECIPIENT_IDS_BY_PHONE}


def release_address(sql: DriverSql, release: Release, taker_id: str, now: datetime) -> bool:
    """Take the address from its unvouched holder, before the new holder's write claims it. False when the
    holder was vouched for or said something since it was read: the address stays theirs.

    Why: anyone can type anyone's address on a hosted form, and prefs makes a recipient for it to mail the
    confirmation. Without this, a stranger's sign-up would keep the client's own system (PUT, the console, an
    import) from giving its customer that address (found in review). The holder keeps its history; its
    pending confirmation link stops working, as for any address its recipient no longer holds, and it remembers
    `taker_id`, whose erasure forgets its history too (services/lifecycle.py): that history holds the address."""
    if sql.postgres:
        # First wait for whoever holds the holder: a PATCH, a one-click or a provider's complaint locks it and
        # writes a choice without touching its row, and the UPDATE's NOT EXISTS would read the snapshot it
        # began with, before that wait (found in review). A statement after the lock sees their commit.
        # (SQLite: the caller holds the write lock since before it read the holder.)
        sql.rows(LOCK_RECIPIENT_POSTGRES, (release.holder_id,))
    return bool(sql.rows(_RELEASE[release.name], (sql.time(now), taker_id, release.holder_id, release.address)))


def record_release(context: ChangeContext, release: Release, taker_id: str, sql: DriverSql | None = None) -> None:
    """The holder's event for a release, written by the writer who took the address, saying who took it; the
    holder remembers it, up to which the taker's erasure forgets the holder's history (services/forgetting.py).
    (The writer holds the holder's lock and the event lock: the event is the holder's newest.)"""
    sql = sql or DriverSql()
    why = f"{release.name} taken by {taker_id}: this sign-up was never confirmed"
    before, after = {release.name: release.address}, {release.name: None}
    record_event(replace(context, reason=why), release.holder_id, "contact_changed", before=before, after=after, sql=sql)
    sql.execute(MARK_RELEASE_EVENT, (release.holder_id, release.holder_id))


def _take_addresses(recipient: Recipient, fields: Mapping[str, Any], vouched: bool) -> list[Release]:
    """The addresses the write gives `recipient` that another recipient holds: taken from an unvouched holder
    by a vouched writer (released here, its event written by the caller after the write), else refused (409)."""
    sql, releases = DriverSql(), []
    for name in ("email", "phone"):
        value = fields.get(name)
        if value is None:
            continue
        holders = sql.select_in(HOLDERS[name], [value])
        if not holders or holders[0][1] == recipient.id:
            continue
        _, holder_id, unvouched = holders[0]
        release = Release(holder_id, name, value)
        if not (vouched and unvouched and release_address(sql, release, recipient.id, utcnow())):
            raise PrefsError("address_in_use", f"This {name} belongs to another recipient.", {name: ["Already in use."]})
        releases.append(release)
    return releases


def set_status(recipient: RecipientRow, status: str, context: ChangeContext) -> bool:
    """Deactivate or reactivate a locked recipient; returns whether anything changed."""
    if recipient.status == status:
        return False
    record_event(context, recipient.id, "status_changed", before=recipient.status, after=status)
    db.session.connection().execute(_SET_STATUS, {"b_pk": recipient.pk, "b_status": status, "b_now": utcnow()})
    return True
