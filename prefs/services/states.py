"""Loading what the decision rule needs about recipients: one query per chunk of up to 1,000 look-ups.

This is the hot path of every check. It runs one joined query (recipient, its choices, and whether its
stored address hashes are suppressed, the number's SMS stop being a suppression of source `sms_stop`) straight on the driver's cursor (db/driver.py):
SQLAlchemy's row processing cost more than the query itself on a 10,000-item batch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from functools import lru_cache

from ..db.driver import DriverSql
from ..decision import RecipientState

CHUNK = 1000
LOOKUP_COLUMNS = {"recipient_id": "id", "email": "email", "phone": "phone"}

STATE_SQL = """
SELECT r.{column}, r.id, r.status, r.email IS NOT NULL, r.phone IS NOT NULL, r.postal_address IS NOT NULL,
       sp.source = 'sms_stop', se.hash IS NOT NULL, sp.hash IS NOT NULL, c.topic, c.channel, c.subscribed, r.pk
FROM recipients r
LEFT JOIN suppressions se ON se.hash = r.email_hash
LEFT JOIN suppressions sp ON sp.hash = r.phone_hash
LEFT JOIN choices c ON c.recipient_pk = r.pk
WHERE r.{column} IN ({placeholders})
"""


@lru_cache(maxsize=64)
def state_sql(by: str, count: int, placeholder: str) -> str:
    """The query for `count` keys; `by` is one of LOOKUP_COLUMNS, never client text."""
    placeholders = ", ".join([placeholder] * count)
    return STATE_SQL.format(column=LOOKUP_COLUMNS[by], placeholders=placeholders)  # noqa: S608  (no client text)


def _address_channels() -> dict[tuple[bool, bool, bool], frozenset[str]]:
    table = {}
    for email in (False, True):
        for phone in (False, True):
            for post in (False, True):
                table[(email, phone, post)] = frozenset(
                    (["email"] if email else []) + (["sms", "phone"] if phone else []) + (["post"] if post else [])
                )
    return table


# Shared frozensets, looked up by the row's flags (SQLite answers 0/1, which hash like False/True).
_CHANNELS_WITH_ADDRESS = _address_channels()
_SUPPRESSED = {
    (False, False): frozenset(),
    (True, False): frozenset({"email"}),
    (False, True): frozenset({"sms", "phone"}),
    (True, True): frozenset({"email", "sms", "phone"}),
}


def load_states(by: str, keys: Collection[str], sql: DriverSql | None = None) -> dict[str, RecipientState]:
    """States of the recipients whose `by` (recipient_id, email or phone) is among `keys`, keyed by it.

    By default in the session's transaction, so a change just made is seen; the check passes its own
    standalone connection.
    """
    states: dict[str, RecipientState] = {}
    own = sql is None
    sql = sql or DriverSql()
    placeholder = "%s" if sql.postgres else "?"
    cursor = sql.cursor
    try:
        for chunk in _chunks(list(keys)):
            cursor.execute(state_sql(by, len(chunk), placeholder), chunk)
            found: dict[str, tuple] = {}  # key -> (first row, its choices), in one pass over the rows
            for row in cursor.fetchall():
                entry = found.get(row[0])
                if entry is None:
                    entry = found[row[0]] = (row, {})
                if row[9] is not None:
                    entry[1][(row[9], row[10])] = bool(row[11])
            for key, (first, choices) in found.items():
                states[key] = RecipientState(
                    first[1],
                    first[2],
                    _CHANNELS_WITH_ADDRESS[(first[3], first[4], first[5])],
                    bool(first[6]),
                    _SUPPRESSED[(first[7], first[8])],
                    choices,
                    first[12],
                )
    finally:
        if own:
            sql.close()
    return states


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
