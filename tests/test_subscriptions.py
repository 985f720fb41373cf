"""Opt-in through the API (SPEC §14, issue 14 acceptance 1, 3, 4, 6): single opt-ins stored at once with their
evidence; double opt-ins mailed (a real SMTP server on loopback), confirmed only by the page's POST, never by
a GET, expiring after 7 days (a moved clock, no sleeping), and the only thing that lifts a suppression of the
address. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import BASE_SETTINGS
from smtp_server import SmtpServer, smtp_server  # noqa: F401  (a fixture)
from sqlalchemy import func, select
from test_webhooks import deliver

from prefs import create_app
from prefs.extensions import db
from prefs.models import ConsentEvent, ConsentRequest, OutboxMessage, utcnow
from prefs.services import subscriptions
from prefs.services.outbox import webhook_type

LINK = re.compile(r"https://prefs\.example\.com/c/([A-Za-z0-9_.-]+)")
REQUEST_UA = "Mozilla/5.0 (signup form)"
CONFIRM_UA = "Mozilla/5.0 (phone mail app)"


@pytest.fixture
def settings_override(smtp_server):  # noqa: F811
    return {"PREFS_SMTP_URL": smtp_server.url, "PREFS_MAIL_FROM": "news@acme.example", "PREFS_RETRY_SCHEDULE": "5,60"}


@pytest.fixture
def letters(api) -> dict:
    """A double opt-in topic (German practice), by email only."""
    response = api.post(
        "/topics",
        {"key": "letters", "name": "Letters", "channels": ["email"], "confirmation": "double", "names": {"de": "Briefe"}},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["confirmation"] == "double"
    return response.get_json()


def subscribe(api, topics=("letters",), channel="email", **who):
    evidence = who.pop("evidence", {"source": "footer form", "ip": "203.0.113.7", "user_agent": REQUEST_UA})
    body = {
        **(who or {"email": "lena@example.com", "locale": "de"}),
        "topics": list(topics),
        "channel": channel,
        "evidence": evidence,
    }
    return api.post("/subscriptions", body)


def mailed_token(app, smtp_server) -> str:  # noqa: F811
    deliver(app)
    [message] = smtp_server.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    return LINK.search(text).group(1)


def counts(app) -> tuple[int, int, int]:
    """Consent events, outbox messages, confirmed requests: what a GET must leave as it was."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(ConsentEvent)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)),
            db.session.scalar(select(func.count()).select_from(ConsentRequest).where(ConsentRequest.confirmed_at.is_not(None))),
        )


