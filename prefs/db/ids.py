"""Ids as the database holds them. A path's `<int:…>` may be any size; an integer column may not, and comparing
with a larger number is an error (SQLite: OverflowError, PostgreSQL: out of range), not "no such row"."""

from __future__ import annotations

INT_ID_MAX = 2**31 - 1  # an INTEGER primary key on both databases


def fits_int_id(value: int) -> bool:
    return 0 < value <= INT_ID_MAX
