"""Bulk import of recipients from CSV: validate rows (in parallel), upsert them in batches.

Columns: `id` (required), `email`, `phone`, `locale`, `time_zone` (IANA), and any number of `topic:channel`
columns holding yes/no. An empty cell leaves that field as it is (an import never clears data). A bad row is reported by
its line number and skipped; good rows are kept. One consent event per recipient whose stored data
changed (actor `import`, actor_id the file's name), so importing the same file again writes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from typing import Any, NamedTuple, cast

from psycopg.errors import DeadlockDetected, UniqueViolation
from sqlalchemy import Table, update

from ..addresses import is_recipient_id, normalize_email, normalize_locale, normalize_phone, normalize_time_zone
from ..channels import CHANNELS, KEYWORD_STOPPED
from ..db.driver import DriverSql
from ..db.statements import (
    COPY_IMPORT_CHOICES_POSTGRES,
    COPY_IMPORT_EVENTS_POSTGRES,
    COPY_IMPORT_RECIPIENTS_POSTGRES,
    CREATE_IMPORT_CHOICES_STAGE_POSTGRES,
    CREATE_IMPORT_RECIPIENTS_STAGE_POSTGRES,
    IMPORT_RECIPIENTS_BY_ID,
    INSERT_CHOICE,
    INSERT_IMPORT_EVENT,
    INSERT_IMPORT_OUTBOX,
    INSERT_RECIPIENT,
    LAST_EVENT_ID,
    LOCK_EVENT_WRITES,
    LOCK_IMPORT_RECIPIENTS_BY_ID_POSTGRES,
    OPT_OUT_CHOICE,
    RECIPIENT_PKS_BY_ID,
    STORED_CHOICES_OF,
    SUPPRESSION_SOURCES,
    UPDATE_CHOICE,
    UPSERT_IMPORT_CHOICES_POSTGRES,
    UPSERT_IMPORT_RECIPIENTS_POSTGRES,
)
from ..decision import TopicRule
from ..errors import PrefsError
from ..extensions import db
from ..models import Recipient, utcnow
from ..suppression import AddressHasher
from .events import IMPORT_WRITE_LOCK, Actor, ChangeContext, serialise_event_writes
from .outbox import webhook_type
from .recipients import HOLDERS, ContactChange, Release, email_taken, plan_contact_change, record_release, release_address
from .suppressions import SMS_STOP

BATCH = 5000
CONTACT_COLUMNS = ("email", "phone", "locale", "time_zone")
YES, NO = frozenset({"yes", "y", "true", "1"}), frozenset({"no", "n", "false", "0"})
_recipients = cast(Table, Recipient.__table__)  # a declarative class types its table as any FROM clause


class ImportFileError(Exception):
    """The file as a whole cannot be imported (bad header); nothing was written."""


class GoodRow(NamedTuple):
    line: int
    id: str
    contact: dict[str, str]  # normalised, only the non-empty cells
    hashes: dict[str, str]  # email_hash / phone_hash for the addresses given
    choices: dict[tuple[str, str], bool]


# A GoodRow as it crosses from a validating process to the writing one, a million times an import: a flat
# tuple of strings pickles in a sixth of the time of the named tuple of dicts (about 9 µs a row in all, a
# fifth of the import's CPU). (line, id, email, phone, locale, time_zone, email_hash, phone_hash, choices as
# (topic, channel, subscribed) triples); None for an empty cell.
ShippedRow = tuple[
    int, str, str | None, str | None, str | None, str | None, str | None, str | None, tuple[tuple[str, str, bool], ...]
]


def ship(row: GoodRow) -> ShippedRow:
    contact, hashes = row.contact, row.hashes
    return (row.line, row.id, contact.get("email"), contact.get("phone"), contact.get("locale"), contact.get("time_zone"),
            hashes.get("email_hash"), hashes.get("phone_hash"), tuple((topic, channel, on) for (topic, channel), on in row.choices.items()))  # fmt: skip


def unship(shipped: ShippedRow) -> GoodRow:
    line, recipient_id, email, phone, locale, time_zone, email_hash, phone_hash, choices = shipped
    contact = {
        name: value
        for name, value in (("email", email), ("phone", phone), ("locale", locale), ("time_zone", time_zone))
        if value is not None
    }
    hashes = {name: value for name, value in (("email_hash", email_hash), ("phone_hash", phone_hash)) if value is not None}
    return GoodRow(line, recipient_id, contact, hashes, {(topic, channel): on for topic, channel, on in choices})


class BadRow(NamedTuple):
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)


def check_header(header: list[str], rules: dict[str, TopicRule]) -> list[tuple[str, str]]:
    """The choice columns of a header. Raises ImportFileError for an unusable header."""
    if "id" not in header:
        raise ImportFileError("the header has no 'id' column")
    if len(set(header)) != len(header):
        raise ImportFileError("the header names a column twice")
    choice_columns = []
    for name in header:
        if name in ("id",) + CONTACT_COLUMNS:
            continue
        topic, colon, channel = name.partition(":")
        rule = rules.get(topic)
        if not colon or rule is None or channel not in CHANNELS or channel not in rule.channels:
            raise ImportFileError(
                f"column {name!r} is neither id, email, phone, locale, time_zone nor topic:channel of a topic sent on that channel"
            )
        choice_columns.append((topic, channel))
    return choice_columns


# --- validation: pure, run in worker processes ---------------------------------------------------------
_WORKER: dict[str, Any] = {}


def init_worker(region: str, address_hash: AddressHasher, mandatory: frozenset[str]) -> None:
    _WORKER.update(region=region, address_hash=address_hash, mandatory=mandatory)


def validate_rows(batch: tuple[list[str], list[tuple[int, list[str]]]]) -> tuple[list[ShippedRow], list[BadRow]]:
    """A batch as read_batches gives it: the header, and each row's line number and cells. Returns the good
    rows shipped (unship() turns them back) and the bad ones."""
    header, rows = batch
    good: list[ShippedRow] = []
    bad: list[BadRow] = []
    for line, cells in rows:
        row = validate_row(line, dict(zip(header, cells, strict=False)))
        if isinstance(row, GoodRow):
            good.append(ship(row))
        else:
            bad.append(row)
    return good, bad


def validate_row(line: int, values: dict[str, str]) -> GoodRow | BadRow:
    recipient_id = (values.get("id") or "").strip()
    if not is_recipient_id(recipient_id):
        return BadRow(line, "id: 1-128 letters, digits, '.', '_', ':' or '-' (never an email address)")
    contact: dict[str, str] = {}
    hashes: dict[str, str] = {}
    try:
        if (values.get("email") or "").strip():
            contact["email"] = normalize_email(values["email"])
            hashes["email_hash"] = _WORKER["address_hash"]("email", contact["email"])
        if (values.get("phone") or "").strip():
            contact["phone"] = normalize_phone(values["phone"], _WORKER["region"])
            hashes["phone_hash"] = _WORKER["address_hash"]("phone", contact["phone"])
        if (values.get("locale") or "").strip():
            contact["locale"] = normalize_locale(values["locale"].strip())
        if (values.get("time_zone") or "").strip():
            contact["time_zone"] = normalize_time_zone(values["time_zone"])
    except PrefsError as error:
        (name, messages), *_ = error.details.items()
        return BadRow(line, f"{name}: {messages[0]}")
    choices: dict[tuple[str, str], bool] = {}
    for column, cell in values.items():
        if ":" not in column or not (cell or "").strip():
            continue
        answer = cell.strip().lower()
        if answer not in YES | NO:
            return BadRow(line, f"{column}: yes or no, not {cell.strip()!r}")
        topic, _, channel = column.partition(":")
        if topic in _WORKER["mandatory"]:
            if answer in NO:
                return BadRow(line, f"{column}: a mandatory topic cannot be switched off")
            continue  # always on: nothing to store
        choices[(topic, channel)] = answer in YES
    return GoodRow(line, recipient_id, contact, hashes, choices)


# --- the import ----------------------------------------------------------------------------------------
def read_batches(handle: Iterable[str], rules: dict[str, TopicRule]) -> Iterator[tuple[list[str], list[tuple[int, list[str]]]]]:
    """(header, [(line number, cells)]) per batch; the validating processes pair cells with the header (a short
    row leaves its last cells empty)."""
    reader = csv.reader(handle)
    header = [name.strip() for name in next(reader, [])]
    check_header(header, rules)
    batch: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(cells):
            continue  # a blank line
        batch.append((reader.line_num, cells))
        if len(batch) >= BATCH:
            yield header, batch
            batch = []
    if batch:
        yield header, batch


def import_recipients(
    handle: Iterable[str],
    file_name: str,
    rules: dict[str, TopicRule],
    region: str,
    address_hash: AddressHasher,
    write_batch: Callable[[Callable[[], None]], None],
    progress: Callable[[int], None] = lambda rows: None,
    processes: int = 2,
) -> ImportReport:
    """Validate in `processes` worker processes while this one writes; each batch is one transaction, run
    through `write_batch` (which commits) on SQLite, by _PostgresWriter on PostgreSQL. Raises ImportFileError
    before writing anything."""
    report = ImportReport()
    mandatory = frozenset(key for key, rule in rules.items() if rule.mandatory)
    claimed: dict[str, str] = {}  # address -> id, across the whole file, to refuse duplicates
    batches = read_batches(handle, rules)
    first = next(batches, None)  # the header is checked here, before any process starts
    if first is None:
        return report
    batches = _chain(first, batches)
    if processes > 1:
        pool = get_context("spawn").Pool(processes, initializer=init_worker, initargs=(region, address_hash, mandatory))
        validated: Iterator[tuple[list[ShippedRow], list[BadRow]]] = pool.imap(validate_rows, batches)
    else:
        pool = None
        init_worker(region, address_hash, mandatory)
        validated = map(validate_rows, batches)
    writer = _PostgresWriter(file_name, report) if db.engine.dialect.name == "postgresql" else None
    try:
        for shipped, bad in validated:
            report.bad += bad
            for part in _without_repeated_ids([unship(row) for row in shipped]):
                if writer is None:
                    write_batch(partial(_write, part, file_name, claimed, report))
                else:
                    writer.write(part, claimed)
            progress(len(shipped) + len(bad))
        if writer is not None:
            writer.wait()
    finally:
        if writer is not None:
            writer.close()  # a batch still being written is finished first: it was decided whole
        if pool is not None:
            pool.terminate()
    report.bad.sort(key=lambda row: row.line)
    return report


def _chain(first, rest):
    yield first
    yield from rest


def _write(rows: list[GoodRow], file_name: str, claimed: dict[str, str], report: ImportReport) -> None:
    """Upsert one batch. Rows whose address another recipient holds (or another row claimed) are bad, and
    so are rows that opt a number that texted STOP in to texts (only START from it lifts that)."""
    sql = DriverSql()
    if sql.connection is None:  # write_batch runs this in the session's transaction, which it commits
        raise RuntimeError("an import batch is written in the session's transaction")
    # The write lock before the reads the batch is decided from, so they are current when it is written
    # (pysqlite would begin the transaction only at the first write).
    sql.begin_immediate()
    decided = _decide(sql, rows, claimed, report)
    _write_sqlite(sql, decided, file_name, report)


class _Decided(NamedTuple):
    accepted: list[GoodRow]  # the rows written (the others are reported bad)
    existing: dict[str, _Current]  # the stored recipients among them
    changes: dict[str, ContactChange]  # the contact change each of those makes
    releases: list[tuple[Release, str]]  # addresses taken from unvouched holders, with the id taking each


def _decide(sql: DriverSql, rows: list[GoodRow], claimed: dict[str, str], report: ImportReport) -> _Decided:
    """The rules, the same on both databases."""
    existing = {row[1]: _Current(*row) for row in sql.select_in(IMPORT_RECIPIENTS_BY_ID, [r.id for r in rows])}
    owners = _address_owners(sql, rows)
    stopped = _stopped_numbers(sql, rows, existing)
    accepted: list[GoodRow] = []
    changes: dict[str, ContactChange] = {}
    releases: list[tuple[Release, str]] = []
    vouched: set[str] = set()  # stored recipients an earlier row of the batch wrote: theirs is no address to take
    for row in rows:
        current = existing.get(row.id)
        if current is not None and current.status == "erased":
            report.bad.append(BadRow(row.line, "id: this recipient was erased; the id cannot be used again"))
            continue
        clash, taken = _clash(row, owners, claimed, vouched)
        if clash:
            report.bad.append(BadRow(row.line, clash))
            continue
        if _texts_opt_in(row) and _number_hash(row, current) in stopped:
            report.bad.append(BadRow(row.line, "phone: this number texted STOP; only a START text from it lifts that"))
            continue
        for name in ("email", "phone"):
            if name in row.contact:
                claimed[row.contact[name]] = row.id
        for release in taken:
            del owners[release.address]  # the row's now: `claimed` says so to the rows after it
            releases.append((release, row.id))
        accepted.append(row)
        if current is not None:  # (a new recipient simply gets the row's fields)
            # The same rule as PUT (services/recipients.py), with the hashes the validating process made.
            change = changes[row.id] = plan_contact_change(current._asdict(), row.contact, partial(_validated_hash, row))
            _release(change, row.id, owners, claimed)
            if change.after or row.choices:  # as two PUTs in file order: the first vouches, the second gets a 409
                vouched.add(row.id)
    return _Decided(accepted, existing, changes, releases)


def _release(change: ContactChange, recipient_id: str, owners: dict[str, tuple[str, bool]], claimed: dict[str, str]) -> None:
    """An address the row gives up is free for the rows after it, as it is for the next PUT (found in review:
    it stayed taken for the rest of the batch, or of the file, so the outcome hung on where a batch ended)."""
    for name in ("email", "phone"):
        given_up = change.before.get(name)
        if given_up is None or name not in change.after:
            continue
        if owners.get(given_up, ("",))[0] == recipient_id:
            del owners[given_up]
        if claimed.get(given_up) == recipient_id:
            del claimed[given_up]


def _write_sqlite(sql: DriverSql, decided: _Decided, file_name: str, report: ImportReport) -> None:
    """SQLite: the batch's statements through executemany (one writer, no round trips to save)."""
    connection = sql.connection
    assert connection is not None  # noqa: S101 (checked by _write)
    accepted, existing, changes, releases = decided
    now = utcnow()
    stamp = sql.time(now)
    for release, taker_id in releases:
        if not release_address(sql, release, taker_id, now):  # decided under the write lock: nothing could change it
            raise RuntimeError("an address's holder changed under the import's write lock")
    inserts = []
    for row in accepted:
        current = existing.get(row.id)
        if current is None:
            contact, hashes = row.contact, row.hashes
            inserts.append((row.id, "active", contact.get("email"), contact.get("phone"), contact.get("locale"),
                            contact.get("time_zone"), hashes.get("email_hash"), hashes.get("phone_hash"), stamp, stamp))  # fmt: skip
        elif (change := changes[row.id]).after:  # few on a re-run, so one statement each is fine
            connection.execute(
                update(_recipients)
                .where(_recipients.c.pk == current.pk)
                .values(**change.after, **change.hashes, updated_at=now, awaiting_confirmation=False)  # the client vouches
            )
            email_taken(row.id, current.pk, change, sql)
    sql.many(INSERT_RECIPIENT, inserts)
    pks = dict(sql.select_in(RECIPIENT_PKS_BY_ID, [r.id for r in accepted if r.choices]))
    choice_changes = _choice_changes(sql, accepted, pks)
    choice_inserts: list[tuple[bool, bool, Any, int, str, str]] = []
    choice_updates: list[tuple[bool, bool, Any, int, str, str]] = []
    choice_opt_outs: list[tuple[bool, Any, int, str, str]] = []
    for recipient_id, cells in choice_changes.items():
        for (topic, channel), (old, new) in cells.items():
            key = (pks[recipient_id], topic, channel)
            if old is None:  # an import carries no evidence of consent: its opt-ins are not SPEC §17's express consent
                choice_inserts.append((new, False, stamp, *key))
            elif new:
                choice_updates.append((new, False, stamp, *key))
            else:  # an opt-out keeps the stored flag, as write_choices does (services/preferences.py)
                choice_opt_outs.append((new, stamp, *key))
    sql.many(UPDATE_CHOICE, choice_updates)
    sql.many(OPT_OUT_CHOICE, choice_opt_outs)
    sql.many(INSERT_CHOICE, choice_inserts)
    plan_events = _events(accepted, existing, changes, choice_changes, report)
    events = [
        (stamp, recipient_id, "import", file_name, "import", "imported", sql.json(before), sql.json(after))
        for recipient_id, before, after in plan_events
    ]
    if events:
        serialise_event_writes(sql)
        _record_releases(sql, releases, file_name)
        (last_event,) = sql.rows(LAST_EVENT_ID)[0]
        sql.many(INSERT_IMPORT_EVENT, events)
        _queue_messages(sql, plan_events, last_event)