def test_double_opt_in_mails_one_link_a_get_changes_nothing_and_the_post_confirms(api, app, client, letters, smtp_server):  # noqa: F811
    api.post("/notices", {"key": "signup", "text": "Send me letters. I can stop any time.", "language": "de"})
    response = subscribe(api, email="lena@example.com", locale="de",
                         evidence={"source": "footer form", "notice": "signup", "ip": "203.0.113.7", "user_agent": REQUEST_UA})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["created"] is True and answer["recipient_id"].startswith("sub-")
    assert (answer["subscribed"], answer["pending"]) == ([], ["letters"]) and answer["expires_at"]
    recipient_id = answer["recipient_id"]
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "no_consent"

    token = mailed_token(app, smtp_server)
    [message] = smtp_server.messages  # exactly one mail, in the person's language
    assert message["Content-Language"] == "de" and message["To"] == "lena@example.com"
    assert "Briefe" in message.get_body(("plain",)).get_content()

    before = counts(app)
    page = client.get(f"/c/{token}", headers={"User-Agent": "LinkScanner/1.0"})  # a mail scanner
    assert page.status_code == 200 and 'name="confirm"' in page.get_data(as_text=True)
    assert '<html lang="de"' in page.get_data(as_text=True) and "Briefe" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and "Set-Cookie" not in page.headers
    assert counts(app) == before
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "no_consent"
    assert client.post(f"/c/{token}", data={}).status_code == 400  # not the page's form: nothing
    assert counts(app) == before

    # The notice changes after the consent was collected: the record keeps the text the person saw.
    api.post("/notices", {"key": "signup", "text": "Send me letters and offers.", "language": "de"})
    done = client.post(
        f"/c/{token}?lang=de",
        data={"confirm": "yes"},
        headers={"User-Agent": CONFIRM_UA},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    assert done.status_code == 200 and "Briefe" in done.get_data(as_text=True)
    assert 'href="/p/' in done.get_data(as_text=True)  # the confirming answer offers the preference center
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "subscribed"

    [record] = api.get(f"/recipients/{recipient_id}/consents").get_json()["consents"]
    assert (record["purpose"], record["channel"], record["state"]) == ("letters", "email", "active")
    assert record["notice"] == {"key": "signup", "version": 1, "text": "Send me letters. I can stop any time.", "language": "de"}
    given, confirmed = record["events"]
    assert (given["type"], given["ip"], given["user_agent"], given["source"]) == (
        "given",
        "203.0.113.7",
        REQUEST_UA,
        "footer form",
    )
    assert (confirmed["type"], confirmed["ip"], confirmed["user_agent"]) == ("confirmed", "198.51.100.23", CONFIRM_UA)
    assert confirmed["method"] == "confirm_page" and confirmed["at"] >= given["at"]

    kinds = [event["kind"] for event in api.get("/events").get_json()["events"]]
    assert "consent_requested" in kinds and "consent_confirmed" in kinds and "topic_choice" in kinds
    assert webhook_type("consent_requested", None, {}) == "consent.requested"
    assert webhook_type("consent_confirmed", None, {}) == "consent.confirmed"

    again = counts(app)  # a used link: a friendly page, nothing more
    reused = client.post(f"/c/{token}", data={"confirm": "yes"})
    assert reused.status_code == 200 and counts(app) == again
    # ...and no fresh preference link for whoever opens it again (found by this round's review).
    assert "/p/" not in reused.get_data(as_text=True) and "/p/" not in client.get(f"/c/{token}").get_data(as_text=True)
    deliver(app)
    assert len(smtp_server.messages) == 1


def test_single_opt_in_is_stored_at_once_with_its_evidence(api, app, newsletter, person):
    response = subscribe(api, topics=["newsletter"], channel="sms", recipient_id="cust-1",
                         evidence={"source": "checkout checkbox", "collected_at": "2026-01-02T03:04:05Z"})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"recipient_id": "cust-1", "created": False, "channel": "sms",
                                   "subscribed": ["newsletter"], "pending": [], "expires_at": None}  # fmt: skip
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    [event] = [e for e in api.get("/recipients/cust-1/events").get_json()["events"] if e["kind"] == "topic_choice"]
    assert event["evidence"] == {"source": "checkout checkbox", "collected_at": "2026-01-02T03:04:05+00:00"}
    assert (event["topic"], event["channel"], event["after"]) == ("newsletter", "sms", True)


def test_an_unknown_address_creates_the_recipient_once(api, newsletter):
    first = subscribe(api, topics=["newsletter"], email="New.Person@Example.com", evidence={"source": "form"})
    second = subscribe(api, topics=["newsletter"], email="new.person@example.com", evidence={"source": "form"})
    assert first.get_json()["created"] is True and second.get_json()["created"] is False
    assert first.get_json()["recipient_id"] == second.get_json()["recipient_id"]
    [found] = api.get("/recipients?email=new.person@example.com").get_json()["recipients"]
    assert found["id"] == first.get_json()["recipient_id"]


def test_an_expired_link_cannot_confirm_and_leaves_no_consent(api, app, client, letters, smtp_server, monkeypatch):  # noqa: F811
    recipient_id = subscribe(api).get_json()["recipient_id"]
    token = mailed_token(app, smtp_server)
    later = utcnow() + timedelta(days=7, seconds=1)
    monkeypatch.setattr(subscriptions, "utcnow", lambda: later)  # the service's clock, moved on
    before = counts(app)
    page = client.get(f"/c/{token}")
    assert page.status_code == 410 and 'name="confirm"' not in page.get_data(as_text=True)
    refused = client.post(f"/c/{token}", data={"confirm": "yes"})
    assert refused.status_code == 410 and counts(app) == before
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "no_consent"
    [record] = api.get(f"/recipients/{recipient_id}/consents").get_json()["consents"]
    assert record["state"] == "expired" and [e["type"] for e in record["events"]] == ["given", "expired"]


