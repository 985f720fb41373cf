"""The mail providers' suppression lists, through their own SDKs (SPEC §15, outbound): add an address, take
it off again, list what is there. One small client per provider, all with the same three calls, so the
worker and `providers reconcile` never speak a provider's dialect.

- SendGrid: the global unsubscribes (`POST /v3/asm/suppressions/global`, `DELETE …/global/{email}`, listed
  by `GET /v3/suppression/unsubscribes`), with the `sendgrid` package, its host set to the base URL.
- Mailgun: the domain's unsubscribes (`POST /v3/{domain}/unsubscribes`, `DELETE …/unsubscribes/{address}`,
  `GET …/unsubscribes` paged), plain HTTP: Mailgun's Python SDK is not maintained on PyPI.
- Postmark: the suppressions of one message stream (`POST /message-streams/{stream}/suppressions`,
  `…/suppressions/delete`, `GET …/suppressions/dump`), with `postmarker`'s client at the base URL.
- Amazon SES: the account's suppression list (SES v2 PutSuppressedDestination, DeleteSuppressedDestination,
  ListSuppressedDestinations), with boto3 at the base URL; SES knows only the reasons BOUNCE and COMPLAINT,
  so an unsubscribe goes in as COMPLAINT (what SES's own documentation suggests for opt-outs).

Requests go only to the configured base URL (an operator setting): no client follows a redirect (the
SendGrid SDK's urllib is given an opener that does not) and a paging link elsewhere is not followed. Retries are the worker's (no SDK retries); each
request has a 15 s limit. Nothing here logs, so no address reaches a log line. Pure: the SDKs and the
standard library, no app, no database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

TARGETS = ("sendgrid", "mailgun", "postmark", "ses")
TIMEOUT_SECONDS = 15.0
# Requests a second the worker sends to each target (its own pacing; the providers' published limits are
# higher except SES's suppression list, which allows about one request a second).
REQUESTS_PER_SECOND = {"sendgrid": 10, "mailgun": 10, "postmark": 10, "ses": 1}
DEFAULT_API_URLS = {
    "sendgrid": "https://api.sendgrid.com",
    "mailgun": "https://api.mailgun.net",
    "postmark": "https://api.postmarkapp.com",
}
PAGE_SIZE = 500
MAX_PAGES = 10_000  # a listing that never ends is cut off here (5 million addresses)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class TargetSettings:
    """One sync target's settings, validated by prefs/config.py."""

    name: str  # one of TARGETS
    api_url: str  # scheme://host[:port][/path], no trailing slash
    secret: str = field(repr=False, default="")  # the API key or server token (SES: the AWS environment)
    domain: str | None = None  # Mailgun's sending domain
    stream: str | None = None  # Postmark's message stream
    region: str | None = None  # SES's region


@dataclass(frozen=True)
class PushResult:
    ok: bool
    status: int | None  # the HTTP status, when an answer came
    error: str | None  # why it failed (never the address); None when ok
    duration_ms: float = 0.0


@dataclass(frozen=True)
class Listed:
    """An address on a provider's list, and whether the provider put it there itself (a bounce or complaint it
    recorded, as far as its listing tells): such an entry is never removed by prefs."""

    email: str
    providers_own: bool


class SyncClient(Protocol):
    def suppress(self, email: str) -> PushResult: ...
    def unsuppress(self, email: str) -> PushResult: ...
    def listed(self) -> Iterator[Listed]: ...


