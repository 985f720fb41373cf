"""API authentication and the JSON-body rule, applied before a view reads anything from the request."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from ..errors import PrefsError
from ..runtime import runtime
from .blueprint import annotate
from .reference import Access

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def authorized(scope: str, body: str = "none") -> Callable:
    """Require a key granting `scope`; then, for `body` "required" or "optional", a JSON body.

    Authentication comes first, so a stranger learns nothing from validation errors. The document states the
    scope and these refusals from this declaration (blueprint.PrefsBlueprint), so it says what is enforced.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.api_key = _authenticate(scope)
            if body != "none" and request.method in BODY_METHODS:
                _require_json_body(optional=body == "optional")
            return view(*args, **kwargs)

        return annotate(wrapper, access=Access(scope, body))

    return decorator


def _authenticate(scope: str):
    header = request.headers.get("Authorization", "")
    kind, _, key = header.partition(" ")
    if kind.lower() != "bearer" or not key.strip():
        raise PrefsError("unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    holder = runtime().api_keys.holder(key.strip())
    if holder is None:
        raise PrefsError("unauthorized", "Unknown or revoked API key.")
    if scope not in holder.granted:
        raise PrefsError("forbidden", f"This key lacks the {scope!r} scope.")
    return holder


def _require_json_body(optional: bool) -> None:
    if not request.get_data(cache=True):
        if optional:
            return
        raise PrefsError("bad_request", "A JSON body is required.")
    if not request.is_json:
        raise PrefsError("bad_request", "Send the body as application/json.")
    if request.get_json(silent=True) is None:
        raise PrefsError("bad_request", "The body is not valid JSON.")


def actor_name() -> str:
    return g.api_key.name
