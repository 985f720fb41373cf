"""The one error type the domain raises; each audience's blueprint renders it its own way."""

from __future__ import annotations

from typing import Any

# Public API: these codes and statuses are in SPEC §4.
STATUS_BY_CODE = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "address_in_use": 409,
    "already_exists": 409,
    "erased": 409,
    "too_large": 413,
    "invalid": 422,
    "unknown_topic": 422,
    "mandatory_topic": 422,
    "immutable_field": 422,
    "sms_stop": 422,
    "mail_off": 422,  # email sending is not configured (PREFS_SMTP_URL, PREFS_MAIL_FROM), so this cannot be done
    "invalid_range": 422,  # GET /stats: a range of days that ends before it starts, or longer than MAX_RANGE_DAYS
    "invalid_group_by": 422,  # GET /stats: group_by names no group, an unknown one or one twice
    "rate_limited": 429,
    "internal_error": 500,
    "unavailable": 503,  # the database is down or too slow; Retry-After says when to try again (prefs/outages.py)
}


class PrefsError(Exception):
    """A request the service refuses; `code` is the stable public error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = STATUS_BY_CODE[code]

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field: str, message: str) -> PrefsError:
    """422 `invalid` naming one field, in the shape marshmallow uses for field errors."""
    return PrefsError("invalid", f"Invalid value for {field}.", {field: [message]})
