"""Issue 14's loose ends: erasure stops mail still queued for the person (in the outbox, or taken by the worker
and not yet sent); the console's topic form sets `confirmation` with the API's rules; "email me my link" sends
nothing to an address a provider reported undeliverable (rule 6a). Real SMTP relay on loopback. SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from conftest import requires_postgres
from smtp_server import smtp_server  # noqa: F401  (a fixture)
from sqlalchemy import func, select
from test_webhooks import deliver

from prefs.db.transactions import unit_of_work
from prefs.extensions import db
from prefs.models import OutboundMail, OutboxMessage, utcnow
from prefs.runtime import runtime
from prefs.services.provider_events import HARD_BOUNCE, ProviderEvent, apply_provider_event

pytest_plugins = ["console_fixtures"]


@pytest.fixture
def settings_override(smtp_server):  # noqa: F811
    return {"PREFS_SMTP_URL": smtp_server.url, "PREFS_MAIL_FROM": "news@acme.example", "PREFS_RETRY_SCHEDULE": "5,60"}


@pytest.fixture
def letters(api) -> dict:
    response = api.post("/topics", {"key": "letters", "name": "Letters", "channels": ["email"], "confirmation": "double"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def request_letters(api, email: str) -> str:
    body = {"email": email, "topics": ["letters"], "channel": "email", "evidence": {"source": "footer form"}}
    response = api.post("/subscriptions", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["recipient_id"]


def queued_mail(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "email")) or 0


# --- a. erasure -----------------------------------------------------------------------------------------
def test_erasure_drops_mail_still_in_the_outbox(api, app, letters, smtp_server):  # noqa: F811
    lena = request_letters(api, "lena@example.com")
    request_letters(api, "kai@example.com")  # someone else's mail goes as ever
    assert queued_mail(app) == 2
    assert api.delete(f"/recipients/{lena}").status_code == 204
    assert queued_mail(app) == 1
    deliver(app)
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [("kai@example.com",)]
    feed = api.get("/events?limit=1000").get_json()["events"]
    assert [event["kind"] for event in feed if event["recipient_id"] == lena][-1] == "erased"  # audited as ever


def test_erasure_cancels_mail_the_worker_holds_but_has_not_sent(api, app, letters, smtp_server):  # noqa: F811
    lena = request_letters(api, "lena@example.com")
    smtp_server.refuse(451)  # the relay says "later": the message waits in outbound_mails, address and all
    deliver(app)
    with app.app_context():
        [mail] = db.session.scalars(select(OutboundMail)).all()
        assert mail.status == "pending" and mail.payload
    assert api.delete(f"/recipients/{lena}").status_code == 204
    with app.app_context():
        [mail] = db.session.scalars(select(OutboundMail)).all()
        assert (mail.status, mail.payload) == ("cancelled", None)
    smtp_server.refuse(None)
    deliver(app, clock=lambda: utcnow() + timedelta(hours=2))  # well past its next try
    assert smtp_server.messages == []


# --- b. the console's topic form ------------------------------------------------------------------------
def test_the_console_topic_form_sets_confirmation_with_the_apis_rules(api, console):
    admin = console("admin")
    made = admin.submit("/console/admin/topics", "/console/admin/topics",
                        {"key": "letters", "name": "Letters", "channels": ["email"], "confirmation": "double"})  # fmt: skip
    assert made.status_code == 303, made.get_data(as_text=True)
    assert api.get("/topics/letters").get_json()["confirmation"] == "double"
    page = admin.text("/console/admin/topics/letters")
    assert '<option selected value="double">' in page
    back = admin.submit("/console/admin/topics/letters", "/console/admin/topics/letters", {"confirmation": "single"})
    assert back.status_code == 303 and api.get("/topics/letters").get_json()["confirmation"] == "single"
    refused = admin.submit("/console/admin/topics", "/console/admin/topics",
                           {"key": "texts", "name": "Texts", "channels": ["sms"], "confirmation": "double"})  # fmt: skip
    assert refused.status_code == 422 and "Double opt-in is for email" in refused.get_data(as_text=True)
    assert api.get("/topics/texts").status_code == 404


# --- c. email me my link and an undeliverable address ---------------------------------------------------
def test_email_me_my_link_sends_nothing_to_an_address_reported_undeliverable(api, app, client, smtp_server):  # noqa: F811
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.put("/recipients/cust-2", {"email": "bob@example.com"})
    with app.test_request_context():
        event = ProviderEvent("sendgrid", "bounce-1", HARD_BOUNCE, "ann@example.com", "5.1.1")
        unit_of_work(lambda: apply_provider_event(runtime(), event))
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "undeliverable"
    dead = client.post("/p", data={"email": "ann@example.com"}, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    live = client.post("/p", data={"email": "bob@example.com"}, environ_base={"REMOTE_ADDR": "198.51.100.2"})
    assert dead.status_code == live.status_code == 200 and dead.data == live.data  # the page never tells
    deliver(app)
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [("bob@example.com",)]


@requires_postgres
def test_a_mail_fanned_out_while_its_person_is_erased_is_cancelled(api, app, letters, smtp_server, monkeypatch):  # noqa: F811
    """Found in review (session 9): the worker read the outbox unlocked; the erasure deleted the mail's outbox
    row and found no mail to cancel yet; the worker then made the mail from what it had read and sent it to the
    erased address. The fan-out now holds the rows it reads: the erasure waits for it, then cancels the mail."""
    from prefs.services import delivery

    lena = request_letters(api, "lena@example.com")
    fan_out_mails = delivery.fan_out_mails
    erasing: list[threading.Thread] = []

    def erased_meanwhile(*args):
        if not erasing:  # from another connection, while the fan-out's transaction is open
            erasing.append(threading.Thread(target=lambda: api.delete(f"/recipients/{lena}")))
            erasing[0].start()
            erasing[0].join(1.0)  # before the fix it commits at once; after, it waits for this fan-out
        return fan_out_mails(*args)

    monkeypatch.setattr(delivery, "fan_out_mails", erased_meanwhile)
    with app.app_context():  # the worker's fan-out alone: a send right after it could still beat the erasure's
        unit_of_work(lambda: delivery.fan_out(utcnow()))  # cancel by a moment, as any mail being sent does
    erasing[0].join(10)
    assert api.get(f"/recipients/{lena}").status_code == 404
    monkeypatch.setattr(delivery, "fan_out_mails", fan_out_mails)
    deliver(app)
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == []
    with app.app_context():
        mails = db.session.execute(select(OutboundMail.status, OutboundMail.payload)).all()
    assert [(status, payload) for status, payload in mails] == [("cancelled", None)]
