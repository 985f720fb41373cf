"""Whether a mail provider's webhook request comes from that provider (SPEC §15), each checked its own way:
SendGrid's ECDSA P-256 signature, Mailgun's HMAC, Postmark's HTTP Basic credentials, Amazon SNS's RSA
signature with the certificate at SigningCertURL. Every check is constant-time where a secret is compared,
and refuses a stale timestamp, so a captured request cannot be replayed later.

The cryptography is the `cryptography` package's (no hand-written crypto); the SNS certificate is fetched
through prefs/outbound (the SSRF guard) and only from hosts PREFS_SNS_CERT_HOSTS allows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..outbound.http import GetResult

SENDGRID_MAX_AGE_SECONDS = 300  # a SendGrid or Mailgun request signed longer ago (or ahead) than this is refused
MAILGUN_MAX_AGE_SECONDS = 300
SNS_MAX_AGE_SECONDS = 3600  # SNS signs once and retries for up to an hour with the same Timestamp
MAX_CERTIFICATE_BYTES = 16 * 1024
CERTIFICATES_KEPT = 16  # SNS rotates its signing certificate rarely; a few regions' worth


def fresh(timestamp: float, now: float, max_age: float) -> bool:
    """Signed within `max_age` seconds of now, either way (a clock far ahead is as suspect as one far behind)."""
    return abs(now - timestamp) <= max_age


def unix_time(text: Any) -> float | None:
    """A Unix timestamp given as text or a number; None when it is neither."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e11 else None  # not NaN, not absurd


def sendgrid_signed(key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes) -> bool:
    """SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header followed by the raw
    body, the signature base64 DER in X-Twilio-Email-Event-Webhook-Signature."""
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
        return False
    return True


def mailgun_signed(signing_key: str, timestamp: str, token: str, signature: str) -> bool:
    """Mailgun's webhook signature: hex HMAC-SHA256 of timestamp + token with the webhook signing key."""
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def basic_auth_matches(given_user: str | None, given_password: str | None, user: str, password: str) -> bool:
    """Both compared in constant time, both always (no early answer says which one was wrong)."""
    user_ok = hmac.compare_digest((given_user or "").encode(), user.encode())
    password_ok = hmac.compare_digest((given_password or "").encode(), password.encode())
    return user_ok and password_ok


# --- Amazon SNS -------------------------------------------------------------------------------------------
# The fields signed, in this order (SNS's "string to sign"); Subject only when the message has one.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes | None:
    """What SNS signed: each field's name and value, one a line. None when a field is missing or not text."""
    kind = message.get("Type")
    fields = _SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return None
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            return None
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode()


def sns_timestamp(message: Mapping[str, Any]) -> datetime | None:
    text = message.get("Timestamp")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# One DNS label (RFC 1123): what `*` in PREFS_SNS_CERT_HOSTS stands for. Not an empty label, nor one longer
# than 63 characters: such a host cannot be looked up (IDNA refuses it), and a message naming one is forged.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def host_matches(host: str, globs: tuple[str, ...]) -> bool:
    """Whether a host name matches one of PREFS_SNS_CERT_HOSTS, where `*` stands for exactly one label."""
    labels = host.lower().rstrip(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return False
    for glob in globs:
        pattern = glob.split(".")
        if len(pattern) == len(labels) and all(fnmatchcase(label, part) for label, part in zip(labels, pattern, strict=True)):
            return True
    return False


def sns_url_allowed(url: Any, globs: tuple[str, ...]) -> bool:
    """A SigningCertURL or SubscribeURL may be fetched: http(s), no credentials, a host PREFS_SNS_CERT_HOSTS
    allows. (https only, and public addresses only, unless PREFS_WEBHOOK_ALLOW_HOSTS says otherwise: the
    guarded client checks that when it connects.)"""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme in ("https", "http")
        and parts.username is None
        and parts.password is None
        and bool(parts.hostname)
        and host_matches(parts.hostname or "", globs)
    )


class SnsCertificates:
    """SNS signing certificates' public keys by URL: fetched once through the guarded client, then kept
    (least recently used dropped first). A fetch that fails is not kept, so the next message tries again."""

    def __init__(self, fetch: Callable[[str, int], GetResult], host_globs: tuple[str, ...]) -> None:
        self.fetch = fetch  # the guarded client's GET (also confirms subscriptions)
        self.host_globs = host_globs
        self._keys: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def public_key(self, url: str, now: datetime) -> rsa.RSAPublicKey | None:
        if not url.endswith(".pem") or not sns_url_allowed(url, self.host_globs):
            return None
        with self._lock:
            key = self._keys.get(url)
            if key is not None:
                self._keys.move_to_end(url)
                return key
        result = self.fetch(url, MAX_CERTIFICATE_BYTES)
        if not result.ok:
            return None
        try:
            certificate = x509.load_pem_x509_certificate(result.body)
        except ValueError:
            return None
        found = certificate.public_key()
        if not isinstance(found, rsa.RSAPublicKey) or not (
            certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
        ):
            return None
        with self._lock:
            self._keys[url] = key = found
            while len(self._keys) > CERTIFICATES_KEPT:
                self._keys.popitem(last=False)
        return key

    def signed(self, message: Mapping[str, Any], now: datetime) -> bool:
        """Whether SNS signed this message (SignatureVersion 1: SHA1, 2: SHA256, RSA PKCS#1 v1.5)."""
        version = message.get("SignatureVersion")
        digest = _DIGESTS.get(version) if isinstance(version, str) else None
        text = sns_string_to_sign(message)
        signature, url = message.get("Signature"), message.get("SigningCertURL")
        if digest is None or text is None or not isinstance(signature, str) or not isinstance(url, str):
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, binascii.Error):
            return False
        key = self.public_key(url, now)
        if key is None:
            return False
        try:
            key.verify(raw, text, padding.PKCS1v15(), digest())
        except InvalidSignature:
            return False
        return True
