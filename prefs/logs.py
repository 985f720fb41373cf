"""What prefs itself writes to its logs about a failed request: the route, never the URL; an error's first
line, never what follows it.

A URL carries a recipient's token (/u/<token> is a working unsubscribe link) or an address in its query
string (/api/v1/recipients?email=…); a database error's later lines carry values (PostgreSQL's
`DETAIL:  Key (email)=(…)`, SQLAlchemy's statement parameters, hidden too by `hide_parameters`). gunicorn's
own access and error logs are redacted in gunicorn.conf.py.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

from flask import Flask, request

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


def describe_error(error: BaseException) -> str:
    """`module.Type: first line of the message`, for errors whose further lines may hold data."""
    first_line = next(iter(str(error).splitlines()), "")
    return f"{type(error).__module__}.{type(error).__qualname__}: {first_line}"


def route_of_request() -> str:
    """`GET /u/<token>`: the method and the matched rule, `?` when no rule matched."""
    return f"{request.method} {request.url_rule.rule if request.url_rule else '?'}"


def scrubbed_traceback(error: BaseException) -> str:
    """The frames of `error` and of what caused it, each error described by its first line only."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append("".join(traceback.format_tb(current.__traceback__)) + describe_error(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n-- caused by --\n".join(reversed(parts))


class PrefsFlask(Flask):
    def log_exception(self, exc_info: ExcInfo) -> None:
        """An unhandled error (a 500): Flask's own line names the URL, this one the route."""
        error = exc_info[1]
        if error is None:
            return
        self.logger.error(
            "unhandled error on %s\nTraceback (most recent call last):\n%s", route_of_request(), scrubbed_traceback(error)
        )
