"""GuardedHttp against real receivers on loopback (stdlib servers in threads): what arrives, what is refused
before any connection, and how each failure is reported (SPEC §12, §13)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from prefs.outbound.http import MAX_ANSWER_BYTES, GuardedHttp
from prefs.outbound.netguard import check_url

LOOPBACK = frozenset({"127.0.0.1"})
BODY = b'{"type":"preference.updated","data":{}}'
HEADERS = {"content-type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": "1700000000"}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(ThreadingHTTPServer):
    """A webhook receiver that records every request and every accepted connection, and answers as told."""

    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.connections = 0
        self.status = 204
        self.answer_headers: dict[str, str] = {}
        self.answer = b""
        self.may_answer = threading.Event()  # cleared: the receiver holds its answer back
        self.may_answer.set()

    def get_request(self):
        request = super().get_request()
        with self.lock:
            self.connections += 1
        return request

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer is part of several tests."""

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://{host}:{self.server_address[1]}{path}"


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as receivers are
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.server.may_answer.wait(5)
        self.send_response(self.server.status)
        for name, value in self.server.answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def start_receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(tls)
        threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.may_answer.set()
        receiver.shutdown()
        receiver.server_close()


@pytest.fixture
def receiver(start_receiver) -> Receiver:
    return start_receiver()


@pytest.fixture
def client() -> Iterator[Callable[..., GuardedHttp]]:
    made: list[GuardedHttp] = []

    def make(allow_hosts: frozenset[str] = LOOPBACK, timeout_seconds: float = 15.0) -> GuardedHttp:
        made.append(GuardedHttp(allow_hosts, timeout_seconds=timeout_seconds))
        return made[-1]

    yield make
    for guarded in made:
        guarded.close()


def test_a_post_to_an_allowed_receiver_arrives_with_its_body_and_headers(receiver, client):
    result = client().post(receiver.url("/hooks/prefs?x=1"), BODY, HEADERS)

    assert result.ok and result.status == 204 and result.error is None
    [received] = receiver.received
    assert received.path == "/hooks/prefs?x=1"
    assert received.body == BODY
    assert {name: received.headers[name] for name in HEADERS} == HEADERS


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_without_the_allowance_no_connection_reaches_a_loopback_receiver(receiver, client, scheme):
    result = client(allow_hosts=frozenset()).post(receiver.url(scheme=scheme), BODY, HEADERS)

    assert not result.ok and result.status is None
    assert result.error.startswith("refused: ")
    assert receiver.connections == 0 and receiver.received == []


def test_an_address_checked_when_saved_is_checked_again_at_connect(receiver, client):
    """DNS rebinding: the name looked public when the endpoint was saved, and resolves to loopback now."""
    url = receiver.url(host="localhost", scheme="https")
    check_url(url, frozenset(), resolve=lambda host, port: ["93.184.216.34"])

    result = client(allow_hosts=frozenset()).post(url, BODY, HEADERS)

    assert result.error.startswith("refused: localhost resolves to ")
    assert "a loopback address" in result.error
    assert receiver.connections == 0


def test_plain_http_to_a_public_host_is_refused_before_any_connection(client):
    result = client(allow_hosts=frozenset()).post("http://93.184.216.34/hook", BODY, HEADERS)

    assert result.status is None and result.error.startswith("refused: Webhook URLs must start with https://")


def test_a_redirect_is_a_failure_and_is_not_followed(start_receiver, client):
    first, second = start_receiver(), start_receiver()
    first.status, first.answer_headers = 302, {"Location": second.url()}

    result = client().post(first.url(), BODY, HEADERS)

    assert not result.ok and result.status == 302 and result.error == "redirect not followed (302)"
    assert len(first.received) == 1 and second.connections == 0


@pytest.mark.parametrize("status", [500, 410, 404])
def test_an_error_status_is_a_failure_with_that_status(receiver, client, status):
    receiver.status = status

    result = client().post(receiver.url(), BODY, HEADERS)

    assert not result.ok and result.status == status and str(status) in result.error


@pytest.mark.parametrize("host", ["a..example.com", "x" * 64 + ".example.com"])
def test_a_host_no_name_lookup_takes_is_an_error_not_an_exception(client, host):
    """The name lookup's IDNA raises UnicodeError for an empty label or one over 63 characters (found in review:
    an SNS certificate URL reached it)."""
    guarded = client(allow_hosts=frozenset({host}))
    for result in (guarded.post(f"https://{host}/hook", BODY, HEADERS), guarded.get(f"https://{host}/cert.pem")):
        assert result.status is None and not result.ok
        assert result.error == "the host is not a name that can be looked up"


def test_a_refused_connection_is_an_error_not_an_exception(client):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again below: nothing listens there

    result = client().post(f"http://127.0.0.1:{port}/hook", BODY, HEADERS)

    assert not result.ok and result.status is None and "refused" in result.error.lower()
    assert not result.error.startswith("refused: ")  # the receiver refused, not our guard


