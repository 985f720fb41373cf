"""The API's refusals as exceptions: one class per family of stable error codes (SPEC §4).

Every error answer has the shape `{"error": {"code", "message", "details"}}`; the class is chosen by `code`,
so `except Invalid` also catches `MandatoryTopic`, and a code this client does not know yet still lands in
the family of its HTTP status.
"""

from __future__ import annotations

from typing import Any

import httpx


class PrefsError(Exception):
    """A refusal or failure of a prefs call. `code` is the stable public code (e.g. "not_found"),
    `status` the HTTP status (None when no answer came), `details` the field errors, if any."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status = status
        self.retry_after = retry_after  # seconds, from Retry-After (429, 503)
        self.request_id = request_id  # the answer's X-Request-Id, for the operator's logs

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (a process pool or a task queue carries errors back): Exception's own would call the class
        with the formatted text alone."""
        return (
            type(self),
            (self.code, self.message, self.details, self.status),
            {"retry_after": self.retry_after, "request_id": self.request_id},
        )


class BadRequest(PrefsError):
    """400 `bad_request`: the body was not JSON."""


class Unauthorized(PrefsError):
    """401 `unauthorized`: no key, or an unknown or revoked one."""


class Forbidden(PrefsError):
    """403 `forbidden`: the key lacks the scope the call needs."""


class NotFound(PrefsError):
    """404 `not_found`: no such recipient (or an erased one), topic or webhook endpoint."""


class Conflict(PrefsError):
    """409: the change clashes with what is stored."""


class AddressInUse(Conflict):
    """409 `address_in_use`: the email or phone belongs to another recipient."""


class AlreadyExists(Conflict):
    """409 `already_exists`: the topic key is taken."""


class Erased(Conflict):
    """409 `erased`: the recipient id is an erasure's tombstone and cannot be used again."""


class TooLarge(PrefsError):
    """413 `too_large`: the body or the batch is over the server's limit."""


class Invalid(PrefsError):
    """422: the request was understood and refused; `details` holds field errors for code `invalid`."""


class UnknownTopic(Invalid):
    """422 `unknown_topic`."""


class MandatoryTopic(Invalid):
    """422 `mandatory_topic`: mandatory topics cannot be unsubscribed from, archived or narrowed, and get no link."""


class ImmutableField(Invalid):
    """422 `immutable_field`."""


class SmsStop(Invalid):
    """422 `sms_stop`: the number texted STOP; only START from that number lifts it."""


class RateLimited(PrefsError):
    """429 `rate_limited`; `retry_after` says when to try again."""


class ServerError(PrefsError):
    """5xx other than 503: a fault on the server's side."""


class Unavailable(ServerError):
    """503 `unavailable`: the database is down or too slow; `retry_after` says when to try again."""


class ConnectionFailed(PrefsError):
    """No answer: the connection failed or timed out (`status` is None). For a call that changes state the
    change may or may not have been made; this client never repeats such a call on its own."""


CLASS_BY_CODE: dict[str, type[PrefsError]] = {
    "bad_request": BadRequest,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "address_in_use": AddressInUse,
    "already_exists": AlreadyExists,
    "erased": Erased,
    "too_large": TooLarge,
    "invalid": Invalid,
    "unknown_topic": UnknownTopic,
    "mandatory_topic": MandatoryTopic,
    "immutable_field": ImmutableField,
    "sms_stop": SmsStop,
    "rate_limited": RateLimited,
    "unavailable": Unavailable,
    "internal_error": ServerError,
}
# A code added to the API later, or an answer not in the error shape (a proxy's 502 page), by its status.
CLASS_BY_STATUS: dict[int, type[PrefsError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: Invalid,
    429: RateLimited,
    503: Unavailable,
}
CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def error_class(code: str, status: int) -> type[PrefsError]:
    if code in CLASS_BY_CODE:
        return CLASS_BY_CODE[code]
    if status in CLASS_BY_STATUS:
        return CLASS_BY_STATUS[status]
    return ServerError if status >= 500 else PrefsError


def error_from_response(response: httpx.Response, retry_after: float | None = None) -> PrefsError:
    """The exception an error answer stands for, whether or not its body is in the API's error shape."""
    code, message, details = _error_fields(response)
    return error_class(code, response.status_code)(
        code, message, details, response.status_code, retry_after=retry_after, request_id=response.headers.get("X-Request-Id")
    )


def _error_fields(response: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    fallback_code = CODE_BY_STATUS.get(response.status_code, "server_error" if response.status_code >= 500 else "http_error")
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error.get("message", ""), error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        return fallback_code, response.reason_phrase or f"HTTP {response.status_code}", {}
    if not isinstance(code, str) or not isinstance(details, dict):
        return fallback_code, str(message), {}
    return code, str(message), details
