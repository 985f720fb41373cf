"""The mailers' JSON API blueprint and the flask-smorest Api that documents it."""
from __future__ import annotations

from flask_smorest import Api, Blueprint

from .schemas import ErrorSchema

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Preference checks, links, recipients and topics.")


class PrefsApi(Api):
    """flask-smorest, with our error shape in the document and our own error handlers (api/errors.py)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        pass


API_SETTINGS = {
    "API_TITLE": "prefs",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {"description": "Marketing-communications preferences: ask before every send."},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    },
}
