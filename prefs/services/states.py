"""Loading what the decision rule needs about recipients: one query per chunk of up to 1,000 look-ups.

This is the hot path of every check, so it reads plain columns with SQLAlchemy Core (no ORM objects) and
lets the database say whether an address is suppressed through the stored hashes.
"""
from __future__ import annotations

from typing import Collection, Iterator

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from ..decision import RecipientState
from ..extensions import db
from ..models import Choice, Recipient, Suppression

CHUNK = 1000
LOOKUP_COLUMNS = {"recipient_id": Recipient.id, "email": Recipient.email, "phone": Recipient.phone}

_email_suppression = aliased(Suppression)
_phone_suppression = aliased(Suppression)


def _state_query(lookup_column):
    return (
        select(
            lookup_column,
            Recipient.pk,
            Recipient.id,
            Recipient.status,
            Recipient.email.is_not(None),
            Recipient.phone.is_not(None),
            Recipient.postal_address.is_not(None),
            Recipient.sms_stopped_at.is_not(None),
            _email_suppression.hash.is_not(None),
            _phone_suppression.hash.is_not(None),
            Choice.topic,
            Choice.channel,
            Choice.subscribed,
        )
        .select_from(Recipient)
        .outerjoin(_email_suppression, _email_suppression.hash == Recipient.email_hash)
        .outerjoin(_phone_suppression, _phone_suppression.hash == Recipient.phone_hash)
        .outerjoin(Choice, Choice.recipient_pk == Recipient.pk)
        .where(lookup_column.in_(bindparam("keys", expanding=True)))
    )


# Built once: SQLAlchemy caches the compiled form by statement, so the hot path only binds values.
_QUERIES = {by: _state_query(column) for by, column in LOOKUP_COLUMNS.items()}


def _address_channels() -> dict[tuple[bool, bool, bool], frozenset[str]]:
    table = {}
    for email in (False, True):
        for phone in (False, True):
            for post in (False, True):
                table[(email, phone, post)] = frozenset(
                    (["email"] if email else []) + (["sms", "phone"] if phone else []) + (["post"] if post else [])
                )
    return table


_CHANNELS_WITH_ADDRESS = _address_channels()
_SUPPRESSED = {
    (False, False): frozenset(),
    (True, False): frozenset({"email"}),
    (False, True): frozenset({"sms", "phone"}),
    (True, True): frozenset({"email", "sms", "phone"}),
}


def load_states(by: str, keys: Collection[str]) -> dict[str, RecipientState]:
    """States of the recipients whose `by` (recipient_id, email or phone) is among `keys`, keyed by it."""
    states: dict[str, RecipientState] = {}
    query = _QUERIES[by]
    for chunk in _chunks(list(keys)):
        rows: dict[str, list] = {}
        for row in db.session.execute(query, {"keys": chunk}):
            rows.setdefault(row[0], []).append(row)
        for key, group in rows.items():
            first = group[0]
            choices = {(r[10], r[11]): r[12] for r in group if r[10] is not None}
            states[key] = RecipientState(
                id=first[2],
                status=first[3],
                channels_with_address=_CHANNELS_WITH_ADDRESS[(first[4], first[5], first[6])],
                sms_stopped=bool(first[7]),
                suppressed_channels=_SUPPRESSED[(first[8], first[9])],
                choices=choices,
            )
    return states


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
