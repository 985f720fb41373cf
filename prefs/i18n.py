"""Flask-Babel for the recipient pages and the pages anyone may land on (home, errors): which language a
request gets (prefs/languages.py decides) and what templates see of it (`<html lang dir>`).

The console and the API stay in English: staff and integrators share one vocabulary with the docs.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel, refresh

from . import languages

ENGLISH_ONLY = ("/console", "/api/")
babel = Babel()


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(languages.TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=lambda: languages.LANGUAGES[page_language()])

    @app.context_processor
    def language_context() -> dict[str, object]:
        tag = page_language()
        return {
            "page_lang": tag,
            "page_dir": languages.direction(tag),
            "language_names": languages.NATIVE_NAMES,
        }


def page_language() -> str:
    """The public tag of this request's language, decided once per request (and again after
    `use_recipient_locale`)."""
    tag = g.get("page_language")
    if tag is None:
        tag = languages.DEFAULT if request.path.startswith(ENGLISH_ONLY) else _negotiated()
        g.page_language = tag
    return tag


def _negotiated() -> str:
    return languages.negotiate(request.args.get("lang"), g.get("recipient_locale"), request.accept_languages)


def use_recipient_locale(locale: str | None) -> None:
    """The person's stored locale, once a page knows whose it is: it outranks the browser's languages."""
    g.recipient_locale = locale
    g.pop("page_language", None)
    refresh()