def test_an_unconfirmed_request_the_cell_moved_on_from_expires_unseen(api, app, letters, smtp_server, monkeypatch):  # noqa: F811
    """Found in review (session 9): an opt-in made another way after the request left the record `expired` once
    the request ran out, while the check allowed."""
    recipient_id = subscribe(api).get_json()["recipient_id"]
    opt_in = {"changes": [{"topic": "letters", "channel": "email", "subscribed": True}],
              "evidence": {"source": "phone call with support", "collected_at": utcnow().isoformat()}}  # fmt: skip
    assert api.patch(f"/recipients/{recipient_id}/preferences", opt_in).status_code == 200
    later = utcnow() + timedelta(days=8)
    monkeypatch.setattr(subscriptions, "utcnow", lambda: later)
    assert api.check("letters", "email", recipient_id=recipient_id)["allowed"] is True
    [record] = api.get(f"/recipients/{recipient_id}/consents").get_json()["consents"]
    assert record["state"] == "active" and [e["type"] for e in record["events"]] == ["given", "given"], record


def test_a_link_not_yet_expired_still_confirms(api, app, client, letters, smtp_server, monkeypatch):  # noqa: F811
    subscribe(api)
    token = mailed_token(app, smtp_server)
    later = utcnow() + timedelta(days=6, hours=23)
    monkeypatch.setattr(subscriptions, "utcnow", lambda: later)
    assert client.post(f"/c/{token}", data={"confirm": "yes"}).status_code == 200
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "subscribed"


def test_a_suppressed_address_is_lifted_by_the_confirmation_not_by_the_request(api, app, client, letters, smtp_server):  # noqa: F811
    api.put("/recipients/old", {"email": "lena@example.com"})
    api.delete("/recipients/old")  # erasure leaves the address suppressed
    response = subscribe(api, email="lena@example.com")
    assert response.status_code == 200, response.get_json()
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "suppressed"
    token = mailed_token(app, smtp_server)
    client.get(f"/c/{token}")
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "suppressed"
    assert client.post(f"/c/{token}", data={"confirm": "yes"}).status_code == 200
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "subscribed"


def test_an_erased_persons_link_never_confirms_a_later_request_given_the_same_id(api, app, client, letters, smtp_server):  # noqa: F811
    """Found by this round's review: SQLite hands the highest id out again once its row is gone, so the link mailed
    to an erased person showed, and confirmed, the next person's request, and gave out their preference link."""
    first = subscribe(api, email="erased@example.com").get_json()["recipient_id"]
    old = mailed_token(app, smtp_server)
    assert api.delete(f"/recipients/{first}").status_code == 204  # the person's requests go with them
    assert subscribe(api, email="someone@example.com").status_code == 200
    shown = client.get(f"/c/{old}")
    assert shown.status_code == 410 and "s***@example.com" not in shown.get_data(as_text=True)
    done = client.post(f"/c/{old}", data={"confirm": "yes"})
    assert done.status_code == 410 and "/p/" not in done.get_data(as_text=True)
    assert api.check("letters", "email", email="someone@example.com")["reason"] == "no_consent"  # still pending


def test_a_link_mailed_before_links_named_their_person_still_confirms_its_request(api, app, client, letters, smtp_server):  # noqa: F811
    """Links mailed by the version before carry the request's id alone; they expire with their request (7 days)."""
    subscribe(api, email="lena@example.com")
    mailed_token(app, smtp_server)
    with app.app_context():
        from prefs.runtime import runtime

        request_id = db.session.scalar(select(func.max(ConsentRequest.id)))
        older = runtime().signer._confirm.dumps({"q": request_id})  # as the version before signed it
    assert client.post(f"/c/{older}", data={"confirm": "yes"}).status_code == 200
    assert api.check("letters", "email", email="lena@example.com")["reason"] == "subscribed"


def test_a_forged_or_other_purpose_token_is_a_bad_link(client, app):
    with app.app_context():
        from prefs.runtime import runtime
        from prefs.tokens import PREFERENCES, LinkTarget

        preference_token = runtime().signer.sign(PREFERENCES, LinkTarget("cust-1", "email"))
    assert client.get(f"/c/{preference_token}").status_code == 400
    assert client.post("/c/nonsense", data={"confirm": "yes"}).status_code == 400


