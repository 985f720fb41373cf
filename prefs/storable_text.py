"""Text no database here stores: a NUL (PostgreSQL's text cannot hold it; SQLite would store it and hand it back
to other systems unchanged) or half of a UTF-16 surrogate pair (no UTF-8 encoder takes it). Every request is
searched for both before any view reads it (request_guards.py); a batch check's items are read one by one
instead (SPEC §4: a malformed item is answered `invalid`, the others still answered)."""

from __future__ import annotations

NUL = "Text may not contain NUL characters."
SURROGATE = "Text may not contain half of a UTF-16 surrogate pair."


def problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None
