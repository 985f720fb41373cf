"""Checks every request gets before any view: text the databases cannot store is refused up front, and a
body too deeply nested to parse is a client error, not a crash."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, abort, request
from flask.globals import request_ctx

from .errors import PrefsError
from .storable_text import NUL, SURROGATE, problem

# PostgreSQL text cannot hold NUL; SQLite would store it and hand it back to other systems unchanged. Each
# carrier is searched for the spellings that decode to NUL there, and only those: "%00" is a NUL in a query
# string or a form, but plain text in JSON (a mail provider's event quoting a URL or a user agent); "\u0000"
# is a NUL in JSON unless its backslash is itself escaped ("\\u0000" is text).
_NUL_BYTE, _PERCENT_NUL = b"\x00", b"%00"
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Half a UTF-16 surrogate pair is text no database or UTF-8 encoder accepts. JSON decodes one from an escape
# (`\ud800`, which an escaped backslash before it makes plain text again) and from raw bytes of the form
# ED A0..BF xx (Python's JSON reader decodes bytes with `surrogatepass`). Either spelling is a cheap hint;
# only the decoded text says whether a lone half is there (_holds_surrogate).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_SURROGATE = b"\xed"
# The batch check answers a malformed item in its place (SPEC §4), so its JSON is read first and each string
# judged where it stands (api/schemas.py LeanSchema, storable_text.py).
BATCH_PATH = "/api/v1/check/batch"
# A mail provider's body quotes other people's text (a remote server's bounce reason, a reader's user agent),
# where an escaped NUL is no reason to refuse the events beside it: the provider would retry the whole batch,
# failing, and drop its unsubscribes. What prefs keeps of an event is judged where it is stored
# (services/provider_events.py). Half a surrogate pair stays refused: the SNS signature check encodes the text.
PROVIDER_EVENTS_PATH = "/webhooks/providers/"


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
    if b"\\u0000" in body and _ESCAPED_NUL.search(body) is not None and not request.path.startswith(PROVIDER_EVENTS_PATH):
        refuse(NUL)
    if (_ENCODED_SURROGATE in body or (b"\\u" in body and _SURROGATE_ESCAPE.search(body))) and _holds_surrogate(body):
        refuse(SURROGATE)


def _holds_surrogate(body: bytes) -> bool:
    """Whether `body` read as its view reads it holds half a surrogate pair: as JSON (every key and string),
    or else as UTF-8 text (a view that reads it as anything else refuses it)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError): read as text
        try:
            return problem(body.decode("utf-8", "surrogatepass")) == SURROGATE
        except UnicodeDecodeError:
            return False
    return any(problem(text) == SURROGATE for text in _strings(document))


def _strings(document: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included, without recursion (the document may be deep)."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from value.keys()
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def too_deeply_nested(_error: RecursionError):
    return PrefsError("bad_request", "The body is nested too deeply to read.").to_dict(), 400


def register_request_guards(app: Flask) -> None:
    app.before_request(refuse_unstorable_text)
    app.register_error_handler(RecursionError, too_deeply_nested)
