"""Checks every request gets before any view: text the databases cannot store is refused up front, and a
body too deeply nested to parse is a client error, not a crash."""

from __future__ import annotations

import re

from flask import Flask, abort, request
from flask.globals import request_ctx

from .errors import PrefsError

# PostgreSQL text cannot hold NUL; SQLite would store it and hand it back to other systems unchanged.
_NUL = (b"\x00", b"\\u0000", b"%00")
# A JSON escape of half a UTF-16 surrogate pair decodes to a string no database or UTF-8 encoder accepts.
_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(rb"%s(?!%s)|(?<!%s)%s" % (_HIGH, _LOW, _HIGH, _LOW))


def refuse(message: str) -> None:
    """422 `invalid` on the API, 400 elsewhere."""
    if request.path.startswith("/api/"):
        raise PrefsError("invalid", message, {"_schema": [message]})
    abort(400)


def refuse_unstorable_text() -> None:
    environ = request_ctx.request.environ
    if (
        not environ.get("QUERY_STRING")
        and environ.get("CONTENT_LENGTH", "0") in ("", "0")
        and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return  # nothing to read: no query string, no body (most GETs); a chunked body has no length and is read below
    body = request.get_data(cache=True)
    if any(marker in carrier.lower() for carrier in (body, request.query_string) for marker in _NUL):
        refuse("Text may not contain NUL characters.")
    if b"\\u" in body and _LONE_SURROGATE.search(body):
        refuse("Text may not contain half of a UTF-16 surrogate pair.")


def too_deeply_nested(_error: RecursionError):
    return PrefsError("bad_request", "The body is nested too deeply to read.").to_dict(), 400


def register_request_guards(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)
    app.register_error_handler(RecursionError, too_deeply_nested)
