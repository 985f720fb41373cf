"""GuardedHttp: the POST client webhook deliveries go through (SPEC §12, §13), and the GET of the few things the
service fetches (SPEC §15: Amazon SNS certificates and subscription confirmations). Thread-safe, keep-alive pools.

Every new connection resolves the host itself, refuses it unless every address passes netguard (hosts in
PREFS_WEBHOOK_ALLOW_HOSTS exempt) and connects only to an address it checked, so no DNS answer given after
the endpoint was saved can steer a delivery inside. TLS still verifies the certificate against the host name.
Redirects are never followed. Each request has one deadline for all of it (pool wait, connect, TLS, send,
answer; the DNS look-up keeps the system resolver's own limits): a receiver that trickles bytes cannot hold
a worker thread longer than `timeout_seconds`.
"""

from __future__ import annotations

import socket
import ssl
import sys
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from http.client import HTTPException
from typing import TYPE_CHECKING

from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    EmptyPoolError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.connection import allowed_gai_family
from urllib3.util.ssl_ import create_urllib3_context

from .netguard import ALLOW_HOSTS_SETTING, ForbiddenDestination, check_addresses, normalize_host, parse_destination

if TYPE_CHECKING:
    # typeshed's ReadableBuffer and WriteableBuffer are aliases of this (PEP 688), from a package we pin.
    from typing_extensions import Buffer

MAX_ANSWER_BYTES = 64 * 1024  # read (and drop) this much of an answer; a longer one costs its connection
DESTINATIONS_KEPT_OPEN = 100  # receivers whose connection pools are kept (least recently used dropped first)
NOT_A_HOST_NAME = "the host is not a name that can be looked up"

# A worker sends to the same few URLs again and again: parse each once (a refusal raises, and is not kept).
_parse_destination = lru_cache(maxsize=4096)(parse_destination)

# The current request's deadline (time.monotonic()), read by the sockets below on every read and write.
# A pooled connection serves one request at a time, in the thread that sent it, so a context variable
# (one value per thread) tells each socket whose deadline applies.
_deadline: ContextVar[float | None] = ContextVar("prefs_outbound_deadline", default=None)


@dataclass(frozen=True)
class PostResult:
    status: int | None  # the HTTP status, when an answer came
    error: str | None  # why the delivery failed, for the deliveries log; None on a 2xx
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.error is None


@dataclass(frozen=True)
class GetResult:
    status: int | None  # the HTTP status, when an answer came
    body: bytes  # the answer's body on a 2xx, else empty
    error: str | None  # why the fetch failed; None on a 2xx

    @property
    def ok(self) -> bool:
        return self.error is None


