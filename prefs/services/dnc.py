"""The national do-not-call list (SPEC §17): millions of numbers, kept as the keyed hashes suppressions use.

A load never edits the list in force. Its numbers go in under a generation of their own (a row of
`dnc_lists`, not yet loaded), in batches the caller commits one by one, while checks keep reading the list
in force; `finish_load` then sets the row's `loaded_at` in one small transaction, and from that commit on
the newest loaded generation is the one every check joins (db/statements.py STATE_BY_KEYS). The
superseded generations, and what a load that died left behind, are deleted afterwards a batch at a time.
Loads that overlap leave the newest-started one in force and nothing half-loaded.

A line is a number as the list publishes it: E.164 (+12125550123), or national digits in the default region
(the US list's ten digits, 2125550123). Like the check's look-ups, a number only needs the shape of one:
a number nobody can hold matches no recipient, so validating each of millions would buy nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import phonenumbers

from ..addresses import E164_RE, canonical_e164, normalize_phone
from ..db.driver import DriverSql
from ..db.statements import (
    COUNT_DNC_NUMBERS,
    DELETE_DNC_LIST,
    DELETE_DNC_NUMBERS,
    DELETE_DNC_NUMBERS_BETWEEN,
    DNC_LIST_IN_FORCE,
    DNC_LIST_LOADED,
    INSERT_DNC_LIST,
    INSERT_DNC_NUMBERS_POSTGRES,
    INSERT_DNC_NUMBERS_SQLITE,
    SUPERSEDED_DNC_GENERATIONS,
)
from ..decision import DNC_MAX_AGE_DAYS
from ..errors import PrefsError
from ..models import utcnow
from ..suppression import AddressHasher
from .admin_events import record_admin_event

# A generation not in force is deleted a 256th of the hash space (hex digests: "00" to "ff") a transaction.
HASH_RANGES = [(f"{n:02x}", f"{n + 1:02x}" if n < 255 else "g") for n in range(256)]
# The North American Numbering Plan's ten digits: area code and exchange each start with 2-9.
_NANP_DIGITS = re.compile(r"[2-9][0-9]{2}[2-9][0-9]{6}")


@dataclass(frozen=True, slots=True)
class DncList:
    """The list in force, as the console shows it."""

    as_of: date
    loaded_at: datetime
    numbers: int
    file_name: str

    def age_days(self, today: date) -> int:
        return (today - self.as_of).days

    def stale_on(self, today: date) -> bool:
        """Whether marketing calls and texts answer dnc_list_stale on `today` (SPEC §17)."""
        return self.age_days(today) > DNC_MAX_AGE_DAYS


def dnc_number(text: str, region: str) -> str:
    """The E.164 form of one line's number (already stripped). Raises PrefsError(invalid)."""
    if E164_RE.fullmatch(text):
        return canonical_e164(text)  # as a check's look-up spells it (a trunk prefix after the country code goes)
    if text.isdigit() and _calling_code(region) == 1:  # the fast path for the US list's ten digits
        if len(text) == 10 and _NANP_DIGITS.fullmatch(text):
            return "+1" + text
        if len(text) == 11 and text[0] == "1" and _NANP_DIGITS.fullmatch(text, 1):
            return "+" + text
    return normalize_phone(text, region, "number")


@cache
def _calling_code(region: str) -> int:
    return phonenumbers.country_code_for_region(region)


def begin_load(as_of: date, file_name: str) -> int:
    """Start a load: its list row, not in force yet. Returns its generation."""
    sql = DriverSql()
    day = as_of if sql.postgres else as_of.isoformat()  # SQLite keeps a DATE as ISO text
    return int(sql.rows(INSERT_DNC_LIST, (day, file_name[:255], sql.time(utcnow())))[0][0])


def add_numbers(address_hash: AddressHasher, generation: int, numbers: list[str]) -> None:
    """Store a batch of E.164 numbers under the load's generation, as the keyed hashes the recipients'
    phone_hash and the suppressions hold (a number given twice is stored once)."""
    if not numbers:
        return
    hashes = sorted(address_hash("phone", number) for number in numbers)  # in key order: fewer pages touched per batch
    sql = DriverSql()
    if sql.postgres:
        sql.execute(INSERT_DNC_NUMBERS_POSTGRES, (generation, hashes))
    else:
        sql.execute(INSERT_DNC_NUMBERS_SQLITE, (generation, sql.json(hashes)))


def finish_load(generation: int, bad_lines: int, operator: str) -> int:
    """Put the load's list in force (the commit that follows is the switch). Returns the distinct numbers it holds.

    Raises PrefsError(invalid) when it holds none: an empty or wrong file must not replace the list in force.
    """
    sql = DriverSql()
    (numbers,) = sql.rows(COUNT_DNC_NUMBERS, (generation,))[0]
    if not numbers:
        raise PrefsError("invalid", "The file holds no number: the list in force stays.")
    sql.execute(DNC_LIST_LOADED, (numbers, bad_lines, sql.time(utcnow()), generation))
    record_admin_event(
        "cli", operator, "dnc_list.loaded", f"generation {generation}", {"numbers": numbers, "bad_lines": bad_lines}
    )
    return int(numbers)


def superseded_generations() -> list[int]:
    """The generations below the list in force: superseded lists and loads that died before finishing."""
    return [generation for (generation,) in DriverSql().rows(SUPERSEDED_DNC_GENERATIONS)]


def delete_numbers_between(generation: int, lower: str, upper: str) -> None:
    """Delete the numbers of a generation not in force whose hashes fall in [lower, upper) (see HASH_RANGES)."""
    DriverSql().execute(DELETE_DNC_NUMBERS_BETWEEN, (generation, lower, upper))


def delete_generation(generation: int) -> None:
    """Delete what is left of a generation not in force (nothing, after every range) and its row."""
    sql = DriverSql()
    sql.execute(DELETE_DNC_NUMBERS, (generation,))
    sql.execute(DELETE_DNC_LIST, (generation,))


def list_in_force() -> DncList | None:
    sql = DriverSql()
    rows = sql.rows(DNC_LIST_IN_FORCE)
    if not rows:
        return None
    as_of, loaded_at, numbers, file_name = rows[0]
    return DncList(
        as_of if isinstance(as_of, date) else date.fromisoformat(as_of), sql.read_time(loaded_at) or utcnow(), numbers, file_name
    )
