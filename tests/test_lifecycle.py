"""Erasure, export, the change feed and mailto unsubscribes (issue 5, acceptance 2-4)."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import requires_postgres
from provider_signing import PROVIDER_SETTINGS, postmark_auth, postmark_bounce
from sqlalchemy import String, Text, select

from prefs.extensions import db

EMAIL, PHONE, STREET = "Erin.Erased@Example.com", "+14155550142", "42 Wallaby Way"
IP, USER_AGENT = "198.51.100.23", "ErinBrowser/7.1"


def every_text_value(app) -> list[str]:
    """Every text and JSON value in every table, as text."""
    values = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text)) or c.type.__class__.__name__ == "JSON"]
            for row in db.session.execute(select(*columns)):
                values += [json.dumps(v) if not isinstance(v, str) else v for v in row if v is not None]
    return values


def test_erasure_leaves_no_personal_data_and_keeps_the_address_suppressed(api, app, client, newsletter):
    api.put(
        "/recipients/erin",
        {
            "email": EMAIL,
            "phone": PHONE,
            "postal_address": {"lines": [STREET], "city": "Sydney", "country": "AU"},
            "locale": "en-AU",
        },
    )
    api.patch("/recipients/erin/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}], "reason": "signup",
                                               "evidence": {"source": "web form", "collected_at": "2026-11-01", "ip": IP, "user_agent": USER_AGENT}})  # fmt: skip
    unsubscribe = api.post("/links", {"recipient_id": "erin", "topic": "newsletter"}).get_json()["unsubscribe_url"]
    client.post(unsubscribe.removeprefix("https://prefs.example.com"), data={"List-Unsubscribe": "One-Click"},
                headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": IP})  # fmt: skip
    assert any(EMAIL.lower() in v for v in every_text_value(app))  # the scan can see it before

    response = api.delete("/recipients/erin", {"reason": "customer asked (ticket 881)"})
    assert response.status_code == 204
    assert api.delete("/recipients/erin").status_code == 204  # again: nothing more to do

    for value in every_text_value(app):
        for secret in (EMAIL.lower(), EMAIL, PHONE, PHONE[2:], STREET, "Sydney", IP, USER_AGENT):
            assert secret not in value, (secret, value)

    # The tombstone: reads 404, writes 409, checks say erased.
    assert api.get("/recipients/erin").status_code == 404
    assert api.get("/recipients/erin/export").status_code == 404
    response = api.put("/recipients/erin", {"email": "new@example.com"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "erased"
    assert api.check("billing", "email", recipient_id="erin")["reason"] == "erased"
    # By address: suppressed for marketing, whatever the spelling.
    assert api.check("newsletter", "email", email=EMAIL.upper())["reason"] == "suppressed"
    assert api.check("newsletter", "sms", phone=PHONE)["reason"] == "suppressed"
    # A new recipient with the same address: suppressed for marketing until an explicit opt-in; mandatory works.
    api.put("/recipients/erin-2", {"email": EMAIL})
    assert api.check("newsletter", "email", recipient_id="erin-2")["reason"] == "suppressed"
    assert api.check("billing", "email", recipient_id="erin-2")["reason"] == "mandatory"
    api.patch("/recipients/erin-2/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]})
    assert api.check("newsletter", "email", recipient_id="erin-2")["reason"] == "suppressed"  # no evidence: still suppressed
    api.patch(
        "/recipients/erin-2/preferences",
        {
            "changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}],
            "evidence": {"collected_at": "2026-11-25T10:00:00Z", "source": "signup form"},
        },
    )
    assert api.check("newsletter", "email", recipient_id="erin-2")["reason"] == "subscribed"
    assert api.get("/recipients/erin-2/events").get_json()["events"][0]["kind"] == "suppression_lifted"


def test_erased_history_keeps_its_shape(api, newsletter):
    api.put("/recipients/erin", {"email": EMAIL})
    api.patch(
        "/recipients/erin/preferences",
        {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}], "evidence": {"source": "call", "ip": IP}},
    )
    api.delete("/recipients/erin")
    feed = api.get("/events").get_json()["events"]
    erin = [(e["kind"], e["topic"], e["before"], e["after"], e["evidence"]) for e in feed if e["recipient_id"] == "erin"]
    assert erin == [
        ("recipient_created", None, None, None, None),
        ("topic_choice", "newsletter", None, False, None),  # evidence is free text: gone (finding 4)
        ("erased", None, "active", "erased", None),
    ]


def test_export_is_json_with_what_get_shows_plus_every_event(api, newsletter, person):
    api.patch(
        "/recipients/cust-1/preferences",
        {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}], "reason": "asked"},
    )
    response = api.get("/recipients/cust-1/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    export = json.loads(response.get_data(as_text=True))
    shown = api.get("/recipients/cust-1").get_json()
    for field in ("id", "email", "phone", "postal_address", "locale", "status", "created_at", "updated_at"):
        assert export["recipient"][field] == shown[field], field
    assert export["preferences"] == shown["preferences"]
    events = api.get("/recipients/cust-1/events?limit=1000").get_json()["events"]
    assert [e["id"] for e in export["events"]] == sorted(e["id"] for e in events)
    assert export["events"][-1]["reason"] == "asked"
    assert export["choices"] == [
        {"topic": "newsletter", "channel": "sms", "subscribed": True, "updated_at": export["choices"][0]["updated_at"]}
    ]
    assert export["suppressed"] == {"email": False, "phone": False}


def test_feed_pages_oldest_first_and_says_when_caught_up(api, newsletter, person):
    for n in range(5):
        api.patch(
            "/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": n % 2 == 0}]}
        )
    seen, after = [], 0
    while True:
        page = api.get(f"/events?after={after}&limit=2").get_json()
        if page["next"] is None:
            assert page["events"] == []
            break
        assert page["next"] == page["events"][-1]["id"]
        seen += [e["id"] for e in page["events"]]
        after = page["next"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6
    for bad in ("after=-1", "after=x", "limit=0", "limit=1001"):
        assert api.get(f"/events?{bad}").status_code == 422


@requires_postgres
def test_feed_skips_and_repeats_nothing_while_writes_go_on(api, app, newsletter):
    """Writers commit in parallel while a reader pages through the feed; at the end it has every event once."""
    for n in range(8):
        api.put(f"/recipients/w{n}", {"email": f"w{n}@example.com"})
    baseline = api.get("/events?limit=1000").get_json()["next"]
    key = api.key
    errors: list[str] = []

    def writer(n: int) -> None:
        client = app.test_client()
        for i in range(25):
            body = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": i % 2 == 1}]}
            response = client.patch(f"/api/v1/recipients/w{n}/preferences", json=body, headers={"Authorization": f"Bearer {key}"})
            if response.status_code != 200:
                errors.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    seen, after = [], baseline
    reader = app.test_client()
    while any(t.is_alive() for t in threads) or after != _last_event_id(app):
        page = reader.get(f"/api/v1/events?after={after}&limit=7", headers={"Authorization": f"Bearer {key}"}).get_json()
        seen += [e["id"] for e in page["events"]]
        after = page["next"] or after
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == len(set(seen)) == 8 * 25
    with app.app_context():
        from prefs.models import ConsentEvent

        assert seen == list(
            db.session.execute(select(ConsentEvent.id).where(ConsentEvent.id > baseline).order_by(ConsentEvent.id)).scalars()
        )


def _last_event_id(app) -> int:
    with app.app_context():
        from prefs.models import ConsentEvent

        value = db.session.execute(select(db.func.max(ConsentEvent.id))).scalar()
        db.session.remove()
        return value or 0


def test_mailto_unsubscribe_through_the_inbound_mail_webhook(database_url):
    from conftest import BASE_SETTINGS

    from prefs import create_app

    app = create_app(
        {**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_UNSUBSCRIBE_MAILTO": "unsubscribe@mail.example.com"}
    )
    try:
        client = app.test_client()
        key = (
            app.test_cli_runner()
            .invoke(args=["keys", "create", "mailto", "--scope", "admin", "--scope", "check"])
            .output.strip()
            .splitlines()[-1]
        )
        headers = {"Authorization": f"Bearer {key}"}
        client.post(
            "/api/v1/topics",
            json={"key": "offers", "name": "Offers", "channels": ["email"], "default_subscribed": {"email": True}},
            headers=headers,
        )
        client.put("/api/v1/recipients/m1", json={"email": "m1@example.com"}, headers=headers)
        value = client.post("/api/v1/links", json={"recipient_id": "m1", "topic": "offers"}, headers=headers).get_json()[
            "headers"
        ]["List-Unsubscribe"]
        address = value.split("<mailto:")[1].split("?")[0]
        secret = {"X-Prefs-Webhook-Secret": "test-email-webhook-secret"}

        def check():
            body = {"recipient_id": "m1", "topic": "offers", "channel": "email"}
            return client.post("/api/v1/check", json=body, headers=headers).get_json()["reason"]

        assert client.post("/webhooks/email", data={"to": address, "subject": "unsubscribe"}).status_code == 403
        assert (
            client.post("/webhooks/email", data={"to": address}, headers={"X-Prefs-Webhook-Secret": "wrong"}).status_code == 403
        )
        assert check() == "default"
        unknown = client.post(
            "/webhooks/email", json={"to": "unsubscribe+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@mail.example.com"}, headers=secret
        )
        assert unknown.status_code == 200 and check() == "default"
        response = client.post(
            "/webhooks/email", json={"to": f"Unsubscribe <{address.upper()}>", "subject": "unsubscribe"}, headers=secret
        )
        assert 200 <= response.status_code < 300 and check() == "unsubscribed"
        events = client.get("/api/v1/recipients/m1/events", headers=headers).get_json()["events"]
        assert (events[0]["actor"], events[0]["via"]) == ("email", "mailto")
        client.post("/webhooks/email", data={"to": address}, headers=secret)  # repeated: no second event
        assert len(client.get("/api/v1/recipients/m1/events", headers=headers).get_json()["events"]) == len(events)
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("settings_override", [{"PREFS_UNSUBSCRIBE_MAILTO": "unsubscribe@mail.example.com"}])
def test_a_mailto_unsubscribe_past_the_links_lifetime_still_unsubscribes(app, api, client, newsletter, person):
    """Found by this round's review: an expired reference was ignored, while the one-click POST of the same link
    unsubscribes (SPEC §16: an unsubscribe is never refused). A forged one is still ignored."""
    import time

    from prefs.models import Recipient, Topic
    from prefs.tokens import mailto_reference

    with app.app_context():
        pk = db.session.scalar(select(Recipient.pk).where(Recipient.id == "cust-1"))
        topic_id = db.session.scalar(select(Topic.id).where(Topic.key == "newsletter"))
    old = mailto_reference("test-signing-key-1", pk, topic_id, "email", now=time.time() - 400 * 86400)
    forged = mailto_reference("not-our-key", pk, topic_id, "email")
    secret = {"X-Prefs-Webhook-Secret": "test-email-webhook-secret"}
    for reference, reason in ((forged, "default"), (old, "unsubscribed")):
        answer = client.post("/webhooks/email", json={"to": f"unsubscribe+{reference}@mail.example.com"}, headers=secret)
        assert answer.status_code == 200
        assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == reason


@pytest.mark.parametrize("settings_override", [{"PREFS_UNSUBSCRIBE_MAILTO": "unsubscribe@mail.example.com"}])
def test_a_mailto_unsubscribe_for_a_topic_since_taken_off_email_keeps_the_no(app, api, client, newsletter, person):
    """Found by this round's review: ignored, while the one-click POST of the same link keeps it (SPEC §16)."""
    from prefs.models import Recipient, Topic
    from prefs.tokens import mailto_reference

    with app.app_context():
        pk = db.session.scalar(select(Recipient.pk).where(Recipient.id == "cust-1"))
        topic_id = db.session.scalar(select(Topic.id).where(Topic.key == "newsletter"))
    reference = mailto_reference("test-signing-key-1", pk, topic_id, "email")
    assert api.patch("/topics/newsletter", {"channels": ["sms"], "default_subscribed": {"sms": False}}).status_code == 200
    secret = {"X-Prefs-Webhook-Secret": "test-email-webhook-secret"}
    answer = client.post("/webhooks/email", json={"to": f"unsubscribe+{reference}@mail.example.com"}, headers=secret)
    assert answer.status_code == 200 and answer.get_json()["status"] == "unsubscribed", answer.get_json()
    body = {"channels": ["email", "sms"], "default_subscribed": {"email": True, "sms": False}}
    assert api.patch("/topics/newsletter", body).status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"


