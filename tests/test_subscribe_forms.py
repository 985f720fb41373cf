"""Hosted subscribe forms (SPEC §14, issue 14 acceptance 5) over HTTP, with a real SMTP relay on loopback: admins
define forms (API and console); /s/<key> shows one in the visitor's language; its POST answers byte-identical
pages whatever address is typed (known, unknown, suppressed, deactivated, malformed, empty), mails exactly
one confirmation per accepted submission and none for a filled honeypot or past the per-address limit,
answers 429 past the per-IP limit, and every topic on a form waits for the person's confirmation. Round
trip: form -> mail -> /c/ link -> POST -> the check says subscribed, with the form's evidence. Mail off: the
page says signups are unavailable. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from conftest import BASE_SETTINGS, _reset, requires_postgres
from smtp_server import smtp_server  # noqa: F401  (a fixture)
from sqlalchemy import func, select, text
from test_import import meanwhile  # noqa: F401  (a fixture)
from test_webhooks import deliver

from prefs import create_app
from prefs.db.transactions import unit_of_work
from prefs.extensions import db
from prefs.models import AdminEvent, ConsentRequest, OutboxMessage, Recipient

pytest_plugins = ["console_fixtures"]

ORIGIN = "https://localhost"  # the session cookie holding the CSRF token is Secure outside development
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM_LINK = re.compile(r"https://prefs\.example\.com(/c/[A-Za-z0-9_.-]+)")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) signup test"
NOTICE = "Send me the news of Acme by email. I can unsubscribe at any time."


@pytest.fixture
def settings_override(smtp_server):  # noqa: F811
    return {"PREFS_SMTP_URL": smtp_server.url, "PREFS_MAIL_FROM": "news@acme.example"}


@pytest.fixture
def offers(api) -> dict:
    """A single opt-in topic, by email only, off by default: on a form it still waits for confirmation."""
    response = api.post("/topics", {"key": "offers", "name": "Offers", "channels": ["email"], "names": {"de": "Angebote"}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def form(api, offers) -> dict:
    assert api.post("/notices", {"key": "signup", "text": NOTICE, "language": "en"}).status_code == 201
    response = api.post(
        "/forms", {"key": "news", "title": "Acme news", "topics": ["offers"], "notice": "signup", "thanks": "See you soon."}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class Visitor:
    """A browser on the form's page: the session cookie and CSRF token it got there, and its IP."""

    def __init__(self, app, ip: str = "198.51.100.7", lang: str | None = None) -> None:
        self.client = app.test_client()
        self.ip = ip
        self.query = f"?lang={lang}" if lang else ""
        self.page = self.client.get(f"/s/news{self.query}", base_url=ORIGIN, environ_base={"REMOTE_ADDR": ip})
        match = CSRF.search(self.page.get_data(as_text=True))
        self.token = match.group(1) if match else None

    def submit(self, email: str, ip: str | None = None, **extra):
        data = {"csrf_token": self.token, "email": email, "website": "", **extra}
        return self.client.post(
            f"/s/news{self.query}",
            data={name: value for name, value in data.items() if value is not None},
            base_url=ORIGIN,
            headers={"User-Agent": BROWSER},
            environ_base={"REMOTE_ADDR": ip or self.ip},
        )


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def mailed_to(app, smtp_server) -> list[str]:  # noqa: F811
    deliver(app)
    return sorted(envelope.rcpt_tos[0] for envelope in smtp_server.envelopes)


# --- admins define forms ------------------------------------------------------------------------------
def test_admins_create_read_change_and_delete_forms_over_the_api(api, app, client, form, newsletter):
    assert form == {
        "key": "news",
        "title": "Acme news",
        "topics": ["offers"],
        "notice": "signup",
        "thanks": "See you soon.",
        "channel": "email",
        "url": "https://prefs.example.com/s/news",
        "created_at": form["created_at"],
        "updated_at": form["updated_at"],
    }
    assert api.get("/forms").get_json()["forms"] == [form]
    assert api.get("/forms/news").get_json() == form
    changed = api.patch("/forms/news", {"title": "Acme news, monthly", "topics": ["offers", "newsletter"]})
    assert changed.status_code == 200 and changed.get_json()["topics"] == ["offers", "newsletter"]
    assert api.patch("/forms/news", {"key": "other"}).get_json()["error"]["code"] == "immutable_field"
    assert api.post("/forms", {"key": "news", "title": "T", "topics": ["offers"], "notice": "signup"}).status_code == 409
    refused = {
        "no notice": {"key": "f1", "title": "T", "topics": ["offers"], "notice": "nope"},
        "mandatory": {"key": "f2", "title": "T", "topics": ["billing"], "notice": "signup"},
        "sms": {"key": "f3", "title": "T", "topics": ["offers"], "notice": "signup", "channel": "sms"},
        "no topics": {"key": "f4", "title": "T", "topics": [], "notice": "signup"},
        "bad key": {"key": "Not A Key", "title": "T", "topics": ["offers"], "notice": "signup"},
    }
    for why, body in refused.items():
        assert api.post("/forms", body).status_code == 422, why
    assert (
        api.post("/forms", {"key": "f5", "title": "T", "topics": ["nope"], "notice": "signup"}).get_json()["error"]["code"]
        == "unknown_topic"
    )
    assert api.delete("/forms/news").status_code == 204
    assert api.get("/forms/news").status_code == 404 and api.delete("/forms/news").status_code == 404
    assert client.get("/s/news", base_url=ORIGIN).status_code == 404
    with app.app_context():
        actions = db.session.scalars(select(AdminEvent.action).where(AdminEvent.target == "news").order_by(AdminEvent.id))
        assert list(actions) == ["form.created", "form.changed", "form.deleted"]


