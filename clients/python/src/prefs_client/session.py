"""One HTTP connection pool to the API: the key on every request, error answers raised as PrefsError, and
the retries of calls that are safe to repeat (retries.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .errors import ConnectionFailed, PrefsError, error_from_response
from .retries import RETRY_STATUSES, RetryPolicy, parse_retry_after
from .version import __version__

API_PREFIX = "/api/v1"


def api_base_url(base_url: str) -> str:
    """The API root for the service's URL (https://prefs.example.com), or for the API root itself."""
    root = base_url.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


class ApiSession:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float | httpx.Timeout,
        policy: RetryPolicy,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=api_base_url(base_url),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": f"prefs-client/{__version__}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str | int] | None = None,
        gone_on_retry_is_done: bool = False,
    ) -> httpx.Response:
        """The 2xx answer to one call. Raises PrefsError (a subclass per error code; ConnectionFailed when no
        answer came). Only an `idempotent` call is retried. With `gone_on_retry_is_done` (a DELETE whose
        second try finds nothing), a 404 to a retry is returned, not raised: the first try, whose answer was
        lost, did it."""
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempt = 0
        while True:
            try:
                response = self.http.request(method, path, json=json, content=content, params=params, headers=headers)
            except httpx.TransportError as error:
                # A base URL that is not http(s), or a request httpx cannot write (its text would quote the
                # header it refused, the key included): no retry helps.
                hopeless = isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError)
                if not idempotent or hopeless or attempt >= self.policy.retries:
                    raise _connection_failed(method, path, error, idempotent) from error
                self.sleep(self.policy.backoff_delay(attempt))
                attempt += 1
                continue
            if response.is_success:
                return response
            if gone_on_retry_is_done and attempt > 0 and response.status_code == 404:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if idempotent and response.status_code in RETRY_STATUSES and attempt < self.policy.retries:
                wait = self.policy.backoff_delay(attempt) if retry_after is None else retry_after
                if wait <= self.policy.max_retry_after:
                    response.close()
                    self.sleep(wait)
                    attempt += 1
                    continue
            raise error_from_response(response, retry_after)


def _connection_failed(method: str, path: str, error: httpx.TransportError, idempotent: bool) -> PrefsError:
    outcome = "" if idempotent else " The change may or may not have been made."
    # httpx's text of a request it could not write quotes the header it refused: never repeated here.
    text = "the request could not be written" if isinstance(error, httpx.LocalProtocolError) else str(error)
    return ConnectionFailed("connection_failed", f"{method} {path}: {type(error).__name__}: {text}.{outcome}")
