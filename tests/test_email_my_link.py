"""'Email me my link' with mail on (SPEC §14, §16): POST /p answers one page, byte for byte, whatever is typed,
and a fresh preference link is mailed (through the outbox and the real worker, to a real SMTP server on
loopback) only to a known, active, unsuppressed address, in the person's language; per address at most 3
an hour, silently; per IP the 429 page after 10. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from smtp_server import smtp_server  # noqa: F401  (a fixture)
from sqlalchemy import func, select
from test_webhooks import deliver

from prefs.extensions import db
from prefs.models import OutboxMessage

LINK = re.compile(r"https://prefs\.example\.com(/p/[A-Za-z0-9._-]+)")


@pytest.fixture
def settings_override(smtp_server):  # noqa: F811
    return {"PREFS_SMTP_URL": smtp_server.url, "PREFS_MAIL_FROM": "news@acme.example"}


def ask(client, typed: str, ip: str, lang: str | None = None):
    path = f"/p?lang={lang}" if lang else "/p"
    return client.post(path, data={"email": typed}, environ_base={"REMOTE_ADDR": ip})


def queued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_a_known_address_gets_a_fresh_link_in_its_language_that_works(api, app, client, newsletter, smtp_server):  # noqa: F811
    assert api.put("/recipients/cust-1", {"email": "Ann@Example.com", "locale": "de"}).status_code == 201
    page = ask(client, " ANN@example.com ", "198.51.100.1")
    assert page.status_code == 200
    assert "If this address is one we send to, a new link is on its way." in page.get_data(as_text=True)
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0].rcpt_tos == ("ann@example.com",)
    assert message["Subject"] == "Ihr Link zu Ihren Einstellungen bei Acme"
    text = message.get_body(("plain",)).get_content()
    path = LINK.search(text).group(1)
    assert path in message.get_body(("html",)).get_content()
    preferences = client.get(path)
    assert preferences.status_code == 200 and "Newsletter" in preferences.get_data(as_text=True)


def test_with_mail_on_an_expired_link_and_the_p_page_offer_the_form(api, client, newsletter, person):
    from test_pages import expired_links, path_of

    expired = client.get(path_of(expired_links(api, topic="newsletter")["preferences_url"]))
    assert expired.status_code == 410
    for html in (expired.get_data(as_text=True), client.get("/p").get_data(as_text=True)):
        assert re.search(r'<form method="post" action="/p\?lang=en"', html) and 'name="email"' in html
        assert "We can't send links" not in html


def test_without_a_stored_locale_the_mail_speaks_the_pages_language(api, app, client, smtp_server):  # noqa: F811
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    ask(client, "ann@example.com", "198.51.100.1", lang="es")
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Su enlace a sus preferencias en Acme"


def test_a_stored_locale_without_mails_in_its_language_gets_the_pages_language(api, app, client, smtp_server):  # noqa: F811
    """A stored "ja" (no catalogue) won over the page's Spanish and fell back to English (found in review)."""
    api.put("/recipients/cust-1", {"email": "ann@example.com", "locale": "ja"})
    ask(client, "ann@example.com", "198.51.100.1", lang="es")
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Su enlace a sus preferencias en Acme"


def test_only_a_known_active_unsuppressed_address_is_mailed_and_the_page_never_tells(
    api,
    app,
    client,
    runner,
    tmp_path,
    smtp_server,  # noqa: F811
):
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.put("/recipients/gone", {"email": "gone@example.com"})
    assert api.post("/recipients/gone/deactivate").status_code == 200
    api.put("/recipients/stopped", {"email": "stopped@example.com"})
    listing = tmp_path / "suppress.txt"
    listing.write_text("stopped@example.com\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    before = queued(app)

    pages = {}
    for n, typed in enumerate(
        ["nobody@example.com", "gone@example.com", "stopped@example.com", "not an address", "", "x" * 400, "ann@example.com"]
    ):
        answer = ask(client, typed, f"198.51.100.{n + 1}")
        assert answer.status_code == 200
        pages[typed] = answer.data
    assert len(set(pages.values())) == 1  # byte for byte the same page (it carries no CSRF token)
    assert queued(app) - before == 1  # only Ann's

    deliver(app)
    smtp_server.wait_for(1)
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [("ann@example.com",)]


def test_one_address_is_mailed_at_most_three_times_an_hour_and_the_page_does_not_say(api, app, client, smtp_server):  # noqa: F811
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.put("/recipients/cust-2", {"email": "bob@example.com"})
    answers = [
        ask(client, spelling, f"198.51.100.{n + 1}") for n, spelling in enumerate(["ann@example.com", "ANN@example.com"] * 3)
    ]
    assert [answer.status_code for answer in answers] == [200] * 6
    assert len({answer.data for answer in answers}) == 1  # the 4th to 6th look like the first
    ask(client, "bob@example.com", "198.51.100.99")  # another address is not held back
    deliver(app)
    received = [envelope.rcpt_tos[0] for envelope in smtp_server.envelopes]
    assert sorted(received) == ["ann@example.com"] * 3 + ["bob@example.com"]


def test_one_place_asking_for_many_addresses_gets_the_429_page_after_ten(api, app, client, smtp_server):  # noqa: F811
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    statuses = [ask(client, f"p{n}@example.com", "203.0.113.7").status_code for n in range(10)]
    refused = ask(client, "ann@example.com", "203.0.113.7")
    assert statuses == [200] * 10 and refused.status_code == 429
    deliver(app)
    assert smtp_server.messages == []  # the refused request looked nothing up
