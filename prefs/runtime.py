"""The running app's `Deps`, built once by the factory; wings fetch it here and pass it to services."""

from __future__ import annotations

from flask import Flask, current_app

from .db.generations import CacheGenerations
from .db.write_gate import write_gate_for
from .deps import Deps
from .passwords import PasswordHasher
from .suppression import AddressHasher
from .tokens import LinkSigner


def init_runtime(app: Flask) -> Deps:
    from .catalogue import TopicCatalogue
    from .services.api_keys import ApiKeyCache
    from .services.delivery import DeliverySettings

    ttl = app.config["PREFS_CACHE_TTL_SECONDS"]
    generations = CacheGenerations()  # one per app: both caches hear of changes made on other nodes through it
    deps = Deps(
        catalogue=TopicCatalogue(ttl, generations),
        api_keys=ApiKeyCache(ttl, generations),
        address_hash=AddressHasher(app.config["PREFS_SUPPRESSION_KEY"].encode()),
        phone_region=app.config["PREFS_DEFAULT_PHONE_REGION"],
        signer=LinkSigner(app.config["PREFS_SECRET_KEYS"], app.config["PREFS_LINK_MAX_AGE_DAYS"]),
        secret_keys=app.config["PREFS_SECRET_KEYS"],
        base_url=app.config["PREFS_BASE_URL"],
        unsubscribe_mailto=app.config["PREFS_UNSUBSCRIBE_MAILTO"] or None,
        link_max_age_days=app.config["PREFS_LINK_MAX_AGE_DAYS"],
        write_gate=write_gate_for(app.config["SQLALCHEMY_DATABASE_URI"]),
        password_hasher=PasswordHasher.for_settings(app.config),
        webhook_allow_hosts=app.config["PREFS_WEBHOOK_ALLOW_HOSTS"],
        delivery=DeliverySettings(
            app.config["PREFS_RETRY_SCHEDULE"],
            app.config["PREFS_WEBHOOK_DISABLE_AFTER_S"],
            app.config["PREFS_WORKER_THREADS"],
            app.config["PREFS_SYNC_TARGETS"],
        ),
        quiet_hours=app.config["PREFS_QUIET_HOURS"],
        generations=generations,
        mail=app.config["PREFS_MAIL"],
    )
    app.extensions["prefs"] = deps
    from .services.provider_sync import configure

    configure(tuple(target.name for target in app.config["PREFS_SYNC_TARGETS"]))
    return deps


def runtime() -> Deps:
    """The app's Deps, for wings (never for services: they are handed it)."""
    return current_app.extensions["prefs"]
