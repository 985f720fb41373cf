"""The suppression list: keyed hashes of addresses that must get no marketing.

Who may lift one is decided here and nowhere else: the person's own opt-in lifts any suppression but one
of source `sms_stop`, which is the number's SMS stop and yields only to START texted from that number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import PrefsError
from ..extensions import db
from ..models import Suppression, utcnow
from ..suppression import AddressHasher
from .admin_events import record_admin_event
from .insights import suppression_added
from .outbox import enqueue
from .provider_sync import address_lifted, address_suppressed

SMS_STOP = "sms_stop"  # the source that marks a number's SMS stop
SMS_STOP_MESSAGE = "This number texted STOP; only a START text from it lifts that."
SUPPRESSION_TARGET_LENGTH = 16  # admin events name a suppression by this much of its hash, never the address


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def suppress(address_hash: AddressHasher, kind: str, normalised_address: str, source: str) -> bool:
    """Add the address (a no-op when it is there already: the first source stays); returns whether it was new."""
    digest = address_hash(kind, normalised_address)
    added = db.session.execute(
        _insert()(Suppression)
        .values(hash=digest, kind=kind, source=source)
        .on_conflict_do_nothing(index_elements=["hash"])
        .returning(Suppression.hash)
    ).first()
    if added is not None:
        announce("suppression.added", digest, kind, source)
        if kind == "email":
            address_suppressed(normalised_address, digest)  # onto the mail providers' lists too
    return added is not None


def suppress_imported(
    address_hash: AddressHasher, addresses: Iterable[tuple[str, str]], source: str, file_name: str, operator: str
) -> int:
    """A batch of a suppression list file, (kind, normalised address) each, and the admin event that says who
    imported which file and how many of its addresses were new to the list (never the addresses). Returns that."""
    added = sum(suppress(address_hash, kind, address, source) for kind, address in addresses)
    record_admin_event("cli", operator, "suppressions.imported", file_name[:128], {"source": source, "added": added})
    return added


def announce(type_: str, digest: str, kind: str, source: str | None) -> None:
    """Tell webhooks (services/outbox.py) that an address was added to or removed from the list: its keyed
    hash and kind, never the address."""
    enqueue(type_, f"suppression:{digest[:32]}", {"hash": digest, "kind": kind, "source": source})
    if type_ == "suppression.added":  # every address added to the list passes here: the insights count it
        suppression_added(source or "")


def stop_number(address_hash: AddressHasher, phone: str) -> bool:
    """Record the SMS stop of a number (E.164), replacing any other suppression of it, whose source the
    stop outranks. Returns False when the number had texted STOP already."""
    digest = address_hash("phone", phone)
    before = suppression_sources([digest]).get(digest, (None,))[0]
    if before == SMS_STOP:
        return False
    statement = _insert()(Suppression).values(hash=digest, kind="phone", source=SMS_STOP, created_at=utcnow())
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["hash"], set_={"source": SMS_STOP, "created_at": statement.excluded.created_at}
        )
    )
    if before is None:
        announce("suppression.added", digest, "phone", SMS_STOP)
    return True


def suppression_sources(hashes: Iterable[str]) -> dict[str, tuple[str, datetime]]:
    """hash -> (source, created_at) of those of `hashes` that are suppressed."""
    wanted = [digest for digest in hashes if digest]
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Suppression.hash, Suppression.source, Suppression.created_at).where(Suppression.hash.in_(wanted))
    )
    return {digest: (source, created_at) for digest, source, created_at in rows}


def liftable_by_consent(source: str) -> bool:
    """Whether the person's consent (an opt-in with evidence, by API, page or staff) may lift a suppression
    of this source: every source but a number's SMS stop, which only START from that number lifts."""
    return source != SMS_STOP


def lift_by_consent(hashes: Iterable[str]) -> set[str]:
    """The person's opt-in lifts these suppressions; returns the ones that were there.

    Raises PrefsError(sms_stop), lifting nothing, when one is a number's SMS stop.
    """
    present = suppression_sources(hashes)
    if not all(liftable_by_consent(source) for source, _ in present.values()):
        raise PrefsError("sms_stop", SMS_STOP_MESSAGE)
    if present:
        db.session.execute(delete(Suppression).where(Suppression.hash.in_(list(present))))
    return set(present)


def lift_by_start(address_hash: AddressHasher, phone: str) -> str | None:
    """START texted from `phone`: the one thing that lifts its SMS stop, and the person's own opt-in, so it
    lifts a suppression of any other source too. Returns the source that was lifted, or None."""
    digest = address_hash("phone", phone)
    source = suppression_sources([digest]).get(digest, (None,))[0]
    if source is not None:
        db.session.execute(delete(Suppression).where(Suppression.hash == digest))
    return source


def lift_address_suppression(
    kind: str, address: str, digest: str, evidence: Mapping[str, str], reason: str, staff_email: str
) -> bool:
    """Staff lift the suppression of an address (normalised; `digest` its hash) no recipient holds, with the
    person's consent evidence, and an admin event records it (the hash's prefix, never the address). The mail
    providers' lists follow, as they do an opt-in's lift. Returns whether one was lifted.

    Raises PrefsError(sms_stop) for a number that texted STOP: carriers require that only START lifts that.
    """
    if not lift_by_consent([digest]):
        return False
    details = {"kind": kind, **evidence, "reason": reason}
    record_admin_event("staff", staff_email, "suppression.lifted", digest[:SUPPRESSION_TARGET_LENGTH], details)
    announce("suppression.removed", digest, kind, None)
    if kind == "email":
        address_lifted(address, digest)
    return True
