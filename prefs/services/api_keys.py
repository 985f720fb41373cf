"""API keys: creation (shown once), revocation, and the cached look-up on every API request."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from ..db.generations import API_KEYS, CacheGenerations, bump
from ..errors import PrefsError
from ..extensions import db
from ..models import ApiKey, utcnow
from .admin_events import record_admin_event

SCOPES = ("check", "read", "write", "admin")
# What each scope grants beyond itself (SPEC §4): write includes read; admin includes everything.
IMPLIED_SCOPES = {"check": {"check"}, "read": {"read"}, "write": {"write", "read"}, "admin": set(SCOPES)}
KEY_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KEY_PREFIX = "prefs_"


@dataclass(frozen=True, slots=True)
class KeyHolder:
    name: str
    granted: frozenset[str]  # scopes after implication


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def granted_scopes(scopes: str) -> frozenset[str]:
    granted: set[str] = set()
    for scope in scopes.split():
        granted |= IMPLIED_SCOPES.get(scope, set())
    return frozenset(granted)


def create_key(name: str, scopes: list[str], actor: str, actor_id: str | None) -> str:
    """Store a new key's hash and return the key itself, which is never stored. Raises PrefsError."""
    if not KEY_NAME_RE.fullmatch(name):  # re.match lets a final newline through `$`
        raise PrefsError(
            "invalid", "A key name is 1-64 letters, digits, dots, dashes or underscores.", {"name": ["Invalid name."]}
        )
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise PrefsError(
            "invalid",
            f"Scopes must be among {', '.join(SCOPES)}.",
            {"scopes": [f"Unknown: {', '.join(unknown)}" if unknown else "At least one."]},
        )
    if db.session.execute(select(ApiKey.id).where(ApiKey.name == name)).first():
        raise PrefsError("already_exists", f"An API key named {name!r} exists already.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    ordered = " ".join(s for s in SCOPES if s in scopes)
    db.session.add(ApiKey(name=name, key_hash=hash_key(key), scopes=ordered))
    record_admin_event(actor, actor_id, "api_key.created", name, {"scopes": ordered.split()})
    db.session.flush()
    bump(API_KEYS)
    return key


def list_keys() -> list[ApiKey]:
    """Every key, revoked ones included, by name (their hashes only: the keys themselves are never stored)."""
    return list(db.session.execute(select(ApiKey).order_by(ApiKey.name)).scalars())


def revoke_key(name: str, actor: str, actor_id: str | None) -> None:
    """Raises PrefsError(not_found) for an unknown or already revoked key."""
    api_key = db.session.execute(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))).scalar_one_or_none()
    if api_key is None:
        raise PrefsError("not_found", f"No active API key named {name!r}.")
    api_key.revoked_at = utcnow()
    record_admin_event(actor, actor_id, "api_key.revoked", name, None)
    db.session.flush()
    bump(API_KEYS)  # every node drops its cached look-ups within half a second


class ApiKeyCache:
    """Per-worker cache of key look-ups.

    Every process drops its look-ups within half a second of a key created or revoked anywhere
    (db/generations.py); a hit is trusted for at most `ttl_seconds` (≤ 5 s) in any case, and a miss always
    asks the database, so a key created on another worker works on its first request.
    """

    def __init__(self, ttl_seconds: float, generations: CacheGenerations | None = None) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, KeyHolder | None]] = {}
        self._lock = threading.Lock()
        self._epoch = 0  # counts clear()s: a look-up that saw one during its read keeps no entry
        self._generations = generations or CacheGenerations()
        self._generations.watch(API_KEYS, self.clear)

    def holder(self, key: str) -> KeyHolder | None:
        self._generations.poll()
        digest = hash_key(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and now - entry[0] <= self._ttl:
            return entry[1]
        epoch = self._epoch
        row = db.session.execute(select(ApiKey.name, ApiKey.scopes, ApiKey.revoked_at).where(ApiKey.key_hash == digest)).first()
        if row is None:
            return None  # not cached: unknown keys must not fill the memory
        holder = None if row.revoked_at is not None else KeyHolder(row.name, granted_scopes(row.scopes))
        with self._lock:
            # On a threaded server another request may have seen a revocation and cleared the cache during this
            # read, which may predate it: kept, this answer would stand until the TTL, past P7's second.
            if self._epoch == epoch:
                self._entries[digest] = (now, holder)
        return holder

    def clear(self) -> None:
        with self._lock:
            self._epoch += 1
            self._entries.clear()