def test_admins_manage_forms_in_the_console_and_others_cannot(api, app, console, offers):
    api.post("/notices", {"key": "signup", "text": NOTICE})
    admin = console("admin")
    made = admin.submit(
        "/console/admin/forms",
        "/console/admin/forms",
        {"key": "news", "title": "Acme news", "topics": ["offers"], "notice": "signup"},
    )
    assert made.status_code == 303, made.get_data(as_text=True)
    page = admin.text("/console/admin/forms/news")
    assert "https://prefs.example.com/s/news" in page and "Acme news" in page
    saved = admin.submit("/console/admin/forms/news", "/console/admin/forms/news", {"title": "Acme news, monthly"})
    assert saved.status_code == 303 and api.get("/forms/news").get_json()["title"] == "Acme news, monthly"
    bad = admin.submit("/console/admin/forms/news", "/console/admin/forms/news", {"topics": []})
    assert bad.status_code == 422 and api.get("/forms/news").get_json()["topics"] == ["offers"]
    for role in ("viewer", "agent"):
        assert console(role).get("/console/admin/forms").status_code == 403
    assert admin.submit("/console/admin/forms/news", "/console/admin/forms/news/delete").status_code == 303
    assert api.get("/forms/news").status_code == 404


# --- the page ----------------------------------------------------------------------------------------
def test_the_page_shows_the_form_in_the_visitors_language_with_a_honeypot_and_a_csrf_token(app, form):
    visitor = Visitor(app, lang="de")
    page = visitor.page
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and visitor.token
    assert '<html lang="de"' in html and "Acme news" in html and "Angebote" in html and NOTICE in html
    assert 'lang="en"' in html  # the notice's own language, inside a German page
    assert "Ihre E-Mail-Adresse" in html  # the page's words are translated
    assert 'name="website"' in html and 'tabindex="-1"' in html and 'aria-hidden="true"' in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert app.test_client().get("/s/nope", base_url=ORIGIN).status_code == 404


