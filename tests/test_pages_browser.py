"""The recipient pages in a real browser: headless Chromium, by mouse and by keyboard alone, checked by axe."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, tab_to

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

        page.get_by_role("button", name="Unsubscribe").click()
        assert page.get_by_role("heading", level=1).inner_text() == "You're unsubscribed"
        assert serious_violations(page) == []
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"

        page.get_by_role("button", name="Undo").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Welcome back"
        assert serious_violations(page) == []
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"

        page.get_by_role("link", name="Manage all your preferences").click()
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
        page.keyboard.press("Enter")
        page.wait_for_load_state()
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
        page.get_by_role("button", name="Save my choices").click()
        assert page.get_by_role("status").inner_text() == "Your choices are saved."
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "all_marketing_unsubscribed"
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"


def test_error_pages_are_accessible(site):
    with browser_page() as page:
        response = page.goto(site + "/u/not-a-valid-token")
        assert response.status == 400
        assert "This link doesn" in page.get_by_role("heading", level=1).inner_text()
        assert serious_violations(page) == []
