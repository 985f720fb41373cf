"""What prefs writes to its logs, and how: the route, never the URL; an error's first line, never what follows
it; with PREFS_LOG_FORMAT=json, one JSON object a line, each carrying the request's id.

A URL carries a recipient's token (/u/<token> is a working unsubscribe link) or an address in its query
string (/api/v1/recipients?email=…); a database error's later lines carry values (PostgreSQL's
`DETAIL:  Key (email)=(…)`, SQLAlchemy's statement parameters, hidden too by `hide_parameters`). The servers'
own request lines (gunicorn's access and error logs, werkzeug's) are redacted by prefs/log_redaction.py.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.globals import request_ctx
from pythonjsonlogger.json import JsonFormatter

from .log_redaction import redact_werkzeug_request_lines
from .metrics import method_label, observe_request

log = logging.getLogger(__name__)
request_log = logging.getLogger("prefs.request")

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the same header, as the WSGI environ names it
# A caller's id is kept when it looks like one (a UUID, a trace id, `req-…`); anything else, including an
# address someone put there, is replaced: the id is written into every log line of the request.
_CALLERS_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

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


def request_id_for(given: str | None) -> str:
    """The caller's X-Request-Id when it is a plain token of at most 128 characters, else a new one: 32 hex
    digits, a random half per process and a counter (unique without a system call per request)."""
    if given and _CALLERS_REQUEST_ID.fullmatch(given):
        return given
    return f"{_ids.prefix}{next(_ids.counter):016x}"


class _RequestIds:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count()


_ids = _RequestIds()
os.register_at_fork(after_in_child=_ids.reset)  # a forked worker must not repeat its parent's ids


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged while a request is handled (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


def json_formatter() -> JsonFormatter:
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, pid, and a record's
    `extra` fields."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s %(process)d",
        rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
        timestamp="time",
        json_ensure_ascii=False,
    )


_HANDLER_MARK = "_prefs_json_handler"


def configure_logging(log_format: str) -> None:
    """`json`: the root logger writes JSON lines at INFO to stderr (once per process, however many apps are
    made), Flask's and werkzeug's loggers through it; the app's `request` lines (PrefsFlask below) replace
    werkzeug's. `text` leaves logging as Python and the server set it, but for werkzeug's request lines
    (`flask serve`), which are redacted as gunicorn's are: their URLs hold link tokens and searched addresses."""
    redact_werkzeug_request_lines()
    if log_format != "json":
        return
    root = logging.getLogger()
    if any(getattr(handler, _HANDLER_MARK, False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


_MAX_KEPT_HOOKS = 4096


class PrefsFlask(Flask):
    _sync: dict[Callable[..., Any], Callable[..., Any]]

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks, for every hook and view of every request, whether it is a coroutine function (a
        tenth of the cost of the API's cheapest answer); the answer never changes, so it is kept."""
        try:
            return self._sync[func]
        except AttributeError:
            self._sync = {}
        except (KeyError, TypeError):  # TypeError: an unhashable callable, asked each time
            pass
        answer = super().ensure_sync(func)
        if len(self._sync) < _MAX_KEPT_HOOKS:  # bounded: an after_this_request closure is new on every request
            try:
                self._sync[func] = answer
            except TypeError:
                pass
        return answer

    def full_dispatch_request(self) -> Response:
        """Every request: its id (the caller's X-Request-Id or a new one, echoed in the response), its time
        and status in the metrics, and with JSON logs one `request` line. Errors no handler answers (a 500)
        are counted and logged here, then go on to Flask, which logs them with log_exception below."""
        started = time.perf_counter()
        current = request_ctx.request  # the request itself: each use of the `request` proxy costs a look-up
        g.request_id = request_id = request_id_for(current.environ.get(REQUEST_ID_ENVIRON))
        status = 500
        try:
            response = super().full_dispatch_request()
            status = response.status_code
            response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            seconds = time.perf_counter() - started
            rule = current.url_rule
            route = rule.rule if rule is not None else None
            observe_request(current.method, route, status, seconds)
            if self.config["PREFS_LOG_FORMAT"] == "json":
                request_log.info(
                    "request",
                    extra={
                        "method": method_label(current.method),
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )

    def log_exception(self, exc_info: ExcInfo) -> None:
        """An unhandled error (a 500): Flask's own line names the URL, this one the route."""
        error = exc_info[1]
        if error is None:
            return
        self.logger.error(
            "unhandled error on %s\nTraceback (most recent call last):\n%s", route_of_request(), scrubbed_traceback(error)
        )