def test_every_address_gets_the_same_page_and_only_accepted_ones_a_mail(api, app, form, runner, tmp_path, smtp_server):  # noqa: F811
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.put("/recipients/gone", {"email": "gone@example.com"})
    assert api.post("/recipients/gone/deactivate").status_code == 200
    listing = tmp_path / "suppress.txt"
    listing.write_text("stopped@example.com\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    visitor = Visitor(app)
    typed = ["ann@example.com", "new.person@example.com", "stopped@example.com", "gone@example.com", "not an address", "",
             "x" * 400]  # fmt: skip
    pages = {}
    for n, address in enumerate(typed):
        answer = visitor.submit(address, ip=f"203.0.113.{n + 1}")
        assert answer.status_code == 200, address
        pages[address] = answer.data
    assert len(set(pages.values())) == 1  # byte for byte (the answer carries no CSRF token)
    assert "open the link in the email" in pages[""].decode() and "See you soon." in pages[""].decode()
    # One mail per accepted address: a known one, a new one, a suppressed one (its confirmation is the only way
    # back in); none for a deactivated account or what is not an address.
    assert mailed_to(app, smtp_server) == ["ann@example.com", "new.person@example.com", "stopped@example.com"]
    assert count(app, ConsentRequest) == 3
    assert api.check("offers", "email", email="ann@example.com")["reason"] == "no_consent"  # waits for confirmation


def test_a_filled_honeypot_is_ignored(app, form, smtp_server):  # noqa: F811
    visitor = Visitor(app)
    person = visitor.submit("bot-target@example.com")
    bot = visitor.submit("bot-target2@example.com", ip="203.0.113.9", website="https://spam.example")
    assert bot.status_code == 200 and bot.data == person.data
    assert count(app, Recipient, Recipient.email == "bot-target2@example.com") == 0
    assert mailed_to(app, smtp_server) == ["bot-target@example.com"]


def test_one_address_asking_again_is_mailed_once_and_the_page_does_not_say(app, form, smtp_server):  # noqa: F811
    """The same topics asked for again within an hour, while the first link is pending, send no second mail
    (found in review: with a limit of three an hour per address and per way in, one address got six a minute);
    the per-address limit (three an hour) still holds across forms asking for other topics."""
    visitor = Visitor(app)
    answers = [
        visitor.submit(spelling, ip=f"203.0.113.{n}") for n, spelling in enumerate(["lena@example.com", "LENA@example.com "] * 3)
    ]
    assert [answer.status_code for answer in answers] == [200] * 6 and len({answer.data for answer in answers}) == 1
    visitor.submit("kai@example.com", ip="203.0.113.99")  # another address is not held back
    assert mailed_to(app, smtp_server) == ["kai@example.com", "lena@example.com"]
    assert count(app, ConsentRequest) == 2


def test_the_form_and_email_me_my_link_share_one_budget_of_mails_to_an_address(api, app, client, form, smtp_server):  # noqa: F811
    """Each page counted its own three mails an hour to an address, so strangers typing it on both sent six."""
    assert api.put("/recipients/cust-1", {"email": "ann@example.com"}).status_code == 201
    assert Visitor(app, ip="198.51.100.20").submit("ann@example.com").status_code == 200
    for n in range(3):
        assert (
            client.post("/p", data={"email": "ann@example.com"}, environ_base={"REMOTE_ADDR": f"198.51.100.{30 + n}"}).status_code
            == 200
        )
    assert mailed_to(app, smtp_server) == ["ann@example.com"] * 3


def test_the_same_request_after_an_hour_or_for_more_topics_is_mailed_again(app, api, form, smtp_server):  # noqa: F811
    from prefs.runtime import runtime
    from prefs.services.events import Actor
    from prefs.services.subscriptions import Subscriber, subscribe

    assert api.post("/topics", {"key": "tips", "name": "Tips", "channels": ["email"]}).status_code == 201
    with app.app_context():
        first = datetime.now(UTC)
        ask = partial(subscribe, runtime(), Subscriber(email="lena@example.com"), channel="email", evidence={"source": "test"})
        for topics, minutes in ((["offers"], 0), (["offers"], 59), (["offers", "tips"], 59), (["offers"], 121)):
            unit_of_work(
                partial(
                    ask,
                    topics=topics,
                    actor=Actor("api_key", "k", "api"),
                    now=first + timedelta(minutes=minutes),
                    always_confirm=True,
                )
            )
    assert mailed_to(app, smtp_server) == ["lena@example.com"] * 3


def test_an_address_a_provider_reported_dead_gets_no_confirmation_mail(app, form, smtp_server):  # noqa: F811
    """Rule 6a: as "email me my link" sends none (found in review: a form sent confirmations to hard bounces)."""
    from prefs.models import UndeliverableAddress
    from prefs.runtime import runtime

    with app.app_context():
        db.session.add(
            UndeliverableAddress(hash=runtime().address_hash("email", "dead@example.com"), provider="sendgrid", code="5.1.1")
        )
        db.session.commit()
    visitor = Visitor(app)
    dead, alive = visitor.submit("dead@example.com"), visitor.submit("alive@example.com")
    assert dead.status_code == alive.status_code == 200 and dead.data == alive.data
    assert mailed_to(app, smtp_server) == ["alive@example.com"]


def test_one_place_gets_the_429_page_after_twenty_signups_an_hour(app, form, smtp_server):  # noqa: F811
    visitor = Visitor(app, ip="192.0.2.50")
    statuses = [visitor.submit(f"p{n}@example.com").status_code for n in range(20)]
    refused = visitor.submit("one-more@example.com")
    assert statuses == [200] * 20 and refused.status_code == 429
    assert "Too many tries" in refused.get_data(as_text=True)
    assert "one-more@example.com" not in mailed_to(app, smtp_server) and len(smtp_server.envelopes) == 20
    assert Visitor(app, ip="192.0.2.51").submit("other@example.com").status_code == 200  # another place is not held back


def test_one_ipv6_network_is_one_place_for_the_limit(app, form, smtp_server):  # noqa: F811
    """A /64 is one home or server: a fresh address from it for every signup got around the limit."""
    statuses = [Visitor(app, ip=f"2001:db8:7:7::{n:x}").submit(f"p{n}@example.com").status_code for n in range(1, 21)]
    refused = Visitor(app, ip="2001:db8:7:7:abcd::1").submit("one-more@example.com")
    assert statuses == [200] * 20 and refused.status_code == 429
    assert Visitor(app, ip="2001:db8:7:8::1").submit("other@example.com").status_code == 200  # the next /64 is not held back


def test_a_post_without_the_pages_csrf_token_changes_nothing(app, form, smtp_server):  # noqa: F811
    visitor = Visitor(app)
    forged = visitor.client.post("/s/news", data={"email": "victim@example.com"}, base_url=ORIGIN)
    stranger = app.test_client().post(
        "/s/news", data={"email": "victim@example.com", "csrf_token": visitor.token}, base_url=ORIGIN
    )
    assert forged.status_code == 400 and stranger.status_code == 400  # no token; another browser's token
    assert "This form has expired" in forged.get_data(as_text=True)
    assert count(app, Recipient) == 0 and count(app, OutboxMessage) == 0
    assert mailed_to(app, smtp_server) == []


def test_round_trip_form_mail_confirmation_subscribed_with_the_forms_evidence(api, app, client, form, smtp_server):  # noqa: F811
    visitor = Visitor(app, ip="198.51.100.77", lang="de")
    assert visitor.submit("lena@example.com").status_code == 200
    assert api.check("offers", "email", email="lena@example.com")["reason"] == "no_consent"
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "lena@example.com" and message["Content-Language"] == "de"  # the page's language
    path = CONFIRM_LINK.search(message.get_body(("plain",)).get_content()).group(1)
    assert client.get(path).status_code == 200
    assert api.check("offers", "email", email="lena@example.com")["reason"] == "no_consent"  # a GET changes nothing
    done = client.post(path, data={"confirm": "yes"}, environ_base={"REMOTE_ADDR": "198.51.100.78"})
    assert done.status_code == 200
    assert api.check("offers", "email", email="lena@example.com")["reason"] == "subscribed"

    [found] = api.get("/recipients?email=lena@example.com").get_json()["recipients"]
    assert found["locale"] == "de"
    [record] = api.get(f"/recipients/{found['id']}/consents").get_json()["consents"]
    assert record["notice"] == {"key": "signup", "version": 1, "text": NOTICE, "language": "en"}
    given, confirmed = record["events"]
    assert (given["source"], given["ip"], given["user_agent"]) == ("hosted_form:news", "198.51.100.77", BROWSER)
    assert (confirmed["type"], confirmed["ip"]) == ("confirmed", "198.51.100.78")
    requested = next(
        e for e in api.get(f"/recipients/{found['id']}/events").get_json()["events"] if e["kind"] == "consent_requested"
    )
    assert requested["evidence"]["url"] == "https://prefs.example.com/s/news" and requested["via"] == "hosted_form"


@pytest.mark.parametrize(
    ("sent_back", "recorded"),
    [("1", 1), (None, 2), ("99", 2), ("x1", 2), ("0", 2)],
    ids=["as-shown", "missing", "unknown", "junk", "zero"],
)
def test_the_consent_names_the_notice_version_the_page_showed(api, app, client, form, smtp_server, sent_back, recorded):  # noqa: F811
    """A new version saved while the page was open is not what the person read: the page sends back the version it
    showed, and only a real version of the form's notice is taken from it (anything else: the current one)."""
    visitor = Visitor(app, ip="198.51.100.90")
    assert 'name="notice_version" value="1"' in visitor.page.get_data(as_text=True)
    assert (
        api.post("/notices", {"key": "signup", "text": "Send me news, offers and surveys.", "language": "en"}).status_code == 201
    )
    assert visitor.submit("mika@example.com", notice_version=sent_back).status_code == 200
    deliver(app)
    [message] = smtp_server.wait_for(1)
    path = CONFIRM_LINK.search(message.get_body(("plain",)).get_content()).group(1)
    assert client.post(path, data={"confirm": "yes"}).status_code == 200
    [found] = api.get("/recipients?email=mika@example.com").get_json()["recipients"]
    [record] = api.get(f"/recipients/{found['id']}/consents").get_json()["consents"]
    assert record["notice"]["version"] == recorded


def test_a_form_whose_topic_was_archived_says_it_is_unavailable(api, app, form, smtp_server):  # noqa: F811
    visitor = Visitor(app)
    assert api.delete("/topics/offers").status_code == 200
    assert visitor.submit("lena@example.com").status_code == 503
    page = Visitor(app).page
    assert page.status_code == 503 and "isn't possible at the moment" in page.get_data(as_text=True)
    assert 'name="email"' not in page.get_data(as_text=True)
    assert count(app, Recipient) == 0 and mailed_to(app, smtp_server) == []


def test_without_mail_settings_the_page_says_signups_are_unavailable(database_url, seeded_rows):
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})
    try:
        with app.app_context():
            from prefs.db.transactions import unit_of_work
            from prefs.runtime import runtime
            from prefs.services.forms import create_form
            from prefs.services.notices import save_notice
            from prefs.services.topics import after_topic_commit, create_topic

            unit_of_work(lambda: create_topic({"key": "offers", "name": "Offers", "channels": ["email"]}, "api", "t"))
            after_topic_commit(runtime().catalogue)
            unit_of_work(lambda: save_notice("signup", NOTICE, None, "api", "t"))
            unit_of_work(lambda: create_form(runtime(), {"key": "news", "title": "Acme news", "topics": ["offers"],
                                                         "notice": "signup"}, "api", "t"))  # fmt: skip
        client = app.test_client()
        page = client.get("/s/news?lang=fr", base_url=ORIGIN)
        assert page.status_code == 503 and 'name="email"' not in page.get_data(as_text=True)
        assert '<html lang="fr"' in page.get_data(as_text=True)
        posted = client.post("/s/news", data={"email": "lena@example.com"}, base_url=ORIGIN)
        assert posted.status_code == 503 and "isn't possible at the moment" in posted.get_data(as_text=True)
        assert count(app, Recipient) == 0
    finally:
        with app.app_context():
            db.session.remove()
            _reset(seeded_rows)
            db.engine.dispose()