class _PostgresWriter:
    """PostgreSQL: batch k is written and committed by a thread on a connection of its own while this one
    reads and decides batch k+1 on another, so the server's work on a batch overlaps the Python work on the
    next (the import is otherwise one process waiting on the other). That is the same as one batch after the
    other as long as batch k+1 reads nothing batch k writes: a row of batch k+1 whose id batch k writes, or
    whose address batch k takes from someone, waits for batch k's commit before its batch reads anything.
    (An address batch k gives to a new holder needs no wait: `claimed` knows it already.)

    Other writers go on meanwhile (the API, the pages, an erasure), so a batch is decided from reads that may
    be stale by the time it is written. The writing thread locks the batch's stored recipients first and
    decides the batch again, on its own connection, when they changed since (_write_batch): an erasure made
    meanwhile must not be undone, an address taken meanwhile makes a bad row, not a failed import."""

    def __init__(self, file_name: str, report: ImportReport) -> None:
        self.file_name = file_name
        self.report = report
        self.reads = DriverSql(standalone=True, reads_only=True)
        self.writes = DriverSql(standalone=True)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="prefs-import-write")
        self.pending: Future[ImportReport] | None = None
        self.touched: set[str] = set()  # ids and released addresses of the batch being written

    def write(self, rows: list[GoodRow], claimed: dict[str, str]) -> None:
        if self.pending is not None and any(_touches(row, self.touched) for row in rows):
            self.wait()
        plan = _plan_postgres(self.reads, rows, claimed)
        self.wait()  # one batch in flight at a time, committed in file order
        self.touched = plan.touched
        self.pending = self.thread.submit(_write_batch, self.writes, plan, claimed, self.file_name)

    def wait(self) -> None:
        """Until the batch in flight is committed, its outcome counted in the report; raises its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            outcome = pending.result()
            self.report.created += outcome.created
            self.report.updated += outcome.updated
            self.report.unchanged += outcome.unchanged
            self.report.bad += outcome.bad

    def close(self) -> None:
        try:
            self.thread.shutdown(wait=True)  # an error of that batch was raised by wait(), or is lost to the one in hand
        finally:
            self.reads.close()
            self.writes.close()  # back to the pool, which rolls back anything uncommitted


def _touches(row: GoodRow, touched: set[str]) -> bool:
    return row.id in touched or any(row.contact.get(name) in touched for name in ("email", "phone"))


class _Plan(NamedTuple):
    rows: list[GoodRow]  # the batch as given, to decide again should what it was decided from change
    existing: dict[str, _Current]  # what was stored of its recipients when it was decided
    report: ImportReport  # the batch's outcome, counted once it is committed
    staged: list[tuple]  # rows of import_recipients_stage: the new recipients and the changed fields of others
    pks: dict[str, int]  # the stored recipients' pks
    choice_changes: dict[str, dict[tuple[str, str], tuple[bool | None, bool]]]
    events: list[tuple[str, dict[str, Any] | None, dict[str, Any]]]
    touched: set[str]
    changes: dict[str, ContactChange]  # the stored recipients' contact changes
    accepted: list[GoodRow]  # the rows it writes (the others are bad rows)
    releases: list[tuple[Release, str]]  # addresses it takes from unvouched holders, with the id taking each


def _plan_postgres(sql: DriverSql, rows: list[GoodRow], claimed: dict[str, str]) -> _Plan:
    """What a batch writes, decided from what is stored (the reads of the batch)."""
    report = ImportReport()
    accepted, existing, changes, releases = _decide(sql, rows, claimed, report)
    staged = []
    contact: Mapping[str, Any]
    hashes: Mapping[str, str | None]
    for row in accepted:
        current = existing.get(row.id)
        if current is None:
            contact, hashes = row.contact, row.hashes
        elif (change := changes[row.id]).after:  # NULL leaves a stored field as it is (an import never clears one)
            contact, hashes = change.after, change.hashes
        else:
            continue
        staged.append((row.line, row.id, contact.get("email"), contact.get("phone"), contact.get("locale"),
                       contact.get("time_zone"), hashes.get("email_hash"), hashes.get("phone_hash")))  # fmt: skip
    pks = {current.id: current.pk for current in existing.values()}
    # Only recipients stored before this batch can have stored choices.
    choice_changes = _choice_changes(sql, accepted, pks)
    events = _events(accepted, existing, changes, choice_changes, report)
    released = {address for change in changes.values() for name in ("email", "phone") if (address := change.before.get(name))}
    released |= {part for release, _ in releases for part in (release.address, release.holder_id)}
    # A row of the next batch taking an address this batch's recipients hold waits for this one's commit: the
    # holder may be vouched for here (as a row whose id this batch writes waits).
    released |= {address for current in existing.values() for address in (current.email, current.phone) if address}
    touched = {row.id for row in accepted} | released
    return _Plan(rows, existing, report, staged, pks, choice_changes, events, touched, changes, accepted, releases)


def _write_batch(sql: DriverSql, plan: _Plan, claimed: dict[str, str], file_name: str) -> ImportReport:
    """Lock the batch's stored recipients, decide the batch again if they changed since it was decided (or
    if a third recipient took one of its addresses meanwhile: the unique key refuses the write, and it is
    tried once more), write it and commit. Returns the batch's outcome."""
    for attempt in (1, 2):
        # One import writes at a time: two inserting the same new people in different orders would deadlock
        # on their unique keys (an import's new rows have nothing to lock beforehand).
        sql.execute(LOCK_EVENT_WRITES, (IMPORT_WRITE_LOCK,))  # the event lock's statement, a key of its own
        locked = {
            row[1]: _Current(*row) for row in sql.select_in(LOCK_IMPORT_RECIPIENTS_BY_ID_POSTGRES, [r.id for r in plan.rows])
        }
        # The choices too were read before the lock, on the reading connection: a PATCH since (it locks the
        # recipient first, as every writer does) would be overwritten (found in review: its evidence lost).
        if attempt == 2 or locked != plan.existing or _choice_changes(sql, plan.accepted, plan.pks) != plan.choice_changes:
            plan = _plan_postgres(sql, plan.rows, claimed)  # on this connection: what it reads stays locked
        try:
            _apply_postgres(sql, plan, file_name)
            return plan.report
        except (UniqueViolation, DeadlockDetected, _DecideAgain):  # another writer got there first: decide again
            sql.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class _DecideAgain(Exception):
    """What the batch was decided from changed in a way its locks could not hold back."""


