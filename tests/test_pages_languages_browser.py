"""The recipient pages in every language in a real browser (issue 13, acceptance 2): axe finds no serious or
critical issue at phone and desktop width, and the Arabic pages are mirrored (right to left)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, submit
from test_pages import expired_links

from prefs import languages

pytestmark = [requires_browser, pytest.mark.slow]  # a real browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def site(app):
    with serve(app) as base_url:
        yield base_url


def link_paths(api, **body) -> dict[str, str]:
    result = api.post("/links", {"recipient_id": "cust-1", **body}).get_json()
    return {name: urlparse(result[name]).path for name in ("unsubscribe_url", "preferences_url")}


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_in_every_language_is_accessible(api, site, newsletter, person, size):
    links = link_paths(api, topic="newsletter")
    expired = urlparse(expired_links(api, topic="newsletter")["preferences_url"]).path
    with browser_page(**size) as page:
        for tag in languages.LANGUAGES:
            words = languages.translations(tag)
            for path, status in [
                (links["preferences_url"], 200),
                (links["unsubscribe_url"], 200),
                ("/", 200),
                ("/p", 200),
                ("/nowhere", 404),
                ("/u/not-a-valid-token", 400),
                (expired, 410),
            ]:
                response = page.goto(f"{site}{path}?lang={tag}")
                assert response.status == status, (tag, path)
                assert page.evaluate("document.documentElement.lang") == tag
                assert page.evaluate("getComputedStyle(document.body).direction") == languages.direction(tag)
                assert serious_violations(page) == [], (tag, path)
                assert no_horizontal_scroll(page), (tag, path)
            # The confirm page's button, the page after it, its undo, and the preference center's save.
            page.goto(f"{site}{links['unsubscribe_url']}?lang={tag}")
            submit(page, page.get_by_role("button", name=words.gettext("Unsubscribe"), exact=True))
            assert page.get_by_role("heading", level=1).inner_text() == words.gettext("You're unsubscribed")
            assert serious_violations(page) == [], (tag, "unsubscribed")
            submit(page, page.get_by_role("button", name=words.gettext("Undo: keep getting them")))
            assert page.get_by_role("heading", level=1).inner_text() == words.gettext("Welcome back")
            assert serious_violations(page) == [], (tag, "undone")
            page.goto(f"{site}{links['preferences_url']}?lang={tag}")
            page.get_by_label(words.gettext("Do not sell or share my personal information")).check()
            submit(page, page.get_by_role("button", name=words.gettext("Save my choices")))
            assert page.get_by_role("status").inner_text() == words.gettext("Your choices are saved.")
            assert serious_violations(page) == [], (tag, "saved")
            page.get_by_label(words.gettext("Do not sell or share my personal information")).uncheck()
            submit(page, page.get_by_role("button", name=words.gettext("Save my choices")))


MIRRORED = """() => {
  const box = (selector) => document.querySelector(selector).getBoundingClientRect();
  const row = document.querySelector('.matrix tbody tr');
  const cells = [...row.children].map((cell) => cell.getBoundingClientRect());
  const heading = document.querySelector('main h1');
  const text = document.createRange();
  text.selectNodeContents(heading);
  const words = text.getBoundingClientRect();
  const name = document.createRange();
  name.selectNodeContents(row.children[0].firstChild);
  const caption = document.createRange();
  caption.selectNodeContents(document.querySelector('.matrix caption'));
  return {
    name: name.getBoundingClientRect(), caption: caption.getBoundingClientRect(), table: box('.matrix'),
    main: box('main'), heading: heading.getBoundingClientRect(), words,
    topic: cells[0], firstBox: cells[1], secondBox: cells[2],
    legend: box('fieldset legend'), fieldset: box('fieldset'),
  };
}"""


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_arabic_pages_read_right_to_left(api, site, newsletter, person, size):
    """The main column's text starts at the right, a row's topic name is its rightmost cell and its first box
    (email) is right of the second (text message); English is the mirror image."""
    links = link_paths(api)
    with browser_page(**size) as page:
        page.goto(f"{site}{links['preferences_url']}?lang=ar")
        rtl = page.evaluate(MIRRORED)
        page.goto(f"{site}{links['preferences_url']}?lang=en")
        ltr = page.evaluate(MIRRORED)

    assert rtl["words"]["right"] == pytest.approx(rtl["heading"]["right"], abs=2)  # the heading's text sits right
    assert rtl["words"]["width"] < rtl["heading"]["width"] - 20 or size is PHONE
    assert rtl["topic"]["left"] > rtl["firstBox"]["left"] > rtl["secondBox"]["left"]
    assert rtl["name"]["right"] > rtl["topic"]["right"] - 12  # the topic's name starts at its cell's right
    assert rtl["caption"]["right"] == pytest.approx(rtl["table"]["right"], abs=12)
    assert rtl["legend"]["right"] > rtl["fieldset"]["right"] - 40  # the legend at the fieldset's right
    assert ltr["words"]["left"] == pytest.approx(ltr["heading"]["left"], abs=2)
    assert ltr["topic"]["left"] < ltr["firstBox"]["left"] < ltr["secondBox"]["left"]
    assert ltr["name"]["left"] < ltr["topic"]["left"] + 12
    assert ltr["caption"]["left"] == pytest.approx(ltr["table"]["left"], abs=12)
    assert ltr["legend"]["left"] < ltr["fieldset"]["left"] + 40
