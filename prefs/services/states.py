"""Loading what the decision rule needs about recipients: one query per chunk of up to 1,000 look-ups.

This is the hot path of every check. It runs one joined query (recipient, its choices, whether its stored
address hashes are suppressed, the number's SMS stop being a suppression of source `sms_stop`, and the
facts of SPEC §17: time zone, do-not-call list, and whether a provider reported the email address dead,
SPEC §15) straight on the driver's cursor (db/driver.py):
SQLAlchemy's row processing cost more than the query itself on a 10,000-item batch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date
from functools import lru_cache
from itertools import product

from ..channels import channels_reaching
from ..db.driver import DriverSql
from ..db.statements import STATE_BY_KEYS
from ..decision import RecipientState

CHUNK = 1000
LOOKUP_COLUMNS = {"recipient_id": "id", "email": "email", "phone": "phone"}


@lru_cache(maxsize=64)
def state_sql(by: str, count: int, placeholder: str) -> str:
    """The query for `count` keys; `by` is one of LOOKUP_COLUMNS, never client text."""
    placeholders = ", ".join([placeholder] * count)
    return STATE_BY_KEYS.format(column=LOOKUP_COLUMNS[by], placeholders=placeholders)  # noqa: S608  (no client text)


# The address columns whose presence, and the suppressible ones whose suppression, STATE_BY_KEYS reads,
# in the order of its columns.
_HELD = ("email", "phone", "postal_address")
_SUPPRESSED_HELD = ("email", "phone")


def _channels_by_flags(fields: tuple[str, ...]) -> dict[tuple[bool, ...], frozenset[str]]:
    """For each combination of flags over `fields`, the channels those addresses reach (channels.py)."""
    return {
        flags: frozenset(channel for field, on in zip(fields, flags, strict=True) if on for channel in channels_reaching(field))
        for flags in product((False, True), repeat=len(fields))
    }


# Shared frozensets, looked up by the row's flags (SQLite answers 0/1, which hash like False/True).
_CHANNELS_WITH_ADDRESS = _channels_by_flags(_HELD)
_SUPPRESSED = _channels_by_flags(_SUPPRESSED_HELD)
_UNDELIVERABLE = channels_reaching("email")  # what a dead email address takes out (rule 6a)
_NO_CHANNELS: frozenset[str] = frozenset()


def load_states(by: str, keys: Collection[str], sql: DriverSql | None = None) -> dict[str, RecipientState]:
    """States of the recipients whose `by` (recipient_id, email or phone) is among `keys`, keyed by it.

    By default in the session's transaction, so a change just made is seen; the check passes its own
    standalone connection. The same one query also brings what SPEC §17 needs: the stored time zone and
    the number (for the zones it implies), whether the number is on the do-not-call list in force and
    that list's as-of date, and which opt-ins were stored with evidence (choices.with_evidence).
    """
    states: dict[str, RecipientState] = {}
    own = sql is None
    sql = sql or DriverSql()
    placeholder = "%s" if sql.postgres else "?"
    try:
        for chunk in _chunks(list(keys)):
            found: dict[str, tuple] = {}  # key -> (first row, its choices), in one pass over the rows
            evidenced: dict[str, list[tuple[str, str]]] = {}  # key -> opt-ins stored with evidence (few have any)
            for row in sql.fetch(state_sql(by, len(chunk), placeholder), chunk):
                entry = found.get(row[0])
                if entry is None:
                    entry = found[row[0]] = (row, {})
                if row[9] is not None:
                    entry[1][(row[9], row[10])] = bool(row[11])
                    if row[17] and row[11]:
                        evidenced.setdefault(row[0], []).append((row[9], row[10]))
            as_of = _as_date(next(iter(found.values()))[0][16]) if found else None  # one list in force for every row
            for key, (first, choices) in found.items():
                opted_in = evidenced.get(key)
                states[key] = RecipientState(
                    first[1],
                    first[2],
                    _CHANNELS_WITH_ADDRESS[(first[3], first[4], first[5])],
                    bool(first[6]),
                    _SUPPRESSED[(first[7], first[8])],
                    choices,
                    first[12],
                    first[13],
                    first[14],
                    bool(first[15]),
                    as_of,
                    frozenset(opted_in) if opted_in else _NONE,
                    _UNDELIVERABLE if first[18] else _NO_CHANNELS,
                    bool(first[19]),
                )
    finally:
        if own:
            sql.close()
    return states


_NONE: frozenset[tuple[str, str]] = frozenset()


def _as_date(value: date | str | None) -> date | None:
    """A DATE column: a date from psycopg, ISO text from sqlite3."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def recipient_state(recipient_id: str) -> RecipientState:
    """The state of one recipient known to exist (a page drawing their form), in the session's transaction."""
    return load_states("recipient_id", [recipient_id])[recipient_id]


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