def test_a_form_request_for_a_consent_that_stands_leaves_its_record_as_it_was(api, app, form, smtp_server, monkeypatch):  # noqa: F811
    """Ann opted in with her evidence; a stranger types her address on a form and nobody confirms. The record said
    "pending" at once, named the form's notice, and said "expired" a week later while the opt-in stood (found in
    review). A request for a consent that stands changes nothing in the record."""
    import prefs.services.subscriptions as subscriptions

    assert api.put("/recipients/cust-1", {"email": "ann@example.com"}).status_code == 201
    given = api.post(
        "/subscriptions",
        {
            "recipient_id": "cust-1",
            "topics": ["offers"],
            "channel": "email",
            "evidence": {"source": "checkout", "ip": "203.0.113.9"},
        },
    )
    assert given.status_code == 200, given.get_json()

    def records() -> list[dict]:
        # The withdrawal link is signed afresh on each read and its signature carries the second it was made, so
        # two reads a second apart differ there (CI met it); everything the record says must not.
        consents = api.get("/recipients/cust-1/consents").get_json()["consents"]
        for consent in consents:
            assert consent.pop("withdrawal_method").startswith("https://prefs.example.com/p/")
        return consents

    [before] = records()
    assert before["state"] == "active"
    Visitor(app).submit("ann@example.com", ip="192.0.2.66")
    assert count(app, ConsentRequest) == 1  # the request is kept (its link still works), only the record ignores it
    assert records() == [before]
    later = subscriptions.clock() + timedelta(days=8)
    monkeypatch.setattr(subscriptions, "utcnow", lambda: later)  # the request's clock (subscriptions.clock)
    assert records() == [before]
    assert api.check("offers", "email", recipient_id="cust-1")["reason"] == "subscribed"


