"""Checks every request gets before any view: text the databases cannot store is refused up front, and a
body too deeply nested to parse is a client error, not a crash."""

from __future__ import annotations

import re

from flask import Flask, abort, request
from flask.globals import request_ctx

from .errors import PrefsError
from .storable_text import NUL, SURROGATE

# PostgreSQL text cannot hold NUL; SQLite would store it and hand it back to other systems unchanged. Each
# carrier is searched for the spellings that decode to NUL there, and only those: "%00" is a NUL in a query
# string or a form, but plain text in JSON (a mail provider's event quoting a URL or a user agent); "\u0000"
# is a NUL in JSON unless its backslash is itself escaped ("\\u0000" is text).
_NUL_BYTE, _PERCENT_NUL = b"\x00", b"%00"
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# A JSON escape of half a UTF-16 surrogate pair decodes to a string no database or UTF-8 encoder accepts.
_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(rb"%s(?!%s)|(?<!%s)%s" % (_HIGH, _LOW, _HIGH, _LOW))
# The batch check answers a malformed item in its place (SPEC §4), so its JSON is read first and each string
# judged where it stands (api/schemas.py LeanSchema, storable_text.py).
BATCH_PATH = "/api/v1/check/batch"


def refuse(message: str) -> None:
    """422 `invalid` on the API, 400 `bad_request` in the same JSON shape on the webhooks (machines read both),
    the friendly 400 page elsewhere."""
    if request.path.startswith("/api/"):
        raise PrefsError("invalid", message, {"_schema": [message]})
    if request.path.startswith("/webhooks/"):
        raise PrefsError("bad_request", message)
    abort(400)


def refuse_unstorable_text() -> None:
    environ = request_ctx.request.environ
    if (
        not environ.get("QUERY_STRING")
        and environ.get("CONTENT_LENGTH", "0") in ("", "0")
        and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return  # nothing to read: no query string, no body (most GETs); a chunked body has no length and is read below
    body, query = request.get_data(cache=True), request.query_string
    if _NUL_BYTE in body or _NUL_BYTE in query or _PERCENT_NUL in query:
        refuse(NUL)
    if request.mimetype == "application/x-www-form-urlencoded":
        if _PERCENT_NUL in body:
            refuse(NUL)
        return
    if request.path == BATCH_PATH:
        return  # JSON escapes decode to text the batch reads item by item (storable_text.py)
    if b"\\u0000" in body and _ESCAPED_NUL.search(body) is not None:
        refuse(NUL)
    if b"\\u" in body and _LONE_SURROGATE.search(body):
        refuse(SURROGATE)


def too_deeply_nested(_error: RecursionError):
    return PrefsError("bad_request", "The body is nested too deeply to read.").to_dict(), 400


def register_request_guards(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)
    app.register_error_handler(RecursionError, too_deeply_nested)
