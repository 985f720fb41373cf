"""One JSON error shape for the API (SPEC §4); other paths keep HTML errors."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..error_pages import html_error_page
from ..errors import PrefsError
from ..logs import route_of_request
from ..outages import end_failed_transaction

log = logging.getLogger(__name__)

CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def api_error_response(error: PrefsError):
    end_failed_transaction()  # none before any query (a 404, a bad key); none left on a dead connection
    return error.to_dict(), error.status


def handle_prefs_error(error: PrefsError):
    return api_error_response(error)


def handle_http_exception(error: HTTPException):
    if not is_api_request():
        return html_error_page(error)  # friendly 404 and 405 pages for people (SPEC §16)
    if isinstance(error, InternalServerError):
        return handle_unexpected(error)
    code = CODE_BY_STATUS.get(error.code or 500, "bad_request")
    details: dict[str, Any] = {}
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs: field errors per location (json, query, ...)
        for messages in data["messages"].values():
            details.update(messages if isinstance(messages, dict) else {"_schema": messages})
    message = "Invalid input." if code == "invalid" else error.description or error.name
    body, status = api_error_response(PrefsError(code, message, details))
    valid_methods = getattr(error, "valid_methods", None)  # a 405 keeps its Allow header
    return body, status, {"Allow": ", ".join(valid_methods)} if valid_methods else {}


def handle_unexpected(error: Exception):
    """A bug, not a client error: roll back, answer in the shape. An unhandled exception was logged
    already (PrefsFlask.log_exception, without request data); a bare abort(500) is logged here."""
    if getattr(error, "original_exception", None) is None:
        log.error("internal error on %s", route_of_request())
    end_failed_transaction()
    if not is_api_request():
        return InternalServerError()
    return PrefsError("internal_error", "Something went wrong on our side; nothing was changed.").to_dict(), 500


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(PrefsError, handle_prefs_error)
    app.register_error_handler(HTTPException, handle_http_exception)
