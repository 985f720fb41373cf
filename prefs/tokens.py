"""Signed links: what a recipient's unsubscribe and preference-center URLs carry. Pure, no Flask.

itsdangerous with one salt per purpose, so an unsubscribe token can never be replayed as a preference
token (or the reverse). Keys rotate: the first of PREFS_SECRET_KEYS signs, every key verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .addresses import is_recipient_id
from .channels import CHANNELS, REGISTRY
from .decision import TOPIC_KEY_RE

CLOCK_SKEW_SECONDS = 300  # how far ahead another server's clock may be
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
PURPOSES = (UNSUBSCRIBE, PREFERENCES)
CONFIRM = "confirm"  # a double opt-in's confirmation link (/c/<token>): names the pending request only


class TokenInvalid(Exception):
    """Changed, truncated, re-encoded, signed with an unknown key, or for another purpose (400)."""


class TokenExpired(Exception):
    """Genuine but older than the configured lifetime (410). `target` is what the link (or mailto reference)
    names, its signature checked: an unsubscribe through an expired link is still honoured (SPEC §16)."""

    def __init__(self, target: LinkTarget | MailtoTarget | None = None) -> None:
        super().__init__()
        self.target = target


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a link is about: the whole channel's marketing when `topic` is None.

    `minted_by` names the API key that asked for the link (its consent evidence says so); `issued_at` is
    when the first link of its line was signed (a preference link made from an unsubscribe page keeps its
    parent's time), so a link can never lift a suppression made after it was sent.
    """

    recipient_id: str
    channel: str
    topic: str | None = None
    message_id: str | None = None
    minted_by: str | None = None
    issued_at: int | None = field(default=None, compare=False)


class LinkSigner:
    def __init__(self, secret_keys: Sequence[str], max_age_days: int) -> None:
        # itsdangerous signs with the last key of its list; our setting puts the signing key first.
        keys = list(reversed(list(secret_keys)))
        self._serializers = {purpose: URLSafeTimedSerializer(keys, salt=f"prefs.{purpose}") for purpose in PURPOSES}
        self._confirm = URLSafeTimedSerializer(keys, salt=f"prefs.{CONFIRM}")
        self.max_age_seconds = max_age_days * 86400

    def sign_confirmation(self, request_id: int, recipient_id: str) -> str:
        """The token of a confirmation link: the pending request's id and its person, signed under a salt of its
        own. Its expiry is the request's (kept with it), so the token carries no lifetime of its own. The person
        ties the link to its request for good: SQLite hands the highest id out again once its row is gone (an
        erasure takes the person's requests), but an erased person's id is never anyone's again."""
        return self._confirm.dumps({"q": request_id, "r": recipient_id})

    def verify_confirmation(self, token: str) -> tuple[int, str | None]:
        """(request id, recipient id) of a confirmation token; the recipient is None in a link mailed before
        links named it (such a link expires with its request, within CONFIRMATION_DAYS). Raises TokenInvalid."""
        if not isinstance(token, str) or not 0 < len(token) <= 2048 or not _is_canonical(token):
            raise TokenInvalid
        try:
            payload = self._confirm.loads(token)
        except BadSignature:
            raise TokenInvalid from None
        if not isinstance(payload, dict) or set(payload) not in ({"q"}, {"q", "r"}):
            raise TokenInvalid
        request_id, recipient_id = payload.get("q"), payload.get("r")
        if type(request_id) is not int or not 0 < request_id < 2**63:
            raise TokenInvalid
        if "r" in payload and not is_recipient_id(recipient_id):
            raise TokenInvalid
        return request_id, recipient_id

    def sign(self, purpose: str, target: LinkTarget) -> str:
        payload: dict[str, str | int] = {"r": target.recipient_id, "c": target.channel}
        if target.topic:
            payload["t"] = target.topic
        if target.message_id:
            payload["m"] = target.message_id
        if target.minted_by:
            payload["k"] = target.minted_by
        if target.issued_at is not None:
            payload["i"] = target.issued_at
        return self._serializers[purpose].dumps(payload)

    def verify(self, purpose: str, token: str) -> LinkTarget:
        """Raises TokenInvalid or TokenExpired."""
        if not isinstance(token, str) or not 0 < len(token) <= 2048 or not _is_canonical(token):
            raise TokenInvalid
        serializer = self._serializers[purpose]
        try:
            payload, signed_at = serializer.loads(token, max_age=self.max_age_seconds, return_timestamp=True)
        except SignatureExpired as expired:
            # Signed "in the future" by a server whose clock runs a little ahead: genuine, not expired.
            signed = expired.date_signed.timestamp() if expired.date_signed else 0
            payload, signed_at = serializer.loads(token, return_timestamp=True)  # the signature, checked again
            if not time.time() < signed <= time.time() + CLOCK_SKEW_SECONDS:
                raise TokenExpired(_target(payload, int(signed_at.timestamp()))) from None
        except BadSignature:
            raise TokenInvalid from None
        return _target(payload, int(signed_at.timestamp()))


