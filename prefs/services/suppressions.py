"""The suppression list: keyed hashes of addresses that must get no marketing."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Suppression
from ..runtime import runtime


def suppress(kind: str, normalised_address: str, source: str) -> str:
    """Add the address (a no-op when it is there already); returns its hash."""
    digest = runtime().address_hash(kind, normalised_address)
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(Suppression).values(hash=digest, kind=kind, source=source).on_conflict_do_nothing(index_elements=["hash"])
    )
    return digest


def suppressed_hashes(hashes: Iterable[str]) -> set[str]:
    wanted = list(hashes)
    if not wanted:
        return set()
    return set(db.session.execute(select(Suppression.hash).where(Suppression.hash.in_(wanted))).scalars())


def lift(hashes: Iterable[str]) -> set[str]:
    """Remove these hashes; returns the ones that were there."""
    present = suppressed_hashes(hashes)
    if present:
        db.session.execute(delete(Suppression).where(Suppression.hash.in_(present)))
    return present
