"""Suppression hashes: a keyed HMAC of a normalised address, never a plain hash (which a dictionary reverses)."""

from __future__ import annotations

import hashlib
import hmac


def address_hash(key: bytes, kind: str, normalised_address: str) -> str:
    """HMAC-SHA256 of `kind:address`, hex. The kind keeps an email and a phone from ever colliding."""
    return hmac.new(key, f"{kind}:{normalised_address}".encode(), hashlib.sha256).hexdigest()
