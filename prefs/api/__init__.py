"""The mailers' JSON API under /api/v1."""

from __future__ import annotations

from flask import Flask

from . import checks, consents, feed, forms, links, recipients, stats, topics, webhooks  # noqa: F401  (registers the routes on the blueprint)
from .blueprint import API_SETTINGS, PrefsApi, blp
from .errors import register_error_handlers


def register_api(app: Flask) -> None:
    for name, value in API_SETTINGS.items():
        app.config.setdefault(name, value)
    api = PrefsApi(app)  # one per app: it holds that app's OpenAPI document
    api.register_blueprint(blp)
    register_error_handlers(app)