def _apply_postgres(sql: DriverSql, plan: _Plan, file_name: str) -> None:
    """Write a batch and commit: its new and changed recipients and its changed choices COPYed into temporary
    staging tables, then one set-based upsert per table; the events COPYed straight into their table and their
    outbox messages made with one INSERT ... SELECT. Per-row INSERTs cost the server a statement each
    (docs/performance.md, P4)."""
    now = utcnow()
    stamp = sql.time(now)
    pks = dict(plan.pks)
    for release, taker_id in plan.releases:  # before the upsert claims the addresses
        if not release_address(sql, release, taker_id, now):  # its holder was confirmed or said something since
            raise _DecideAgain
    if plan.staged:
        sql.execute(CREATE_IMPORT_RECIPIENTS_STAGE_POSTGRES)
        sql.copy(COPY_IMPORT_RECIPIENTS_POSTGRES, plan.staged)
        upserted = dict(sql.rows(UPSERT_IMPORT_RECIPIENTS_POSTGRES, (stamp, stamp)))  # id -> pk of the new ones too
        if len(upserted) != len(plan.staged):
            # An id new when the batch was decided was made and erased since (it had no row to lock): the upsert
            # leaves the tombstone alone, and the batch is decided again (found in review).
            raise _DecideAgain
        pks.update(upserted)
        for recipient_id, change in plan.changes.items():
            email_taken(recipient_id, plan.pks[recipient_id], change, sql)
    if plan.choice_changes:
        sql.execute(CREATE_IMPORT_CHOICES_STAGE_POSTGRES)
        sql.copy(
            COPY_IMPORT_CHOICES_POSTGRES,
            [(pks[recipient_id], topic, channel, new) for recipient_id, cells in plan.choice_changes.items()
             for (topic, channel), (_old, new) in cells.items()],
        )  # fmt: skip
        sql.execute(UPSERT_IMPORT_CHOICES_POSTGRES, (False, stamp))  # no evidence of consent (SPEC §17)
    if plan.events:
        rows = [(stamp, recipient_id, "import", file_name, "import", "imported", sql.json(before), sql.json(after))
                for recipient_id, before, after in plan.events]  # fmt: skip
        serialise_event_writes(sql)
        _record_releases(sql, plan.releases, file_name)
        (last_event,) = sql.rows(LAST_EVENT_ID)[0]
        sql.copy(COPY_IMPORT_EVENTS_POSTGRES, rows)  # straight into the table: ids in file order
        _queue_messages(sql, plan.events, last_event)
    sql.commit()


