"""Flask's signed-cookie session, minus the work most requests do not need.

Only the console (staff sign-in) and the pages' CSRF tokens use the session; the API, the one-click POST, the
webhooks and the health checks never send its cookie. Flask's own interface still builds an itsdangerous
serializer on every request before it looks for the cookie, and reads six cookie settings before it sees that
an empty session has nothing to save: a sixth of the cost of the cheapest API answer (issue 17). This one looks
for the cookie first, keeps one serializer per set of keys, and returns at once from an empty, untouched
session. What it reads, signs and writes is Flask's, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

if TYPE_CHECKING:
    from flask import Flask, Request, Response
    from itsdangerous import URLSafeTimedSerializer


class LeanCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Keyed by the keys themselves: a test or an operator changing them gets a new serializer.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what Flask answers without a cookie, without building a serializer
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            return  # Flask does nothing for an empty, unmodified session either; it reads its settings first
        super().save_session(app, session, response)