def test_an_address_typed_on_a_form_gets_no_topic_s_default_until_it_is_confirmed(
    api,
    app,
    client,
    form,
    newsletter,
    smtp_server,  # noqa: F811
):
    """Anyone can type an address on a form: the recipient it made got every email topic's default at once, so
    an address nobody confirmed was mailable for topics on by default (found in review). No defaults apply to
    it until the person confirms; a recipient the client's system gave us keeps its defaults whatever is typed."""
    assert api.put("/recipients/cust-1", {"email": "ann@example.com"}).status_code == 201
    visitor = Visitor(app)
    visitor.submit("lena@example.com")
    visitor.submit("ann@example.com", ip="198.51.100.8")

    def reasons(email: str) -> tuple[str, str]:
        return tuple(api.check(topic, "email", email=email)["reason"] for topic in ("newsletter", "offers"))

    assert reasons("lena@example.com") == ("no_consent", "no_consent")
    assert reasons("ann@example.com") == ("default", "no_consent")
    [lena] = api.get("/recipients?email=lena@example.com").get_json()["recipients"]
    batch = api.post("/check/batch", {"topic": "newsletter", "channel": "email", "checks": [{"recipient_id": lena["id"]}]})
    assert batch.get_json()["results"][0]["reason"] == "no_consent"  # the batch reads it as the check does
    deliver(app)
    [mail] = [m for m in smtp_server.wait_for(2) if m["To"] == "lena@example.com"]
    path = CONFIRM_LINK.search(mail.get_body(("plain",)).get_content()).group(1)
    assert client.post(path, data={"confirm": "yes"}).status_code == 200
    assert reasons("lena@example.com") == ("default", "subscribed")


@pytest.mark.parametrize("vouch", ["put", "single_opt_in", "import"])
def test_the_client_s_system_vouching_for_a_form_address_brings_the_defaults(
    api,
    app,
    runner,
    form,
    newsletter,
    smtp_server,  # noqa: F811
    tmp_path,
    vouch,
):
    """Only the person's confirmation gave the defaults back, so a form address the client's system then took
    on (PUT, import, a single opt-in with its evidence) stayed `no_consent` for ever (found in review)."""
    Visitor(app).submit("lena@example.com")
    [lena] = api.get("/recipients?email=lena@example.com").get_json()["recipients"]
    assert api.check("newsletter", "email", recipient_id=lena["id"])["reason"] == "no_consent"
    assert api.get(f"/recipients/{lena['id']}/export").get_json()["recipient"]["awaiting_confirmation"] is True
    if vouch == "put":
        assert api.put(f"/recipients/{lena['id']}", {"locale": "de"}).status_code == 200
    elif vouch == "import":
        (tmp_path / "people.csv").write_text(f"id,email,locale\n{lena['id']},lena@example.com,de\n")
        result = runner.invoke(args=["recipients", "import", str(tmp_path / "people.csv"), "--processes", "1"])
        assert result.exit_code == 0, result.output
    else:
        body = {"email": "lena@example.com", "topics": ["tips"], "channel": "email", "evidence": {"source": "checkout"}}
        assert api.post("/topics", {"key": "tips", "name": "Tips", "channels": ["email"]}).status_code == 201
        assert api.post("/subscriptions", body).status_code == 200
    assert api.check("newsletter", "email", recipient_id=lena["id"])["reason"] == "default"
    assert api.get(f"/recipients/{lena['id']}/export").get_json()["recipient"]["awaiting_confirmation"] is False