def _record_releases(sql: DriverSql, releases: list[tuple[Release, str]], file_name: str) -> None:
    """The holders' events of the batch's releases (a release comes with the taker's row, so with its event)."""
    context = ChangeContext(Actor("import", file_name, "import"))
    for release, taker_id in releases:
        record_release(context, release, taker_id, sql)


def _queue_messages(sql: DriverSql, events: list[tuple[str, dict[str, Any] | None, dict[str, Any]]], last_event: int) -> None:
    """The webhook message of each event just written (those with ids above `last_event`), its type as
    services/outbox.py's webhook_type gives it (a replay gives the same): one INSERT ... SELECT, told which
    recipients' events are preference changes."""
    preference_changes = [rid for rid, before, after in events if webhook_type("imported", before, after) == "preference.updated"]
    # "" is no recipient's id: it keeps the list a list of text when no event is a preference change
    sql.execute_in(INSERT_IMPORT_OUTBOX, preference_changes or [""], (last_event,))


def _events(
    accepted: list[GoodRow],
    existing: dict[str, _Current],
    changes: dict[str, ContactChange],
    choice_changes: dict[str, dict[tuple[str, str], tuple[bool | None, bool]]],
    report: ImportReport,
) -> list[tuple[str, dict[str, Any] | None, dict[str, Any]]]:
    """(recipient id, before, after) of the `imported` event of each row that changed stored data (before
    is None for a new recipient); counts created, updated and unchanged rows."""
    events = []
    for row in accepted:
        current = existing.get(row.id)
        before: dict[str, Any] = dict(changes[row.id].before) if current else {}
        after: dict[str, Any] = dict(changes[row.id].after) if current else {"status": "active", **row.contact}
        for (topic, channel), (old, new) in choice_changes.get(row.id, {}).items():
            before[f"{topic}:{channel}"], after[f"{topic}:{channel}"] = old, new
        if current is None:
            report.created += 1
        elif after:
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        events.append((row.id, before or None, after))
    return events


