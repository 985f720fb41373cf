"""The recipient pages in a real browser: headless Chromium, by mouse and by keyboard alone, checked by axe."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, submit, tab_to

pytestmark = [requires_browser, pytest.mark.slow]  # a real browser


@pytest.fixture
def site(app):
    with serve(app) as base_url:
        yield base_url


def link_paths(api, **body) -> dict[str, str]:
    result = api.post("/links", {"recipient_id": "cust-1", **body}).get_json()
    return {name: urlparse(result[name]).path for name in ("unsubscribe_url", "preferences_url")}


def test_confirm_unsubscribe_undo(api, site, newsletter, person):
    paths = link_paths(api, topic="newsletter")
    with browser_page() as page:
        page.goto(site + paths["unsubscribe_url"])
        assert page.get_by_role("heading", level=1).inner_text() == "Unsubscribe from Newsletter by email?"
        assert serious_violations(page) == []
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"  # the GET changed nothing

        submit(page, page.get_by_role("button", name="Unsubscribe"))
        assert page.get_by_role("heading", level=1).inner_text() == "You're unsubscribed"
        assert serious_violations(page) == []
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"

        submit(page, page.get_by_role("button", name="Undo"))
        assert page.get_by_role("heading", level=1).inner_text() == "Welcome back"
        assert serious_violations(page) == []
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"

        submit(page, page.get_by_role("link", name="Manage all your preferences"))
        assert page.get_by_role("heading", level=1).inner_text() == "Choose what you get from Acme"


def test_preference_center_by_keyboard_alone(api, site, newsletter, person):
    with browser_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as page:
        # From a link sent by email, texts cannot be switched on: the box is locked and says why.
        page.goto(site + link_paths(api, topic="newsletter")["preferences_url"])
        assert page.get_by_role("checkbox", name="Newsletter by text message").is_disabled()
        assert "switched on only from a link we sent you by text message" in page.get_by_role(
            "checkbox", name="Newsletter by text message"
        ).evaluate("e => document.getElementById(e.getAttribute('aria-describedby')).textContent")
        assert serious_violations(page) == []

        page.goto(site + link_paths(api, topic="newsletter", channel="sms")["preferences_url"])
        assert serious_violations(page) == []
        assert page.get_by_role("checkbox", name="Billing by email").is_disabled()
        assert page.get_by_role("checkbox", name="Billing by email").is_checked()

        tab_to(page, "e.name === 'newsletter:sms'")
        page.keyboard.press("Space")
        tab_to(page, "e.tagName === 'BUTTON'")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("status").inner_text() == "Your choices are saved."
        assert page.get_by_role("checkbox", name="Newsletter by text message").is_checked()
        assert serious_violations(page) == []
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


def test_stop_all_marketing_by_clicking(api, site, newsletter, person):
    paths = link_paths(api)
    with browser_page() as page:
        page.goto(site + paths["preferences_url"])
        page.get_by_label("Stop all marketing, on every channel").check()
        submit(page, page.get_by_role("button", name="Save my choices"))
        assert page.get_by_role("status").inner_text() == "Your choices are saved."
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "all_marketing_unsubscribed"
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"


def test_error_pages_are_accessible(site):
    with browser_page() as page:
        response = page.goto(site + "/u/not-a-valid-token")
        assert response.status == 400
        assert "This link doesn" in page.get_by_role("heading", level=1).inner_text()
        assert serious_violations(page) == []


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def boxes_on_the_page(page) -> dict[str, tuple[bool, bool]]:
    """Each topic:channel checkbox's (ticked, locked) as the browser has it."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('input[type=checkbox]')]
             .filter(e => e.name.includes(':') && !e.name.startsWith('*:'))
             .map(e => [e.name, [e.checked, e.disabled]]))"""
    )


def assert_boxes_match_check(api, page) -> dict[str, tuple[bool, bool]]:
    found = boxes_on_the_page(page)
    assert len(found) >= 8
    for name, (ticked, _locked) in found.items():
        topic, _, channel = name.partition(":")
        assert ticked == api.check(topic, channel, recipient_id="cust-1")["allowed"], name
    return found


def test_every_box_matches_check_through_each_stop_and_lifting_restores(api, site, newsletter, person):
    """Issue 13, acceptance 1: a topic unsubscribe, a channel stop and the all-marketing stop, each followed by
    the preference center in a real browser; then each stop lifted from its own box."""
    api.post("/topics", {"key": "offers", "name": "Offers", "channels": ["email", "sms"], "default_subscribed": {"email": True}})
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    preferences = site + link_paths(api, topic="newsletter", channel="sms")["preferences_url"]
    with browser_page(**PHONE) as page:
        page.goto(site + link_paths(api, topic="newsletter")["unsubscribe_url"])
        submit(page, page.get_by_role("button", name="Unsubscribe"))
        page.goto(preferences)
        after_topic = assert_boxes_match_check(api, page)
        assert after_topic["newsletter:email"] == [False, False]

        page.goto(site + link_paths(api)["unsubscribe_url"])  # all marketing by email
        submit(page, page.get_by_role("button", name="Unsubscribe"))
        page.goto(preferences)
        found = assert_boxes_match_check(api, page)
        assert found["offers:email"] == [False, True] and found["newsletter:sms"] == [True, False]
        described = page.get_by_role("checkbox", name="Offers by email").get_attribute("aria-describedby")
        assert "tick “Marketing by email”" in page.locator(f"#{described}").inner_text()

        page.get_by_label("Stop all marketing, on every channel").check()
        submit(page, page.get_by_role("button", name="Save my choices"))
        found = assert_boxes_match_check(api, page)
        assert all(
            locked and not ticked for name, (ticked, locked) in found.items() if name.split(":")[0] in ("newsletter", "offers")
        )
        assert serious_violations(page) == []

        page.get_by_label("Stop all marketing, on every channel").uncheck()
        submit(page, page.get_by_role("button", name="Save my choices"))
        assert_boxes_match_check(api, page)
        page.get_by_label("Marketing by email").check()
        submit(page, page.get_by_role("button", name="Save my choices"))
        assert assert_boxes_match_check(api, page) == after_topic  # exactly the choices from before the stops


def test_global_privacy_control_is_recorded_once(api, site, newsletter, person):
    path = link_paths(api)["preferences_url"]
    before = len(api.get("/recipients/cust-1/events").get_json()["events"])
    with browser_page(extra_http_headers={"Sec-GPC": "1"}) as page:
        page.goto(site + path)
        assert page.get_by_label("Do not sell or share my personal information").is_checked()
        page.reload()
        assert serious_violations(page) == []
    events = api.get("/recipients/cust-1/events").get_json()["events"]
    assert len(events) == before + 1 and (events[0]["kind"], events[0]["via"]) == ("do_not_sell_or_share", "gpc")
    assert api.post("/check/audience", {"recipient_id": "cust-1"}).get_json()["reason"] == "do_not_sell_or_share"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_pages_without_a_working_link_are_accessible(api, site, newsletter, person, size):
    with browser_page(**size) as page:
        for path, status in [("/", 200), ("/p", 200), ("/nowhere", 404), ("/u/not-a-valid-token", 400)]:
            response = page.goto(site + path)
            assert response.status == status, path
            assert "Acme" in page.title()
            assert serious_violations(page) == [], path
        page.goto(site + "/p")  # email sending off: the page says so instead of asking for an address
        assert "We can't send links by email at the moment" in page.get_by_role("status").inner_text()
        assert page.get_by_label("Your email address").count() == 0
        assert serious_violations(page) == []