# --- an address typed on a form, never confirmed, and the client's own system ---------------------------------
FORM_ADDRESS = "ann@example.com"


def mailed_confirmation_link(app, smtp_server) -> str:  # noqa: F811
    """The path of the /c/ link in the one confirmation mail sent."""
    deliver(app)
    [message] = smtp_server.wait_for(1)
    return CONFIRM_LINK.search(message.get_body(("plain",)).get_content()).group(1)


def crm_import(runner, tmp_path, csv_text: str) -> str:
    """The output of `recipients import` of this file (exit 0, or 1 with bad rows)."""
    (tmp_path / "crm.csv").write_text(csv_text)
    result = runner.invoke(args=["recipients", "import", str(tmp_path / "crm.csv"), "--processes", "1"])
    assert result.exit_code in (0, 1), result.output
    return result.output


def holder_of(app, email: str) -> str:
    with app.app_context():
        return db.session.execute(select(Recipient.id).where(Recipient.email == email)).scalar_one()


@pytest.fixture(params=["put", "console", "import"])
def give(request, api, console, runner, tmp_path):
    """`give(email)`: the client's system gives its stored customer cust-1 that address through one entry
    point; returns whether it was given."""

    def through_entry_point(email: str) -> bool:
        if request.param == "put":
            answer = api.put("/recipients/cust-1", {"email": email})
            assert answer.status_code in (200, 409), answer.get_json()
            return answer.status_code == 200
        if request.param == "console":
            answer = console("agent").submit("/console/recipients/cust-1", "/console/recipients/cust-1/contact",
                                             {"email": email, "reason": "the customer's new address"})  # fmt: skip
            assert answer.status_code in (303, 409), answer.status_code
            return answer.status_code == 303
        output = crm_import(runner, tmp_path, f"id,email\ncust-1,{email}\n")
        assert "0 created" in output, output
        return "1 updated" in output

    through_entry_point.entry_point = request.param
    return through_entry_point


def test_the_client_s_system_takes_an_address_a_stranger_typed_on_a_form(api, app, client, form, smtp_server, give):  # noqa: F811
    """A stranger typed Ann's address on the form and nobody confirmed: the recipient prefs made to mail the
    confirmation held the address, and the client's own system could not give it to its customer (409, a bad
    row: found in review). PUT, the console and the import take it from that holder, which keeps its history
    and an event saying who took it; the link it was mailed no longer subscribes anyone."""
    assert api.put("/recipients/cust-1", {"email": "ann.old@example.com"}).status_code == 201
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    link = mailed_confirmation_link(app, smtp_server)

    assert give(FORM_ADDRESS)
    assert api.get("/recipients/cust-1").get_json()["email"] == FORM_ADDRESS
    assert api.get(f"/recipients/{holder}").get_json()["email"] is None
    released = [e for e in api.get(f"/recipients/{holder}/events").get_json()["events"] if e["kind"] == "contact_changed"]
    assert [(e["before"], e["after"], e["reason"]) for e in released] == [
        ({"email": FORM_ADDRESS}, {"email": None}, "email taken by cust-1: this sign-up was never confirmed")
    ]
    assert released[0]["actor"] == {"put": "api", "console": "staff", "import": "import"}[give.entry_point]
    assert "no longer" in client.post(link, data={"confirm": "yes"}).get_data(as_text=True).lower()
    assert api.check("offers", "email", recipient_id="cust-1")["reason"] == "no_consent"
    assert api.check("offers", "email", recipient_id=holder)["reason"] == "no_address"


@pytest.mark.parametrize("spoke", ["confirmed", "made_a_choice"])
def test_an_address_whose_holder_confirmed_or_spoke_stays_theirs(api, app, client, form, smtp_server, give, spoke):  # noqa: F811
    assert api.put("/recipients/cust-1", {"email": "ann.old@example.com"}).status_code == 201
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    if spoke == "confirmed":
        link = mailed_confirmation_link(app, smtp_server)
        assert client.post(link, data={"confirm": "yes"}).status_code == 200
    else:  # a choice stored for them: what was said about an address stays with it
        patched = api.patch(
            f"/recipients/{holder}/preferences", {"changes": [{"topic": "offers", "channel": "email", "subscribed": False}]}
        )
        assert patched.status_code == 200, patched.get_json()
    before = api.get(f"/recipients/{holder}/events").get_json()["events"]

    assert not give(FORM_ADDRESS)
    assert api.get(f"/recipients/{holder}").get_json()["email"] == FORM_ADDRESS
    assert api.get("/recipients/cust-1").get_json()["email"] == "ann.old@example.com"
    assert api.get(f"/recipients/{holder}/events").get_json()["events"] == before


def test_an_import_gives_a_form_address_to_its_first_row_only(api, app, runner, form, smtp_server, tmp_path):  # noqa: F811
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    output = crm_import(runner, tmp_path, f"id,email\ncust-1,{FORM_ADDRESS}\ncust-2,{FORM_ADDRESS}\n")
    assert "1 created, 0 updated, 0 unchanged, 1 bad rows" in output, output
    assert "line 3: email: already belongs to another recipient" in output
    assert api.get("/recipients/cust-1").get_json()["email"] == FORM_ADDRESS
    assert api.get(f"/recipients/{holder}").get_json()["email"] is None
    assert api.get("/recipients/cust-2").status_code == 404


