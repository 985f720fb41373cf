"""A real SMTP server on loopback for the tests of outbound email (aiosmtpd, requirements-dev.txt).

Use it as a context manager or through the `smtp_server` fixture (import it into a test module:
`from smtp_server import SmtpServer, smtp_server  # noqa: F401`):

    with SmtpServer() as server:                 # 127.0.0.1, an ephemeral port, plain SMTP
        settings = {"PREFS_SMTP_URL": server.url, "PREFS_MAIL_FROM": "Acme <news@acme.example>"}
        ...                                      # queue mail, run the worker
        [message] = server.messages              # email.message.EmailMessage objects, in arrival order
        server.envelopes[0].mail_from, server.envelopes[0].rcpt_tos

- `SmtpServer(starttls=True)`: offers STARTTLS with a self-signed certificate made for 127.0.0.1 and refuses
  MAIL before it; `server.url` then carries `?starttls=true&cafile=<its certificate>` so prefs trusts it.
- `SmtpServer(auth=("user", "secret"))`: requires AUTH PLAIN/LOGIN with these credentials (with STARTTLS it is
  offered only after it, as a real relay does); `server.url` carries them.
- `server.refuse(code)`: answer `code` (e.g. 451: try later, 550: never) to every RCPT TO until
  `server.refuse(None)`; refused messages are not kept.
- `server.stop()` / `server.start()`: take it down and bring it back on the same port (a relay that is down).
- `server.wait_for(n, timeout=5)`: the messages once at least n have arrived (AssertionError otherwise).
- `server.clear()`: forget what arrived.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]


class _Session(Session):
    """aiosmtpd sets the deprecated `login_data` itself after a successful AUTH, and its DeprecationWarning
    is an error under pytest (pyproject's filterwarnings): the same attribute, without the warning."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _Smtp(SMTP):
    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Smtp(self.handler, **self.SMTP_kwargs)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any) -> str:  # noqa: N802
        code = self.server.refusing
        if code is not None:
            return f"{code} {'try again later' if code < 500 else 'no such mailbox'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    # aiosmtpd: a handler's EHLO and HELO hooks must set session.host_name themselves when they accept.
    async def handle_EHLO(self, _server: Any, session: Any, _envelope: Any, hostname: str, responses: list[str]) -> list[str]:  # noqa: N802
        code = self.server.refusing_session
        if code is not None:
            return [f"{code} your host is blocked for now, try later"]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, _server: Any, session: Any, _envelope: Any, hostname: str) -> str:  # noqa: N802
        code = self.server.refusing_session
        if code is not None:
            return f"{code} your host is blocked for now, try later"
        session.host_name = hostname
        return f"250 {hostname}"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)  # noqa: S101
        with self.server.lock:
            self.server.messages.append(message)
            self.server.envelopes.append(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos)))
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, starttls: bool = False, auth: tuple[str, str] | None = None) -> None:
        self.starttls = starttls
        self.auth = auth
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.refusing: int | None = None
        self.refusing_session: int | None = None  # refuse_session(): the answer to EHLO and HELO
        self.lock = threading.Lock()
        self.port = _free_port()
        self.host = "127.0.0.1"
        self._controller: Controller | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="prefs-smtp-")
        self.certificate: Path | None = _self_signed(Path(self._folder.name)) if starttls else None

    @property
    def url(self) -> str:
        credentials = f"{quote(self.auth[0], safe='')}:{quote(self.auth[1], safe='')}@" if self.auth else ""
        options = f"?starttls=true&cafile={quote(str(self.certificate))}" if self.starttls else ""
        return f"smtp://{credentials}{self.host}:{self.port}{options}"

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.starttls:
            assert self.certificate is not None  # noqa: S101
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.certificate, self.certificate.with_suffix(".key"))
            kwargs.update(tls_context=context, require_starttls=True)
        if self.auth:
            # Required over TLS only: aiosmtpd warns (an error under pytest) about requiring it in the clear.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.starttls, auth_required=self.starttls)
        self._controller = _Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=5, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        self.stop()
        self._folder.cleanup()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def refuse(self, code: int | None) -> None:
        self.refusing = code

    def refuse_session(self, code: int | None) -> None:
        """Answer `code` to EHLO and HELO (a relay blocking this client for now) until refuse_session(None)."""
        self.refusing_session = code

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.messages)} messages arrived, not {count}")

    def _authenticate(self, _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(data, LoginPassword) or self.auth is None:
            return AuthResult(success=False, handled=False)
        given = (data.login.decode(), data.password.decode())
        return AuthResult(success=given == self.auth, handled=False)  # aiosmtpd answers 535 to a wrong pair


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback for one test (see the module's docstring)."""
    with SmtpServer() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _self_signed(folder: Path) -> Path:
    """A certificate for 127.0.0.1 signed by its own key (it is its own CA): cert.pem and cert.key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prefs test relay")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "cert.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path