@pytest.mark.parametrize("settings_override", [PROVIDER_SETTINGS])
def test_export_says_what_providers_and_browsers_told_about_the_person(api, client, newsletter, person):
    """A dead address reported by a mail provider and a Global Privacy Control signal are data about the person."""
    before = api.get("/recipients/cust-1/export").get_json()["recipient"]
    assert before["email_undeliverable"] is None and before["do_not_sell_or_share_at"] is None
    bounced = client.post("/webhooks/providers/postmark", json=postmark_bounce("ann@example.com"), headers=postmark_auth())
    assert bounced.status_code == 200, bounced.data
    preferences = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()["preferences_url"]
    assert client.get(preferences.removeprefix("https://prefs.example.com"), headers={"Sec-GPC": "1"}).status_code == 200

    exported = api.get("/recipients/cust-1/export").get_json()
    after = exported["recipient"]
    assert [(r["provider"], r["kind"], r["outcome"]) for r in exported["provider_reports"]] == [
        ("postmark", "hard_bounce", "applied")
    ]
    assert after["email_undeliverable"]["provider"] == "postmark"
    assert after["email_undeliverable"]["reported_at"] and after["do_not_sell_or_share_at"]


@pytest.mark.parametrize("settings_override", [PROVIDER_SETTINGS])
def test_the_export_holds_no_report_about_the_address_from_before_its_holder_had_it(api, client, newsletter, person):
    """A provider's report is about an address: the one made while Ann held it is not Bob's, who holds it now
    (found in review: his export listed it)."""
    bounced = client.post("/webhooks/providers/postmark", json=postmark_bounce("ann@example.com"), headers=postmark_auth())
    assert bounced.status_code == 200, bounced.data
    assert len(api.get("/recipients/cust-1/export").get_json()["provider_reports"]) == 1
    assert api.put("/recipients/cust-1", {"email": "ann.new@example.com"}).status_code == 200
    assert api.put("/recipients/bob", {"email": "ann@example.com"}).status_code == 201
    assert api.get("/recipients/bob/export").get_json()["provider_reports"] == []
    # Ann takes it back: the report made while she held it before is hers again (found in review: it went).
    assert api.put("/recipients/bob", {"email": "bob@example.com"}).status_code == 200
    assert api.put("/recipients/cust-1", {"email": "ann@example.com"}).status_code == 200
    assert len(api.get("/recipients/cust-1/export").get_json()["provider_reports"]) == 1