def _validated_hash(row: GoodRow, kind: str, _address: str) -> str:
    """The hash of the row's address of `kind`, made by the process that validated the row."""
    return row.hashes[f"{kind}_hash"]


def _texts_opt_in(row: GoodRow) -> bool:
    return any(subscribed for (_topic, channel), subscribed in row.choices.items() if channel in KEYWORD_STOPPED)


def _number_hash(row: GoodRow, current: _Current | None) -> str | None:
    """The hash of the number the recipient will hold once the row is written."""
    return row.hashes.get("phone_hash") or (current.phone_hash if current else None)


def _stopped_numbers(sql: DriverSql, rows: list[GoodRow], existing: dict[str, _Current]) -> set[str]:
    """Which of the numbers that rows opt in to texts texted STOP (one query per batch)."""
    hashes = [digest for row in rows if _texts_opt_in(row) and (digest := _number_hash(row, existing.get(row.id)))]
    return {digest for digest, source in sql.select_in(SUPPRESSION_SOURCES, hashes) if source == SMS_STOP}


class _Current(NamedTuple):
    pk: int
    id: str
    email: str | None
    phone: str | None
    locale: str | None
    time_zone: str | None
    status: str
    phone_hash: str | None


def _without_repeated_ids(rows: list[GoodRow]) -> Iterator[list[GoodRow]]:
    """The batch cut before each row whose id an earlier row of the part already has: a batch is decided from
    what is stored before it, so the second row of a person is written after the first, as the next batch's
    would be (found in review: it was refused, and the outcome hung on where a batch ended)."""
    part: list[GoodRow] = []
    ids: set[str] = set()
    for row in rows:
        if row.id in ids:
            yield part
            part, ids = [], set()
        part.append(row)
        ids.add(row.id)
    if part:
        yield part