def _time_left() -> float | None:
    """Seconds until the current request's deadline (None outside a request). Raises TimeoutError when none are left."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's time is up")
    return left


def _bound_by_deadline(sock: socket.socket) -> None:
    left = _time_left()
    if left is not None:
        sock.settimeout(left)


class _DeadlineSocket(socket.socket):
    """A TCP socket whose reads and writes wait at most until the current request's deadline."""

    def recv_into(self, buffer: Buffer, nbytes: int = 0, flags: int = 0) -> int:
        _bound_by_deadline(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Buffer, flags: int = 0) -> None:
        _bound_by_deadline(self)
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS side of _DeadlineSocket (the TLS layer replaces the socket object; the handshake itself is
    bounded by the connect timeout, which is never more than the time left)."""

    def recv_into(self, buffer: Buffer, nbytes: int | None = None, flags: int = 0) -> int:
        _bound_by_deadline(self)
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Buffer, flags: int = 0) -> None:
        _bound_by_deadline(self)
        super().sendall(data, flags)


def _connect_checked(connection: HTTPConnection, allow_hosts: frozenset[str], plain_http: bool) -> socket.socket:
    """The socket for a new connection, to an address netguard allows: what urllib3's own connect does, with
    the check between the DNS answer and the connect. Raises ForbiddenDestination, or urllib3's errors."""
    host = connection.host.strip("[]")
    exempt = normalize_host(host) in allow_hosts
    if plain_http and not exempt:  # parse_destination refuses this first; kept for a URL that reaches here another way
        raise ForbiddenDestination(f"http:// is allowed only for the hosts in {ALLOW_HOSTS_SETTING}; {host} is not one.")
    try:
        candidates = socket.getaddrinfo(host, connection.port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(host, connection, exc) from exc
    if not exempt:
        check_addresses(host, [str(candidate[4][0]) for candidate in candidates])
    error: OSError = OSError(f"{host} resolves to no address")
    for family, kind, protocol, _, address in candidates:
        sock = _DeadlineSocket(family, kind, protocol)
        try:
            for option in connection.socket_options or ():
                sock.setsockopt(*option)
            left = _time_left()
            limits = [limit for limit in (connection.timeout, left) if isinstance(limit, float | int)]
            sock.settimeout(min(limits) if limits else None)
            if connection.source_address:
                sock.bind(connection.source_address)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sys.audit("http.client.connect", connection, connection.host, connection.port)
        return sock
    if isinstance(error, TimeoutError):
        raise ConnectTimeoutError(connection, f"Connection to {host} timed out.") from error
    raise NewConnectionError(connection, f"Failed to establish a new connection: {error}") from error


def _guarded_pool_classes(allow_hosts: frozenset[str]) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections open only checked sockets (pool_classes_by_scheme of a PoolManager)."""

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, allow_hosts, plain_http=True)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, allow_hosts, plain_http=False)

    class GuardedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


class GuardedHttp:
    """POSTs to webhook receivers; post() reports every network or HTTP failure in its result, never raises."""

    def __init__(self, allow_hosts: frozenset[str], timeout_seconds: float = 15.0, pool_size: int = 16) -> None:
        self.allow_hosts = allow_hosts
        self.timeout_seconds = timeout_seconds
        # One TLS context for every connection (urllib3 would build one and load the CA store per connection).
        tls = create_urllib3_context()
        tls.load_default_certs()
        tls.sslsocket_class = _DeadlineSSLSocket
        self._pools = PoolManager(
            num_pools=DESTINATIONS_KEPT_OPEN,
            maxsize=pool_size,
            block=True,  # threads beyond pool_size wait for a connection rather than open and drop extra ones
            ssl_context=tls,
        )
        self._pools.pool_classes_by_scheme = _guarded_pool_classes(allow_hosts)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        started = time.monotonic()
        token = _deadline.set(started + self.timeout_seconds)
        try:
            status, error = self._send(url, body, headers)
        finally:
            _deadline.reset(token)
        return PostResult(status, error, (time.monotonic() - started) * 1000)

    def get(self, url: str, max_bytes: int = MAX_ANSWER_BYTES) -> GetResult:
        """GET `url` under the same guard and deadline as post(), for the few things the service fetches (an
        Amazon SNS signing certificate, a subscription's confirmation link). The answer's body is read up to
        `max_bytes`; a longer one is an error. Never raises."""
        started = time.monotonic()
        token = _deadline.set(started + self.timeout_seconds)
        body = b""
        try:
            _parse_destination(url, self.allow_hosts)
            response = self._pools.urlopen(
                "GET",
                url,
                redirect=False,
                retries=False,
                preload_content=False,
                timeout=self.timeout_seconds,
                pool_timeout=self.timeout_seconds,
            )
            try:
                body = response.read(max_bytes + 1, decode_content=True)
                if len(body) > max_bytes:
                    response.close()  # the rest is not read: the connection cannot carry another request
            finally:
                response.release_conn()
            status: int | None = response.status
            error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
            if len(body) > max_bytes:
                error = f"the answer is longer than {max_bytes} bytes"
        except ForbiddenDestination as refusal:
            status, error = None, f"refused: {refusal}"
        except (HTTPError, OSError, HTTPException) as failure:
            status, error = None, self._describe(failure)
        except UnicodeError:  # the name lookup's IDNA refused the host (an empty label, one over 63 characters)
            status, error = None, NOT_A_HOST_NAME
        finally:
            _deadline.reset(token)
        return GetResult(status, body if error is None else b"", error)

    def close(self) -> None:
        """Close every pooled connection; the client opens new ones if used again."""
        self._pools.clear()

    def _send(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        try:
            _parse_destination(url, self.allow_hosts)
            response = self._pools.urlopen(
                "POST",
                url,
                body=body,
                headers=dict(headers),
                redirect=False,
                retries=False,
                preload_content=False,
                timeout=self.timeout_seconds,
                pool_timeout=self.timeout_seconds,
            )
        except ForbiddenDestination as refusal:
            return None, f"refused: {refusal}"
        except (HTTPError, OSError, HTTPException) as failure:
            return None, self._describe(failure)
        except UnicodeError:
            return None, NOT_A_HOST_NAME
        try:
            _discard_answer(response)
        except (HTTPError, OSError, HTTPException) as failure:
            return response.status, f"the answer broke off: {self._describe(failure)}"
        finally:
            response.release_conn()
        if 200 <= response.status < 300:
            return response.status, None
        if 300 <= response.status < 400:
            return response.status, f"redirect not followed ({response.status})"
        return response.status, f"HTTP {response.status}"

    def _describe(self, failure: BaseException) -> str:
        """A short text for the deliveries log."""
        if isinstance(failure, EmptyPoolError):
            return f"timed out after {self.timeout_seconds:g} s waiting for a free connection"
        if isinstance(failure, NameResolutionError):
            return f"the host name does not resolve ({_innermost_text(failure)})"
        if isinstance(failure, NewConnectionError):
            return f"could not connect ({_innermost_text(failure)})"
        if any(isinstance(cause, TimeoutError | Urllib3Timeout) for cause in _causes(failure)):
            return f"timed out after {self.timeout_seconds:g} s"
        if isinstance(failure, SSLError):
            return f"TLS failed ({_innermost_text(failure)})"
        if isinstance(failure, ProtocolError):
            return f"connection broken ({_innermost_text(failure)})"
        return _innermost_text(failure)


def _discard_answer(response: BaseHTTPResponse) -> None:
    """Read the answer to its end so the connection can carry the next request; past MAX_ANSWER_BYTES,
    close the connection instead of reading on."""
    if len(response.read(MAX_ANSWER_BYTES + 1, decode_content=False)) > MAX_ANSWER_BYTES:
        response.close()


def _causes(failure: BaseException) -> Iterator[BaseException]:
    """`failure` and the exceptions it wraps (urllib3 passes the inner one as an argument or as the cause)."""
    seen: set[int] = set()
    pending = [failure]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        if current.__cause__ is not None:
            pending.append(current.__cause__)


def _innermost_text(failure: BaseException) -> str:
    innermost = list(_causes(failure))[-1]
    text = innermost.strerror if isinstance(innermost, OSError) and innermost.strerror else str(innermost)
    return text[:200] or type(innermost).__name__
