"""The languages the recipient pages and texts speak (SPEC §16), and which one a person gets. Pure: Babel's
catalogues, no Flask, so a service (the SMS replies) translates the same way the pages do.

The language is the one asked for on the page (`?lang=`), else the person's stored `locale` when it is one
of ours, else the best match of the browser's Accept-Language, else English. A tag matches one of ours
exactly (case and `-`/`_` aside) or by its primary language: `de-AT` is German, `pt-PT` gets Brazilian
Portuguese, which reads better to a Portuguese speaker than English does.

Catalogues live in prefs/translations/<locale>/LC_MESSAGES/messages.po, compiled to messages.mo beside
them; the compiled files are committed (a fresh clone runs with no build step) and a test fails when one
is not what compiling its .po gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

DEFAULT = "en"
# Public tag (as in <html lang> and ?lang=) -> Babel's locale identifier (the catalogue's folder).
LANGUAGES: dict[str, str] = {
    "en": "en",
    "es": "es",
    "fr": "fr",
    "de": "de",
    "pt-BR": "pt_BR",
    "hi": "hi",
    "ar": "ar",
}
RIGHT_TO_LEFT = frozenset({"ar"})
# Each language named in itself, for the page's language menu.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
    "pt-BR": "Português (Brasil)",
    "hi": "हिन्दी",
    "ar": "العربية",
}
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
_BY_KEY = {tag.lower(): tag for tag in LANGUAGES}
_BY_PRIMARY = {tag.split("-")[0].lower(): tag for tag in LANGUAGES}


def match(tag: str | None) -> str | None:
    """Our language for a tag such as `de`, `DE-at`, `pt_BR` or `pt`; None when we have none for it."""
    if not tag or not isinstance(tag, str) or len(tag) > 35:
        return None
    key = tag.strip().replace("_", "-").lower()
    return _BY_KEY.get(key) or _BY_PRIMARY.get(key.split("-")[0])


def negotiate(asked: str | None, stored: str | None, accepted: Iterable[tuple[str, float]] = ()) -> str:
    """The language of a page: `asked` (?lang=) over the stored `locale` over Accept-Language (tag, quality),
    best quality first, then English."""
    for candidate in (asked, stored):
        found = match(candidate)
        if found:
            return found
    for tag, quality in sorted(accepted, key=lambda pair: -pair[1]):
        found = match(tag) if quality > 0 else None
        if found:
            return found
    return DEFAULT


def direction(tag: str) -> str:
    return "rtl" if tag in RIGHT_TO_LEFT else "ltr"


@cache
def translations(tag: str) -> NullTranslations:
    """The compiled catalogue of one of our languages (English: the message ids themselves)."""
    if tag == DEFAULT or tag not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [LANGUAGES[tag]])