def _target(payload: object, signed_at: int) -> LinkTarget:
    """The payload, checked after the signature all the same: a key that leaked or a bug elsewhere must
    not turn into a stored `fax` channel or a 500. Raises TokenInvalid."""
    if not isinstance(payload, dict) or not set(payload) <= _PAYLOAD_KEYS:
        raise TokenInvalid
    recipient_id, channel = payload.get("r"), payload.get("c")
    topic, message_id, minted_by, issued_at = (payload.get(name) for name in ("t", "m", "k", "i"))
    if not is_recipient_id(recipient_id) or channel not in CHANNELS:
        raise TokenInvalid
    if topic is not None and not (isinstance(topic, str) and TOPIC_KEY_RE.fullmatch(topic)):
        raise TokenInvalid
    if not all(value is None or (isinstance(value, str) and 0 < len(value) <= 256) for value in (message_id, minted_by)):
        raise TokenInvalid
    if issued_at is not None and (type(issued_at) is not int or not 0 < issued_at <= signed_at):
        raise TokenInvalid
    return LinkTarget(recipient_id, channel, topic, message_id, minted_by, signed_at if issued_at is None else issued_at)


_PAYLOAD_KEYS = frozenset("rctmki")


def _is_canonical(token: str) -> bool:
    """Each base64 part must be exactly what encoding its bytes gives back.

    Base64 leaves spare bits in a part's last character, so several spellings decode to the same bytes and
    the signature would still match; we accept only the one spelling we hand out.
    """
    parts = token.removeprefix(".").split(".")  # a leading dot marks a compressed payload
    if len(parts) != 3:
        return False
    for part in parts:
        try:
            if not part or base64_encode(base64_decode(part)).decode() != part:
                return False
        except (BadData, ValueError, UnicodeDecodeError):
            return False
    return True


# --- mailto references (RFC 2369 List-Unsubscribe mailto:) ----------------------------------------------
# Mail systems lower-case addresses and cap a local part at 64 octets, so the reference is lower-case
# base32 of (recipient pk, topic id, channel, issue day) plus a 64-bit MAC: no storage needed.
_MAC_BYTES = 8


@dataclass(frozen=True, slots=True)
class MailtoTarget:
    recipient_pk: int
    topic_id: int | None
    channel: str
    issued_day: int


def mailto_reference(secret_key: str, recipient_pk: int, topic_id: int | None, channel: str, now: float | None = None) -> str:
    day = int((now if now is not None else time.time()) // 86400)
    body = _pack(recipient_pk, (topic_id or 0), REGISTRY[channel].mailto_code, day)
    mac = hmac.new(secret_key.encode(), b"prefs.mailto." + body, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.b32encode(body + mac).decode().rstrip("=").lower()


def read_mailto_reference(
    secret_keys: Sequence[str], reference: str, max_age_days: int, now: float | None = None
) -> MailtoTarget:
    """Raises TokenInvalid or TokenExpired."""
    text = reference.strip().upper()
    if not text or len(text) > 52 or not text.isalnum():
        raise TokenInvalid
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:  # binascii.Error is one
        raise TokenInvalid from None
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if len(body) != 13 or not any(
        hmac.compare_digest(hmac.new(key.encode(), b"prefs.mailto." + body, hashlib.sha256).digest()[:_MAC_BYTES], mac)
        for key in secret_keys
    ):
        raise TokenInvalid
    if base64.b32encode(raw).decode().rstrip("=").lower() != reference.strip().lower():
        raise TokenInvalid
    recipient_pk, topic_id, channel_code, day = _unpack(body)
    channel = next((name for name, entry in REGISTRY.items() if entry.mailto_code == channel_code), None)
    if channel is None:
        raise TokenInvalid
    target = MailtoTarget(recipient_pk, topic_id or None, channel, day)
    today = int((now if now is not None else time.time()) // 86400)
    if today - day > max_age_days:
        raise TokenExpired(target)
    return target


def _pack(recipient_pk: int, topic_id: int, channel_code: int, day: int) -> bytes:
    return recipient_pk.to_bytes(5, "big") + topic_id.to_bytes(4, "big") + bytes([channel_code]) + day.to_bytes(3, "big")


def _unpack(body: bytes) -> tuple[int, int, int, int]:
    return int.from_bytes(body[:5], "big"), int.from_bytes(body[5:9], "big"), body[9], int.from_bytes(body[10:13], "big")
