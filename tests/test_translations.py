"""The shipped message catalogues (SPEC §16, README "Languages"): every message of the recipient pages, their
error pages and the SMS replies is translated in every language, with its placeholders and markup intact, and
the committed .mo files are what compiling the .po files gives (a fresh clone runs with no build step).

No app, no database: the catalogues and the sources are read as files.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from prefs import languages

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [tag for tag in languages.LANGUAGES if tag != languages.DEFAULT]
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}
# %(name)s placeholders and HTML tags: a translation must carry the same ones as its message id.
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|<[^>]+>")
SMS_KEYWORDS = re.compile(r"\b(?:STOP|START|HELP)\b")


def po_path(tag: str) -> Path:
    return languages.TRANSLATIONS_DIR / languages.LANGUAGES[tag] / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(tag: str) -> Catalog:
    with po_path(tag).open("rb") as file:
        return read_po(file, locale=languages.LANGUAGES[tag])


@cache
def source_ids() -> frozenset[str]:
    """Every message id the sources mark today, read as `pybabel extract` reads them (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    return frozenset(message for _file, _line, message, _comments, _context in found if isinstance(message, str))


def test_the_sources_mark_the_pages_the_error_pages_and_the_sms_replies():
    ids = source_ids()
    for expected in (
        "Choose what you get from %(brand)s",  # a template
        "We can't find that page",  # prefs/error_pages.py
        "This link has expired",
        "We can't do that right now",  # the outage page (prefs/outages.py)
        "Too many tries",  # the rate-limited page
        "%(program)s: You are unsubscribed and will get no more texts from us. Reply START to resubscribe.",
        "Email me my link",
    ):
        assert expected in ids
    assert not any(message.startswith("Console") for message in ids)


@pytest.mark.parametrize("tag", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy_or_obsolete(tag):
    shipped = catalogue(tag)
    messages = {message.id: message for message in shipped if message.id}
    assert not (source_ids() - messages.keys()), "not in the catalogue: run scripts/translations.sh update"
    assert not (messages.keys() - source_ids()), "no longer in the sources (obsolete): run scripts/translations.sh update"
    assert not shipped.obsolete, f"obsolete entries (#~) in {po_path(tag)}"
    assert not [message.id for message in messages.values() if not message.string], "untranslated"
    assert not [message.id for message in messages.values() if message.fuzzy], "fuzzy: check and clear the flag"
    assert not shipped.fuzzy, "the catalogue's header is fuzzy"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_translations_keep_the_placeholders_and_markup(tag):
    mismatched = [
        (message.id, message.string)
        for message in catalogue(tag)
        if message.id and sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string))
    ]
    assert not mismatched


@pytest.mark.parametrize("tag", TRANSLATED)
def test_sms_replies_keep_the_keywords_in_english(tag):
    """STOP, START and HELP are what carriers and services/sms.py answer to, in every language."""
    for message in catalogue(tag):
        if message.id and message.id.startswith("%(program)s:"):
            assert sorted(SMS_KEYWORDS.findall(message.id)) == sorted(SMS_KEYWORDS.findall(message.string)), message.id


@pytest.mark.parametrize("tag", TRANSLATED)
def test_the_committed_mo_is_the_compiled_po(tag):
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(tag), use_fuzzy=False)
    mo = po_path(tag).with_suffix(".mo")
    assert mo.exists(), "run scripts/translations.sh compile and commit the .mo"
    assert mo.read_bytes() == compiled.getvalue(), "stale .mo: run scripts/translations.sh compile and commit it"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_each_language_loads_and_translates(tag):
    """The catalogue is found where prefs/languages.py looks, and is that language's."""
    translated = languages.translations(tag).gettext("Save my choices")
    assert translated and translated != "Save my choices"
    assert catalogue(tag).locale_identifier == languages.LANGUAGES[tag]


def test_no_catalogue_for_a_language_we_do_not_offer():
    folders = {path.name for path in languages.TRANSLATIONS_DIR.iterdir() if path.is_dir()}
    assert folders == {languages.LANGUAGES[tag] for tag in TRANSLATED}
