"""Flask-Babel for the recipient pages and the pages anyone may land on (home, errors): which language a
request gets (prefs/languages.py decides) and what templates see of it (`<html lang dir>`).

The console and the API stay in English: staff and integrators share one vocabulary with the docs.

Words are looked up in `languages.translations(tag)`, the catalogue the mails use too, through this module's
gettext and lazy_gettext (and the templates' `_`/`{% trans %}`): Flask-Babel's own gettext finds the request's
context, domain, locale and catalogue again on every call, which cost a rendered page about a tenth of its
time. Flask-Babel still picks the locale its date and number filters use.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, refresh
from flask_babel.speaklater import LazyString

from . import languages

ENGLISH_ONLY = ("/console", "/api/")
babel = Babel()


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(languages.TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=lambda: languages.LANGUAGES[page_language()])
    # jinja2.ext.i18n (which Flask-Babel added) gives the environment install_gettext_callables.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda text: _catalogue().gettext(text),
        ngettext=lambda singular, plural, n: _catalogue().ngettext(singular, plural, n),
        pgettext=lambda context, text: _catalogue().pgettext(context, text),
        npgettext=lambda context, singular, plural, n: _catalogue().npgettext(context, singular, plural, n),
        newstyle=True,
    )

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


def _catalogue():
    """This request's catalogue (English outside a request: a CLI or the worker rendering a page)."""
    return languages.translations(page_language() if has_request_context() else languages.DEFAULT)


def gettext(text: str, **variables: Any) -> str:
    """`text` in this request's language, `%(name)s` filled from `variables` (as Flask-Babel's gettext)."""
    translated = _catalogue().gettext(text)
    return translated % variables if variables else translated


def lazy_gettext(text: str, **variables: Any) -> LazyString:
    """gettext when the string is used, for words defined at import time."""
    return LazyString(gettext, text, **variables)