def test_a_receiver_slower_than_the_timeout_is_a_timeout(receiver, client):
    receiver.may_answer.clear()

    result = client(timeout_seconds=0.5).post(receiver.url(), BODY, HEADERS)

    assert not result.ok and result.status is None and result.error == "timed out after 0.5 s"
    assert len(receiver.received) == 1


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_receiver_that_trickles_its_answer_cannot_outlast_the_deadline(client, request, monkeypatch, scheme):
    """Each byte comes well within the timeout; the answer as a whole does not."""
    listener = socket.create_server(("127.0.0.1", 0))
    if scheme == "https":
        listener = server_tls(request.getfixturevalue("certificates"), monkeypatch).wrap_socket(listener, server_side=True)
    hung_up = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                for _ in range(60):  # 3 s of header, a byte every 50 ms
                    connection.sendall(b"x")
                    hung_up.wait(0.05)
                connection.sendall(b": y\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                hung_up.set()

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    guarded = client(allow_hosts=frozenset({"localhost"}), timeout_seconds=0.5)
    try:
        result = guarded.post(f"{scheme}://localhost:{listener.getsockname()[1]}/", BODY, HEADERS)
    finally:
        server.join(5)
        listener.close()

    assert not result.ok and result.error == "timed out after 0.5 s"


def test_a_host_allowed_by_name_may_be_reached(receiver, client):
    result = client(allow_hosts=frozenset({"localhost"})).post(receiver.url(host="localhost"), BODY, HEADERS)

    assert result.ok and len(receiver.received) == 1


def test_requests_to_one_receiver_share_a_kept_alive_connection(receiver, client):
    guarded = client()

    results = [guarded.post(receiver.url(), BODY, HEADERS) for _ in range(20)]

    assert all(result.ok for result in results) and len(receiver.received) == 20
    assert receiver.connections == 1


def test_a_long_answer_is_not_read_to_its_end_and_costs_only_its_connection(receiver, client):
    receiver.status, receiver.answer = 200, b"x" * (16 * MAX_ANSWER_BYTES)
    guarded = client()

    first = guarded.post(receiver.url(), BODY, HEADERS)
    receiver.answer = b"short"
    second = guarded.post(receiver.url(), BODY, HEADERS)

    assert first.ok and second.ok
    assert receiver.connections == 2  # the first connection was closed with most of its answer unread


def test_close_drops_the_pooled_connections_and_the_client_still_works(receiver, client):
    guarded = client()

    assert guarded.post(receiver.url(), BODY, HEADERS).ok
    guarded.close()
    assert guarded.post(receiver.url(), BODY, HEADERS).ok
    assert receiver.connections == 2


def test_posts_from_many_threads_all_arrive(receiver, client):
    guarded = client()
    results = []
    results_lock = threading.Lock()

    def deliver(thread: int) -> None:
        for message in range(25):
            result = guarded.post(receiver.url(f"/hook/{thread}/{message}"), b"%d.%d" % (thread, message), HEADERS)
            with results_lock:
                results.append(result)

    threads = [threading.Thread(target=deliver, args=(thread,)) for thread in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 400
    assert [result for result in results if not result.ok] == []  # on failure, names the ones that failed and how
    assert sorted(r.body for r in receiver.received) == sorted(b"%d.%d" % (t, m) for t in range(16) for m in range(25))
    assert all(r.path == "/hook/" + r.body.decode().replace(".", "/") for r in receiver.received)
    assert receiver.connections <= 16  # pooled: at most one connection per thread


# TLS: a test CA the client trusts through SSL_CERT_FILE, and a receiver whose certificate names only localhost.


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    for command in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=prefs test CA"]
        + ["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
        + ["-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"],
    ):
        subprocess.run([openssl, *command], cwd=folder, check=True, capture_output=True)
    return folder


def server_tls(certificates: Path, monkeypatch) -> ssl.SSLContext:
    """The receiver's side of TLS; clients made after this call trust the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))  # read when a client is made
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificates / "leaf.pem", certificates / "leaf.key")
    return tls


@pytest.fixture
def tls_receiver(start_receiver, certificates, monkeypatch) -> Receiver:
    return start_receiver(server_tls(certificates, monkeypatch))


def test_tls_verifies_the_certificate_against_the_host_name(tls_receiver, client):
    by_name = client(allow_hosts=frozenset({"localhost"})).post(tls_receiver.url(host="localhost"), BODY, HEADERS)
    by_address = client(allow_hosts=LOOPBACK).post(tls_receiver.url(host="127.0.0.1"), BODY, HEADERS)

    assert by_name.ok and len(tls_receiver.received) == 1
    assert not by_address.ok and by_address.status is None and by_address.error.startswith("TLS failed")
    assert "127.0.0.1" in by_address.error  # the certificate names localhost, not the address