@requires_postgres
def test_a_form_address_confirmed_while_an_import_batch_waits_stays_with_its_holder(
    api,
    app,
    client,
    runner,
    form,
    smtp_server,  # noqa: F811
    tmp_path,
    meanwhile,  # noqa: F811
):
    """The batch was decided when the holder was unvouched; the person confirms before it is written: the
    write takes nothing, the row is bad, the rest of the file goes in."""
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    link = mailed_confirmation_link(app, smtp_server)
    meanwhile(lambda: client.post(link, data={"confirm": "yes"}))
    output = crm_import(runner, tmp_path, f"id,email\ncust-1,{FORM_ADDRESS}\ncust-2,bob@example.com\n")
    assert "1 created, 0 updated, 0 unchanged, 1 bad rows" in output, output
    assert "line 2: email: already belongs to another recipient" in output
    assert api.get(f"/recipients/{holder}").get_json()["email"] == FORM_ADDRESS
    assert api.check("offers", "email", recipient_id=holder)["reason"] == "subscribed"
    assert api.get("/recipients/cust-1").status_code == 404


@requires_postgres
def test_a_complaint_committed_while_a_put_waits_on_the_holder_keeps_the_address(api, app, form, smtp_server):  # noqa: F811
    """The person reports the confirmation mail as spam (the provider's webhook locks the holder and stores an
    email stop) while the client's PUT gives the address to its customer. The release waited on the holder's
    lock and then read the holder as it was before the wait: it took the address from a recipient who had just
    spoken (found in review). It looks again once the lock is its own."""
    from prefs.services.provider_events import COMPLAINT, ProviderEvent, apply_provider_event

    assert api.put("/recipients/cust-1", {"email": "ann.old@example.com"}).status_code == 201
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    locked, go, outcome = threading.Event(), threading.Event(), {}

    def complaint():
        with app.app_context():
            deps = app.extensions["prefs"]

            def operation():
                result = apply_provider_event(deps, ProviderEvent("sendgrid", "ev-1", COMPLAINT, FORM_ADDRESS))
                locked.set()
                assert go.wait(10)
                return result

            outcome["complaint"] = unit_of_work(operation)

    def put():
        outcome["put"] = api.put("/recipients/cust-1", {"email": FORM_ADDRESS}).status_code

    first = threading.Thread(target=complaint)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=put)
    second.start()
    wait_until_blocked_on_a_lock(app)
    go.set()
    first.join(10)
    second.join(10)
    assert outcome == {"complaint": "applied", "put": 409}, outcome
    assert api.get(f"/recipients/{holder}").get_json()["email"] == FORM_ADDRESS
    assert api.get("/recipients/cust-1").get_json()["email"] == "ann.old@example.com"