def check_api_url(url: str) -> str:
    """The base URL without its trailing slash. Raises ValueError: not an https URL (http only to loopback, for a
    local stand-in), or with a query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an https:// URL like https://api.example.com")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("must use https:// (http:// only for a stand-in on this machine: 127.0.0.1, localhost, ::1)")
    return url.strip().rstrip("/")


def client_for(settings: TargetSettings) -> SyncClient:
    makers: dict[str, Callable[[TargetSettings], SyncClient]] = {
        "sendgrid": SendGridClient,
        "mailgun": MailgunClient,
        "postmark": PostmarkClient,
        "ses": SesClient,
    }
    return makers[settings.name](settings)


def _timed(call: Callable[[], PushResult]) -> PushResult:
    started = time.monotonic()
    result = call()
    return PushResult(result.ok, result.status, result.error, (time.monotonic() - started) * 1000)


def _status_error(status: int | None, fallback: str) -> str:
    return f"HTTP {status}" if status is not None else fallback[:200]


class SendGridClient:
    def __init__(self, settings: TargetSettings) -> None:
        from sendgrid import SendGridAPIClient

        api = SendGridAPIClient(api_key=settings.secret, host=settings.api_url)
        self._client = _sendgrid_http_client(api.client)

    def _call(self, make: Callable[[], Any], absent_ok: bool = False) -> PushResult:
        from python_http_client.exceptions import HTTPError

        def attempt() -> PushResult:
            try:
                response = make()
            except HTTPError as failure:
                status = failure.status_code
                if absent_ok and status == 404:
                    return PushResult(True, status, None)
                return PushResult(False, status, _status_error(status, str(failure)))
            except OSError as failure:  # urllib's URLError, timeouts, refused connections
                return PushResult(False, None, _describe_os_error(failure))
            if 300 <= response.status_code < 400:
                return PushResult(False, response.status_code, f"redirect not followed ({response.status_code})")
            return PushResult(True, response.status_code, None)

        return _timed(attempt)

    def suppress(self, email: str) -> PushResult:
        body = {"recipient_emails": [email]}
        return self._call(lambda: self._client.asm.suppressions._("global").post(request_body=body, timeout=TIMEOUT_SECONDS))

    def unsuppress(self, email: str) -> PushResult:
        return self._call(
            lambda: self._client.asm.suppressions._("global")._(quote(email, safe="@")).delete(timeout=TIMEOUT_SECONDS),
            absent_ok=True,
        )

    def listed(self) -> Iterator[Listed]:
        import json

        for page in range(MAX_PAGES):
            response = self._client.suppression.unsubscribes.get(
                query_params={"limit": PAGE_SIZE, "offset": page * PAGE_SIZE}, timeout=TIMEOUT_SECONDS
            )
            items = json.loads(response.body or b"[]")
            for item in items:
                yield Listed(str(item["email"]), False)  # the list holds no origin: the events tell (provider_events)
            if len(items) < PAGE_SIZE:
                return


def _sendgrid_http_client(client: Any) -> Any:
    """The SendGrid SDK's HTTP client (python_http_client), made to refuse redirects: urllib would follow one,
    Authorization header and all, wherever it points."""
    import urllib.request

    from python_http_client.client import Client

    class RefuseRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # urllib then raises the 3xx as an HTTPError

    class NoRedirectClient(Client):
        def _build_client(self, name: str | None = None) -> Client:
            built = super()._build_client(name)
            built.__class__ = NoRedirectClient
            return built

        def _make_request(self, opener: Any, request: Any, timeout: float | None = None) -> Any:
            return super()._make_request(urllib.request.build_opener(RefuseRedirects()), request, timeout)

    client.__class__ = NoRedirectClient
    return client


class MailgunClient:
    def __init__(self, settings: TargetSettings) -> None:
        import requests

        self._base = settings.api_url
        self._domain_url = f"{settings.api_url}/v3/{quote(settings.domain or '', safe='')}/unsubscribes"
        self._session = requests.Session()
        self._session.auth = ("api", settings.secret)
        self._session.max_redirects = 0

    def _request(self, method: str, url: str, absent_ok: bool = False, **kwargs: Any) -> PushResult:
        import requests

        def attempt() -> PushResult:
            try:
                response = self._session.request(method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs)
            except requests.RequestException as failure:
                return PushResult(False, None, _describe_requests_error(failure))
            if 200 <= response.status_code < 300 or (absent_ok and response.status_code == 404):
                return PushResult(True, response.status_code, None)
            return PushResult(False, response.status_code, _status_error(response.status_code, ""))

        return _timed(attempt)

    def suppress(self, email: str) -> PushResult:
        return self._request("POST", self._domain_url, data={"address": email, "tag": "*"})

    def unsuppress(self, email: str) -> PushResult:
        return self._request("DELETE", f"{self._domain_url}/{quote(email, safe='@')}", absent_ok=True)

    def listed(self) -> Iterator[Listed]:
        url: str | None = f"{self._domain_url}?limit={PAGE_SIZE}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._session.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
            response.raise_for_status()
            answer = response.json()
            items = answer.get("items") or []
            for item in items:
                yield Listed(str(item["address"]), False)
            following = (answer.get("paging") or {}).get("next")
            # Only pages at the configured base URL are followed (an answer cannot send us elsewhere).
            url = following if items and isinstance(following, str) and following.startswith(self._base + "/") else None


class PostmarkClient:
    # Entries Postmark made itself: its bounces and complaints, and whatever a recipient did (Origin Recipient).
    OWN_REASONS = frozenset({"HardBounce", "SpamComplaint"})

    def __init__(self, settings: TargetSettings) -> None:
        from postmarker.core import PostmarkClient as Postmarker

        self._client = Postmarker(
            server_token=settings.secret, timeout=TIMEOUT_SECONDS, root_api_url=settings.api_url + "/", verbosity=0
        )
        self._client.session.max_redirects = 0
        self._client.check_response = _postmark_check  # the SDK's own breaks on an error answer without ErrorCode
        self._stream = quote(settings.stream or "", safe="")

    def _call(self, method: str, endpoint: str, data: dict[str, Any] | None = None) -> PushResult:
        import requests

        def attempt() -> PushResult:
            try:
                answer = self._client.call(method, endpoint, data=data)
            except PostmarkRefusal as failure:
                code = f" (Postmark error {failure.error_code})" if failure.error_code is not None else ""
                return PushResult(False, failure.status, f"HTTP {failure.status}{code}")
            except requests.RequestException as failure:
                return PushResult(False, None, _describe_requests_error(failure))
            except ValueError:
                return PushResult(False, 200, "the answer was not JSON")
            failed = [item for item in (answer or {}).get("Suppressions") or [] if item.get("Status") == "Failed"]
            if failed:
                return PushResult(False, 200, f"Postmark refused it: {str(failed[0].get('Message') or '')[:150]}")
            return PushResult(True, 200, None)

        return _timed(attempt)

    def suppress(self, email: str) -> PushResult:
        return self._call("POST", f"message-streams/{self._stream}/suppressions", {"Suppressions": [{"EmailAddress": email}]})

    def unsuppress(self, email: str) -> PushResult:
        body = {"Suppressions": [{"EmailAddress": email}]}
        return self._call("POST", f"message-streams/{self._stream}/suppressions/delete", body)

    def listed(self) -> Iterator[Listed]:
        answer = self._client.call("GET", f"message-streams/{self._stream}/suppressions/dump")  # one answer: no paging
        for item in answer.get("Suppressions") or []:
            own = item.get("SuppressionReason") in self.OWN_REASONS or item.get("Origin") == "Recipient"
            yield Listed(str(item["EmailAddress"]), own)


class PostmarkRefusal(Exception):
    def __init__(self, status: int, error_code: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.error_code = status, error_code


def _postmark_check(response: Any) -> None:
    """Postmark's answer to a request: an error status raises PostmarkRefusal (with Postmark's ErrorCode when given)."""
    if response.status_code < 400:
        return
    try:
        answer = response.json()
    except ValueError:
        answer = None
    raise PostmarkRefusal(response.status_code, answer.get("ErrorCode") if isinstance(answer, dict) else None)


class SesClient:
    REASON = "COMPLAINT"  # SES has BOUNCE and COMPLAINT only; an opt-out is a complaint in its terms

    def __init__(self, settings: TargetSettings) -> None:
        import boto3
        from botocore.config import Config

        self._client = boto3.session.Session().client(
            "sesv2",
            region_name=settings.region,
            endpoint_url=settings.api_url,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=TIMEOUT_SECONDS,
                read_timeout=TIMEOUT_SECONDS,
            ),
        )

    def _call(self, make: Callable[[], Any], absent_ok: bool = False) -> PushResult:
        from botocore.exceptions import BotoCoreError, ClientError

        def attempt() -> PushResult:
            try:
                make()
            except ClientError as failure:
                status = failure.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                code = failure.response.get("Error", {}).get("Code", "")
                if absent_ok and (status == 404 or code == "NotFoundException"):
                    return PushResult(True, status, None)
                return PushResult(False, status, f"HTTP {status} {code}".strip()[:200])
            except BotoCoreError as failure:
                return PushResult(False, None, type(failure).__name__ + ": " + _first_line(failure))
            return PushResult(True, 200, None)

        return _timed(attempt)

    def suppress(self, email: str) -> PushResult:
        return self._call(lambda: self._client.put_suppressed_destination(EmailAddress=email, Reason=self.REASON))

    def unsuppress(self, email: str) -> PushResult:
        return self._call(lambda: self._client.delete_suppressed_destination(EmailAddress=email), absent_ok=True)

    def listed(self) -> Iterator[Listed]:
        token: str | None = None
        for _ in range(MAX_PAGES):
            answer = self._client.list_suppressed_destinations(**({"NextToken": token} if token else {}), PageSize=PAGE_SIZE)
            for item in answer.get("SuppressedDestinationSummaries") or []:
                yield Listed(str(item["EmailAddress"]), item.get("Reason") == "BOUNCE")  # we only ever push COMPLAINT
            token = answer.get("NextToken")
            if not token:
                return


def _first_line(failure: BaseException) -> str:
    return (str(failure).splitlines() or [type(failure).__name__])[0][:150]


def _describe_os_error(failure: OSError) -> str:
    reason = getattr(failure, "reason", None)
    return f"could not connect ({reason})"[:200] if reason is not None else _first_line(failure)


def _describe_requests_error(failure: BaseException) -> str:
    import requests

    if isinstance(failure, requests.Timeout):
        return f"timed out after {TIMEOUT_SECONDS:g} s"
    if isinstance(failure, requests.TooManyRedirects):
        return "redirect not followed"
    if isinstance(failure, requests.ConnectionError):
        return "could not connect"
    return type(failure).__name__
