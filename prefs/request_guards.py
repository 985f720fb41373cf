"""Checks every request gets before any view: text the databases cannot store is refused up front."""
from __future__ import annotations

from flask import Flask, abort, request

from .errors import PrefsError

# PostgreSQL text cannot hold NUL; SQLite would store it and hand it back to other systems unchanged.
_NUL = (b"\x00", b"\\u0000", b"%00")


def refuse_nul_characters() -> None:
    """422 `invalid` on the API, 400 elsewhere, for a NUL character in the body or the query string."""
    carriers = (request.get_data(cache=True), request.query_string)
    if any(marker in carrier.lower() for carrier in carriers for marker in _NUL):
        if request.path.startswith("/api/"):
            raise PrefsError("invalid", "Text may not contain NUL characters.", {"_schema": ["NUL character."]})
        abort(400)


def register_request_guards(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