def wait_until_blocked_on_a_lock(app, timeout: float = 10.0) -> None:
    """Until some session of this database waits on a lock (the PUT, behind the complaint's)."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            waiting = db.session.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            ).scalar_one()
            db.session.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waited on a lock")


@pytest.mark.parametrize("batch", [None, 1])  # one batch for the file, and a batch per row: the same outcome
def test_an_import_that_speaks_for_the_holder_first_leaves_it_the_address(
    api,
    app,
    runner,
    form,
    smtp_server,  # noqa: F811
    tmp_path,
    monkeypatch,
    batch,
):
    """A row writes the holder (an opt-out: a choice), a later row gives its address to cust-1. Two PUTs in that
    order give 409 to the second; the import took the address when both rows were in one batch, decided from
    what was stored before it (found in review)."""
    from prefs.services import imports

    if batch:
        monkeypatch.setattr(imports, "BATCH", batch)
    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    output = crm_import(runner, tmp_path, f"id,email,offers:email\n{holder},,no\ncust-1,{FORM_ADDRESS},\n")
    assert "0 created, 1 updated, 0 unchanged, 1 bad rows" in output, output
    assert "line 3: email: already belongs to another recipient" in output
    assert api.get(f"/recipients/{holder}").get_json()["email"] == FORM_ADDRESS


def test_a_signup_never_takes_an_address_from_another_unconfirmed_signup(app, form, smtp_server):  # noqa: F811
    """Two signups of one new address at once: the second makes its recipient while the first's is committed
    (the race the form's look-up cannot close). Only a writer who vouches for the person takes an address."""
    from prefs.errors import PrefsError
    from prefs.runtime import runtime
    from prefs.services.events import Actor, ChangeContext
    from prefs.services.recipients import upsert_recipient

    Visitor(app).submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    with app.app_context():
        context = ChangeContext(Actor("recipient", None, "hosted_form"))
        with pytest.raises(PrefsError) as refused:
            unit_of_work(lambda: upsert_recipient(runtime(), "sub-second", {"email": FORM_ADDRESS}, context, vouched=False))
        assert refused.value.code == "address_in_use"
    assert holder_of(app, FORM_ADDRESS) == holder


@requires_postgres
def test_two_puts_swapping_form_addresses_at_once_both_succeed(api, app, form, smtp_server, monkeypatch):  # noqa: F811
    """Each PUT locks its own recipient, then the other's to take its address: opposite orders, a deadlock,
    and PostgreSQL rolls one back. That one was a 500 (found in review); it runs again, and both succeed."""
    import prefs.services.recipients as recipients

    for email, ip in (("one@example.com", "192.0.2.81"), ("two@example.com", "192.0.2.82")):
        Visitor(app, ip=ip).submit(email)
    one, two = holder_of(app, "one@example.com"), holder_of(app, "two@example.com")
    both_hold_their_own = threading.Barrier(2, timeout=10)
    waited = threading.local()
    release_address = recipients.release_address

    def after_both_locked_their_own(*args):
        if not getattr(waited, "once", False):  # the first attempt only: a retry runs alone
            waited.once = True
            both_hold_their_own.wait()
        return release_address(*args)

    monkeypatch.setattr(recipients, "release_address", after_both_locked_their_own)
    statuses = {}

    def put(recipient_id: str, email: str) -> None:
        statuses[recipient_id] = api.put(f"/recipients/{recipient_id}", {"email": email}).status_code

    threads = [
        threading.Thread(target=put, args=(one, "two@example.com")),
        threading.Thread(target=put, args=(two, "one@example.com")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == {one: 200, two: 200}, statuses
    assert holder_of(app, "two@example.com") == one and holder_of(app, "one@example.com") == two


def test_erasing_the_customer_forgets_the_signup_whose_address_it_took(api, app, form, smtp_server):  # noqa: F811
    """The signup's history held the address (its creation, the released address) and the typer's IP and user
    agent (its request): the customer's erasure left them all there, and its queued confirmation still went to
    the erased address (found in review)."""
    assert api.put("/recipients/cust-1", {"email": "ann.old@example.com"}).status_code == 201
    Visitor(app, ip="198.51.100.61").submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    assert api.put("/recipients/cust-1", {"email": FORM_ADDRESS}).status_code == 200
    assert FORM_ADDRESS in str(api.get(f"/recipients/{holder}/events").get_json())  # until the customer's erasure

    assert api.delete("/recipients/cust-1").status_code == 204
    history = str(api.get(f"/recipients/{holder}/events").get_json())
    assert FORM_ADDRESS not in history and "198.51.100.61" not in history and BROWSER not in history, history
    assert [e["kind"] for e in api.get(f"/recipients/{holder}/events").get_json()["events"]].count("consent_requested") == 1
    assert count(app, ConsentRequest, ConsentRequest.recipient_id == holder) == 0
    assert count(app, OutboxMessage, OutboxMessage.kind == "email") == 0  # its queued confirmation, the address in it
    assert mailed_to(app, smtp_server) == []


def test_a_confirmation_still_queued_when_its_address_is_taken_is_not_sent(api, app, form, smtp_server):  # noqa: F811
    """It would reach the customer, about a signup that no longer stands, with a link that says so."""
    assert api.put("/recipients/cust-1", {"email": "ann.old@example.com"}).status_code == 201
    Visitor(app).submit(FORM_ADDRESS)
    assert api.put("/recipients/cust-1", {"email": FORM_ADDRESS}).status_code == 200
    assert mailed_to(app, smtp_server) == []


def test_erasing_the_customer_leaves_what_the_signup_s_record_held_after_the_release(
    api,
    app,
    newsletter,
    form,
    smtp_server,  # noqa: F811
    console,
):
    """The client wrote the signup's record afterwards (another person's address, an opt-in with evidence, a
    staff edit whose reason happens to read like the release's): the customer's erasure stripped all of it
    (found in review, twice). It forgets what the record held until the release only."""
    Visitor(app, ip="198.51.100.62").submit(FORM_ADDRESS)
    holder = holder_of(app, FORM_ADDRESS)
    assert api.put("/recipients/cust-1", {"email": FORM_ADDRESS}).status_code == 201
    assert api.put(f"/recipients/{holder}", {"email": "bob@example.com"}).status_code == 200
    evidence = {"collected_at": "2026-11-30T10:00:00Z", "source": "Bob phoned us"}
    change = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}], "evidence": evidence}
    assert api.patch(f"/recipients/{holder}/preferences", change).status_code == 200
    page = f"/console/recipients/{holder}"
    lookalike = "email taken by cust-1: this sign-up was never confirmed"
    edited = console("agent").submit(page, page + "/contact", {"email": "bob2@example.com", "reason": lookalike})
    assert edited.status_code == 303

    assert api.delete("/recipients/cust-1").status_code == 204
    history = str(api.get(f"/recipients/{holder}/events").get_json())
    assert FORM_ADDRESS not in history and "198.51.100.62" not in history
    assert "bob@example.com" in history and "Bob phoned us" in history and "bob2@example.com" in history
    assert api.get(f"/recipients/{holder}").get_json()["email"] == "bob2@example.com"
