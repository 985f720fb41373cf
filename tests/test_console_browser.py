"""Acceptance 4: the console in headless Chromium, checked by axe-core on every kind of page, wide and on a phone."""

from __future__ import annotations

import logging

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, submit, tab_to
from console_client import PASSWORD

pytestmark = [requires_browser, pytest.mark.slow]  # a real browser
pytest_plugins = ["console_fixtures"]


@pytest.fixture
def site(app):
    with serve(app) as base_url:
        yield base_url


def sign_in(page, site: str, email: str) -> None:
    page.goto(site + "/console/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"  # sent to sign in first
    assert serious_violations(page) == []
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Sign in"))
    assert page.get_by_role("heading", level=1).inner_text() == "Find a person"


def test_an_agent_finds_a_caller_by_phone_and_stops_a_topic_by_text(api, site, make_staff, newsletter, person, caplog):
    caplog.set_level(logging.DEBUG)
    api.patch(
        "/recipients/cust-1/preferences",
        {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}], "reason": "signed up"},
    )
    make_staff("agent@example.com", "agent")
    with browser_page() as page:
        sign_in(page, site, "agent@example.com")
        assert serious_violations(page) == []

        page.get_by_label("Recipient id, email address or phone number").fill("(415) 555-0123")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        # The number stays out of the address bar (and so out of access logs); the port may hold any digits.
        path_and_query = page.url.split("/", 3)[-1]
        assert "555" not in path_and_query, page.url
        assert serious_violations(page) == []
        submit(page, page.get_by_role("link", name="cust-1"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Recipient cust-1")
        assert serious_violations(page) == []

        box = page.get_by_role("checkbox", name="Newsletter by text message")
        assert box.is_checked()
        assert page.get_by_role("checkbox", name="Billing by text message").is_disabled()
        box.uncheck()
        page.get_by_label("Reason for the change", exact=True).fill("Caller asked for no more texts")
        with page.expect_navigation():
            page.get_by_role("button", name="Save changes").click()
        assert page.get_by_role("status").first.inner_text() == "Saved: 1 change recorded."
        assert not page.get_by_role("checkbox", name="Newsletter by text message").is_checked()
        newest = page.locator("#history table tbody tr").first.inner_text()  # the consents' tables come before it
        assert "Newsletter by text message: opted in → opted out" in newest
        assert "agent@example.com (staff)" in newest and "Caller asked for no more texts" in newest
        assert serious_violations(page) == []
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "unsubscribed"
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"
    logged = caplog.text  # the server's access log included (SPEC §10 S2)
    assert "GET /console/recipients/cust-1" in logged
    for secret in ("555-0123", "555%2D0123", "5550123", "ann@example.com", "ann%40example.com", PASSWORD):
        assert secret not in logged, secret


ADMIN_PAGES = {
    "/console/admin/topics": "Topics",
    "/console/admin/topics/newsletter": "Newsletter newsletter",
    "/console/admin/topics/billing": "Billing billing",
    "/console/admin/keys": "API keys",
    "/console/admin/staff": "Staff accounts",
    "/console/admin/events": "Admin events",
}


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["wide", "phone"])
def test_console_pages_have_no_serious_accessibility_violations(api, site, make_staff, newsletter, person, viewport):
    api.put("/recipients/gone", {"email": "gone@example.com"})
    api.delete("/recipients/gone")  # leaves a suppression nobody holds
    make_staff("admin@example.com", "admin")
    with browser_page(viewport=viewport) as page:
        sign_in(page, site, "admin@example.com")
        page.get_by_label("Recipient id, email address or phone number").fill("gone@example.com")
        submit(page, page.get_by_role("button", name="Search"))
        assert page.get_by_role("heading", name="This email address is suppressed").is_visible()
        assert serious_violations(page) == []

        page.goto(site + "/console/recipients/cust-1")
        page.get_by_text("Change contact data").click()  # the contact form, open
        page.get_by_role("button", name="Save changes").click()  # refused: no reason; the browser says so
        assert page.get_by_label("Reason for the change", exact=True).evaluate("e => !e.validity.valid")
        assert serious_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # nothing off the side of a phone

        for path, heading in ADMIN_PAGES.items():
            page.goto(site + path)
            assert page.get_by_role("heading", level=1).inner_text() == heading
            assert serious_violations(page) == [], path
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path


def test_the_console_works_by_keyboard_alone(api, site, make_staff, newsletter, person):
    make_staff("agent@example.com", "agent")
    with browser_page() as page:
        page.goto(site + "/console/login")

        def press_enter() -> None:
            with page.expect_navigation():
                page.keyboard.press("Enter")

        tab_to(page, "e.name === 'email'")
        page.keyboard.type("agent@example.com")
        tab_to(page, "e.name === 'password'")
        page.keyboard.type(PASSWORD)
        press_enter()
        tab_to(page, "e.name === 'q'")
        page.keyboard.type("ann@example.com")
        press_enter()
        tab_to(page, "e.textContent === 'cust-1'")
        press_enter()
        tab_to(page, "e.name === 'newsletter:email'")
        page.keyboard.press("Space")
        tab_to(page, "e.name === 'reason' && e.id === 'choices-reason'")
        page.keyboard.type("asked by phone")
        tab_to(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Save changes'")
        press_enter()
        assert page.get_by_role("status").first.inner_text() == "Saved: 1 change recorded."
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"
