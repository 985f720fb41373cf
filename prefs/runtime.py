"""The running app's shared state, for services and views: settings parsed once, caches per worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from .db.write_gate import FileWriteGate, write_gate_for
from .passwords import PasswordHasher
from .suppression import address_hash
from .tokens import LinkSigner

if TYPE_CHECKING:
    from .catalogue import TopicCatalogue
    from .services.api_keys import ApiKeyCache


@dataclass
class Runtime:
    catalogue: TopicCatalogue
    api_keys: ApiKeyCache
    suppression_key: bytes
    phone_region: str
    signer: LinkSigner
    secret_keys: list[str]
    base_url: str
    unsubscribe_mailto: str | None
    link_max_age_days: int
    write_gate: FileWriteGate | None
    password_hasher: PasswordHasher

    def address_hash(self, kind: str, normalised_address: str) -> str:
        return address_hash(self.suppression_key, kind, normalised_address)


def init_runtime(app: Flask) -> Runtime:
    from .catalogue import TopicCatalogue
    from .services.api_keys import ApiKeyCache

    ttl = app.config["PREFS_CACHE_TTL_SECONDS"]
    runtime = Runtime(
        catalogue=TopicCatalogue(ttl),
        api_keys=ApiKeyCache(ttl),
        suppression_key=app.config["PREFS_SUPPRESSION_KEY"].encode(),
        phone_region=app.config["PREFS_DEFAULT_PHONE_REGION"],
        signer=LinkSigner(app.config["PREFS_SECRET_KEYS"], app.config["PREFS_LINK_MAX_AGE_DAYS"]),
        secret_keys=app.config["PREFS_SECRET_KEYS"],
        base_url=app.config["PREFS_BASE_URL"],
        unsubscribe_mailto=app.config["PREFS_UNSUBSCRIBE_MAILTO"] or None,
        link_max_age_days=app.config["PREFS_LINK_MAX_AGE_DAYS"],
        write_gate=write_gate_for(app.config["SQLALCHEMY_DATABASE_URI"]),
        password_hasher=PasswordHasher.for_settings(app.config),
    )
    app.extensions["prefs"] = runtime
    return runtime


def runtime() -> Runtime:
    return current_app.extensions["prefs"]
