"""Suppression hashes: a keyed HMAC of a normalised address, never a plain hash (which a dictionary reverses)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


def address_hash(key: bytes, kind: str, normalised_address: str) -> str:
    """HMAC-SHA256 of `kind:address`, hex. The kind keeps an email and a phone from ever colliding."""
    return hmac.new(key, f"{kind}:{normalised_address}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AddressHasher:
    """The one address hasher every path uses (API, pages, console, CLI, import workers, SMS webhook).

    A plain picklable value, so the import's worker processes get the same one the app built."""

    key: bytes

    def __call__(self, kind: str, normalised_address: str) -> str:
        return address_hash(self.key, kind, normalised_address)

    def __repr__(self) -> str:  # the key is a secret: never in a log line or a traceback
        return "AddressHasher(key=<hidden>)"
