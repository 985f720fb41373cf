"""Outbound email over SMTP (SPEC §14): the settings `PREFS_SMTP_URL` gives, and the client that sends one
message. Pure like the rest of prefs/outbound: the standard library only, no app, no database.

`smtp://user:pass@host:port` speaks plain SMTP (port 25 by default), `?starttls=true` upgrades it with
STARTTLS before any credentials are sent (port 587 by default), `smtps://` is TLS from the first byte (port
465 by default). Certificates are verified against the system's trust store; `?cafile=/path.pem` adds a CA
(a relay with a private certificate authority, and the tests' self-signed relay). User and password are
percent-decoded. Every exchange has one 15 s timeout per network operation.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

TIMEOUT_SECONDS = 15.0
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "none", "starttls" or "tls" (smtps://)
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, so never in a log line
    cafile: str | None = None

    def describe(self) -> str:
        """Where mail goes, without the credentials: for the start-up line and errors."""
        return f"{self.host}:{self.port} ({self.security})"


def parse_smtp_url(url: str) -> SmtpSettings:
    """`PREFS_SMTP_URL` as settings; ValueError saying what is wrong (never repeating the password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("must start with smtp:// or smtps://, e.g. smtp://user:pass@mail.example.com:587?starttls=true")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError("has a port that is not a number between 0 and 65535") from None
    if not host:
        raise ValueError("names no host, e.g. smtp://user:pass@mail.example.com:587?starttls=true")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("must be only scheme, credentials, host, port and ?starttls=true")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls", "cafile"})
    if unknown:
        raise ValueError(f"has an unknown option {unknown[0]!r} (known: starttls, cafile)")
    starttls_text = (query.get("starttls") or ["false"])[-1].lower()
    if starttls_text not in _TRUE + _FALSE:
        raise ValueError("starttls must be true or false")
    starttls = starttls_text in _TRUE
    if scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS from the start; ?starttls=true is for smtp://")
    security = "tls" if scheme == "smtps" else "starttls" if starttls else "none"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("has a password without a user")
    cafile = (query.get("cafile") or [""])[-1] or None
    default_port = DEFAULT_PORTS["smtps" if scheme == "smtps" else "smtp+starttls" if starttls else "smtp"]
    return SmtpSettings(host, port or default_port, security, username, password, cafile)


def parse_mail_from(text: str) -> tuple[str, str | None]:
    """`PREFS_MAIL_FROM` ("news@example.com" or "Acme <news@example.com>") as (address, display name or None)."""
    name, address = parseaddr(text.strip())
    if (
        not address
        or address.count("@") != 1
        or not all(address.split("@"))
        or any(ch.isspace() or ch in "<>\"'," for ch in address)
        or "." not in address.split("@")[1]
    ):
        raise ValueError("must be an email address such as news@example.com or Acme <news@example.com>")
    return address, name.strip() or None


@dataclass(frozen=True)
class SendResult:
    """How one message went: sent, refused for good (a 5xx answer), or failed for now (retry)."""

    ok: bool
    permanent: bool = False
    code: int | None = None  # the server's reply code, when it gave one
    error: str | None = None  # for the delivery record: never the address or the message
    duration_ms: float = 0.0


class SessionRefused(smtplib.SMTPResponseException):
    """The relay refused STARTTLS: the session, not a message."""


class SmtpSender:
    """Sends messages to the relay `settings` name; one connection per call (the worker's sends are few and
    far between, and a fresh connection never carries a broken session over)."""

    def __init__(self, settings: SmtpSettings, timeout: float = TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.timeout = timeout

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.cafile)

    def send(self, message: EmailMessage, sender: str, recipient: str) -> SendResult:
        started = time.monotonic()
        try:
            self._send(message, sender, recipient)
        except smtplib.SMTPRecipientsRefused as error:
            code = next(iter(error.recipients.values()))[0] if error.recipients else None
            return self._failed(started, code, "the relay refused the recipient")
        except smtplib.SMTPAuthenticationError as error:  # the relay's settings, not this message: retried
            return self._failed(started, None, f"the relay refused the credentials ({error.smtp_code})")
        except smtplib.SMTPSenderRefused as error:  # PREFS_MAIL_FROM, not this message: retried
            return self._failed(started, None, f"the relay refused the sender address ({error.smtp_code})")
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError, SessionRefused) as error:
            # At the greeting, EHLO/HELO or STARTTLS: the relay refuses us for now (a 554 there is often a
            # temporary block of our address), not this message: retried, never a permanent failure.
            return self._failed(started, None, f"the relay refused the session ({error.smtp_code})")
        except smtplib.SMTPResponseException as error:  # the message itself refused (DATA), with a code
            return self._failed(started, error.smtp_code, f"the relay answered {error.smtp_code}")
        except smtplib.SMTPServerDisconnected:
            return self._failed(started, None, "the relay closed the connection")
        except TimeoutError:
            return self._failed(started, None, f"no answer within {self.timeout:g} s")
        except ssl.SSLError as error:
            return self._failed(started, None, f"TLS failed: {error.reason or type(error).__name__}")
        except (smtplib.SMTPException, OSError) as error:
            return self._failed(started, None, f"cannot reach the relay: {type(error).__name__}")
        return SendResult(True, code=250, duration_ms=(time.monotonic() - started) * 1000)

    def _send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        s = self.settings
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=self._tls())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        with client:
            client.ehlo_or_helo_if_needed()  # raises SMTPHeloError when the relay refuses both
            if s.security == "starttls":
                try:
                    client.starttls(context=self._tls())
                except smtplib.SMTPNotSupportedError:
                    raise
                except smtplib.SMTPResponseException as error:
                    raise SessionRefused(error.smtp_code, error.smtp_error) from error
                client.ehlo_or_helo_if_needed()
            if s.username:
                client.login(s.username, s.password or "")
            client.send_message(message, from_addr=sender, to_addrs=[recipient])

    @staticmethod
    def _failed(started: float, code: int | None, error: str) -> SendResult:
        # A 5xx answer to the recipient or to the message is permanent (RFC 5321 §4.2.1): the same message
        # would be refused again, so the delivery fails at once instead of walking the retry schedule.
        # 4xx answers, timeouts, connection and TLS errors, and refusals of our credentials or sender
        # address (the relay's settings, which an operator fixes) are transient: retried like a webhook's.
        permanent = code is not None and 500 <= code <= 599
        return SendResult(False, permanent, code, error[:300], (time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class MailSettings:
    """Email sending as configured (`PREFS_SMTP_URL`, `PREFS_MAIL_FROM`), parsed once at start."""

    smtp: SmtpSettings
    from_address: str  # the envelope sender and the From: address
    from_name: str  # the From: display name: PREFS_MAIL_FROM's own, else the brand's name
    brand_name: str  # who signs the messages (prefs/brand.py)


def parse_mail_settings(smtp_url: str | None, mail_from: str | None, brand_name: str) -> MailSettings | None:
    """None when neither is set (mail is off); ValueError naming the setting at fault otherwise."""
    if not smtp_url and not mail_from:
        return None
    if not smtp_url or not mail_from:
        raise ValueError("PREFS_SMTP_URL and PREFS_MAIL_FROM go together: set both (mail on) or neither (mail off)")
    try:
        smtp = parse_smtp_url(smtp_url)
    except ValueError as error:
        raise ValueError(f"PREFS_SMTP_URL {error}") from None
    try:
        address, name = parse_mail_from(mail_from)
    except ValueError as error:
        raise ValueError(f"PREFS_MAIL_FROM {error}") from None
    return MailSettings(smtp, address, name or brand_name, brand_name)