def _address_owners(sql: DriverSql, rows: list[GoodRow]) -> dict[str, tuple[str, bool]]:
    """address -> (the id holding it, whether that holder is unvouched: its address can be taken)."""
    owners = {}
    for name, statement in HOLDERS.items():
        values = [row.contact[name] for row in rows if name in row.contact]
        owners.update({address: (holder, bool(unvouched)) for address, holder, unvouched in sql.select_in(statement, values)})
    return owners


def _clash(
    row: GoodRow, owners: dict[str, tuple[str, bool]], claimed: dict[str, str], vouched: set[str]
) -> tuple[str | None, list[Release]]:
    """Why the row cannot have its addresses (None when it can), and those it takes from unvouched holders."""
    taken = []
    for name in ("email", "phone"):
        value = row.contact.get(name)
        if value is None:
            continue
        # Its stored holder, else the earlier row of the file that claimed it (which the file vouches for).
        holder, unvouched = owners.get(value) or (claimed.get(value), False)
        if holder is None or holder == row.id:
            continue
        if not unvouched or holder in vouched or claimed.get(value, row.id) != row.id:
            return f"{name}: already belongs to another recipient", []
        taken.append(Release(holder, name, value))
    return None, taken


def _choice_changes(
    sql: DriverSql, rows: list[GoodRow], pks: dict[str, int]
) -> dict[str, dict[tuple[str, str], tuple[bool | None, bool]]]:
    """The yes/no cells that differ from what is stored, per recipient id: {(topic, channel): (old, new)}, old
    None when nothing is stored. `pks` maps the ids of stored recipients to their pk (others have no choices)."""
    wanted = [row for row in rows if row.choices]
    if not wanted:
        return {}
    stored: dict[tuple[int, str, str], bool] = {
        (pk, topic, channel): bool(subscribed)
        for pk, topic, channel, subscribed in sql.select_in(STORED_CHOICES_OF, [pks[r.id] for r in wanted if r.id in pks])
    }
    changes: dict[str, dict[tuple[str, str], tuple[bool | None, bool]]] = {}
    for row in wanted:
        pk = pks.get(row.id)
        for (topic, channel), value in row.choices.items():
            old = None if pk is None else stored.get((pk, topic, channel))
            if old != value:
                changes.setdefault(row.id, {})[(topic, channel)] = (old, value)
    return changes
