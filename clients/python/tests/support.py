"""Test helpers: unique names, a loopback webhook receiver, a proxy that answers as scripted before passing
requests on, and a transport that records what the client sent."""

from __future__ import annotations

import http.client
import itertools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx


def unique(prefix: str = "cust") -> str:
    """A recipient id (or any name) no other test uses: the tests share one database."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


_phone_numbers = itertools.count()


def unique_phone() -> str:
    """A valid US number (E.164) no other test holds: a number belongs to one recipient."""
    return f"+1415555{next(_phone_numbers):04d}"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# What the scripted server does with one request: answer (status, headers, body), drop the connection, or proxy.
Answer = tuple[int, dict[str, str], bytes]
DROP = "drop"


@dataclass
class ScriptedServer:
    """An HTTP server on loopback. Each request takes the next step of `script` (an Answer or DROP); when the
    script is used up it passes requests on to `upstream` (or answers 204 without one). Records every request."""

    upstream: str | None = None
    script: list[Answer | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request_of_any_method(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with scripted.lock:
                    scripted.received.append(
                        Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    step = scripted.script.pop(0) if scripted.script else None
                if step == DROP:
                    self.close_connection = True  # no answer at all: the client sees the connection end
                    return
                status, headers, answer = (
                    step if isinstance(step, tuple) else scripted.pass_on(self.command, self.path, self.headers, body)
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one_request_of_any_method  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def pass_on(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        if self.upstream is None:
            return 204, {}, b""
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            forwarded = {name: value for name, value in headers.items() if name.lower() in ("authorization", "content-type")}
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            kept = {name: value for name, value in response.getheaders() if name.lower() in ("content-type", "retry-after")}
            return response.status, kept, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def scripted_server(upstream: str | None = None, *script: Answer | str) -> Iterator[ScriptedServer]:
    server = ScriptedServer(upstream, list(script))
    try:
        yield server
    finally:
        server.stop()


def error_answer(status: int, code: str, retry_after: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"} | ({"Retry-After": retry_after} if retry_after is not None else {})
    return status, headers, f'{{"error": {{"code": "{code}", "message": "scripted", "details": {{}}}}}}'.encode()


class RecordingTransport(httpx.BaseTransport):
    """The default transport, keeping every request the client sends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