def test_refusals_change_nothing(api, letters, newsletter, person):
    assert subscribe(api, topics=["nope"]).get_json()["error"]["code"] == "unknown_topic"
    assert subscribe(api, topics=["billing"], channel="email").get_json()["error"]["code"] == "invalid"
    assert subscribe(api, topics=["newsletter"], channel="sms", email="x@example.com").get_json()["error"]["code"] == "invalid"
    assert subscribe(api, topics=["newsletter"], recipient_id="nobody").status_code == 404
    assert subscribe(api, evidence={"ip": "203.0.113.7"}).status_code == 422  # no source
    assert api.get("/recipients?email=lena@example.com").get_json()["recipients"] == []
    assert api.post("/topics", {"key": "x1", "name": "X", "channels": ["sms"], "confirmation": "double"}).status_code == 422
    assert api.post("/topics", {"key": "x2", "name": "X", "channels": ["email"], "confirmation": "double",
                                "default_subscribed": {"email": True}}).status_code == 422  # fmt: skip
    assert api.patch("/topics/newsletter", {"confirmation": "double"}).status_code == 422  # on by default by email


def test_without_mail_settings_double_opt_in_is_a_clear_422_and_single_still_works(database_url, seeded_rows, make_key):
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {_key(app)}"}
        client.post("/api/v1/topics", json={"key": "letters", "name": "Letters", "channels": ["email"],
                                              "confirmation": "double"}, headers=headers)  # fmt: skip
        client.post("/api/v1/topics", json={"key": "news", "name": "News", "channels": ["email"]}, headers=headers)
        body = {"email": "lena@example.com", "topics": ["letters", "news"], "channel": "email", "evidence": {"source": "form"}}
        refused = client.post("/api/v1/subscriptions", json=body, headers=headers)
        assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "mail_off"
        assert "PREFS_SMTP_URL" in refused.get_json()["error"]["message"]
        found = client.get("/api/v1/recipients?email=lena@example.com", headers=headers).get_json()
        assert found["recipients"] == []  # all or nothing: not even the recipient
        single = client.post("/api/v1/subscriptions", json={**body, "topics": ["news"]}, headers=headers)
        assert single.status_code == 200 and single.get_json()["subscribed"] == ["news"]
    finally:
        with app.app_context():
            db.session.remove()
            from conftest import _reset

            _reset(seeded_rows)
            db.engine.dispose()


def _key(app) -> str:
    result = app.test_cli_runner().invoke(args=["keys", "create", "no-mail", "--scope", "admin"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_the_confirm_page_says_what_the_person_gets_now(api, app, client, letters, smtp_server):  # noqa: F811
    """Truthful (SPEC §16): confirmed under an all-marketing stop, or opened again after an unsubscribe, the page
    said "you get these by email" while the check said otherwise (found in review)."""
    assert api.put("/recipients/cust-9", {"email": "lena@example.com", "locale": "en"}).status_code == 201
    stop_all = {"changes": [{"subscribed": False}], "reason": "asked by phone"}
    assert api.patch("/recipients/cust-9/preferences", stop_all).status_code == 200
    assert subscribe(api, recipient_id="cust-9").status_code == 200
    path = f"/c/{mailed_token(app, smtp_server)}"
    page = client.post(path, data={"confirm": "yes"}).get_data(as_text=True)
    assert api.check("letters", "email", recipient_id="cust-9")["reason"] == "all_marketing_unsubscribed"
    assert "You will get these by email" not in page and "Thank you for confirming." in page
    assert "You do not get these by email now" in page and "<li>Letters</li>" in page

    lift = {"changes": [{"subscribed": True}], "reason": "asked by phone", "evidence": {"source": "phone call"}}
    assert api.patch("/recipients/cust-9/preferences", lift).status_code == 200
    assert "You get these by email:" in client.get(path).get_data(as_text=True)
    off = {"changes": [{"topic": "letters", "channel": "email", "subscribed": False}], "reason": "asked by phone"}
    assert api.patch("/recipients/cust-9/preferences", off).status_code == 200
    again = client.get(path).get_data(as_text=True)
    assert "You get these by email" not in again and "You do not get these by email now" in again


def test_a_topic_archived_since_is_gone_from_the_confirm_page_not_blamed_on_the_person(api, app, client, letters, smtp_server):  # noqa: F811
    assert subscribe(api).status_code == 200
    path = f"/c/{mailed_token(app, smtp_server)}"
    assert "<li>Briefe</li>" in client.post(path, data={"confirm": "yes"}).get_data(as_text=True)
    assert api.delete("/topics/letters").status_code in (200, 204)  # archived
    page = client.get(path).get_data(as_text=True)
    assert "Briefe" not in page and "Letters" not in page
