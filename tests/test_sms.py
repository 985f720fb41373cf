"""SMS keywords over the Twilio webhook (issue 5, acceptance 1)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from prefs.extensions import db
from prefs.services.sms import START_WORDS, STOP_WORDS

URL = "https://prefs.example.com/webhooks/sms"
PHONE = "+14155550123"


def text(
    client, body: str, sender: str = PHONE, token: str = "test-twilio-token", signature: str | None = None, sid: str | None = None
):
    """A text as Twilio delivers it, each with a MessageSid of its own unless `sid` repeats one."""
    form = {"From": sender, "To": "+15005550006", "Body": body, "MessageSid": sid or "SM" + uuid.uuid4().hex}
    signature = signature if signature is not None else RequestValidator(token).compute_signature(URL, form)
    return client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature})


def replies(response) -> list[str]:
    assert response.status_code == 200 and response.mimetype == "text/xml"
    return re.findall(r"<Message>(.*?)</Message>", response.get_data(as_text=True), re.S)


def spellings(word: str) -> list[str]:
    """The keyword as people type it: any case, stray spaces, a space inside ("opt out")."""
    return [
        word,
        word.lower(),
        f"  {word.capitalize()} ",
        " ".join(word.lower()) if len(word) < 5 else word[:3] + " " + word[3:].lower(),
    ]


STOPS = sorted(STOP_WORDS | {"OPT OUT", "STOP ALL"})
STARTS = sorted(START_WORDS)


@pytest.mark.parametrize("word", STOPS)
def test_every_stop_keyword_stops_all_texts_but_not_email(api, client, newsletter, person, word):
    for spelling in spellings(word):
        response = text(client, spelling)
        messages = replies(response)
        assert len(messages) == 1 and "unsubscribed" in messages[0] and "START" in messages[0]
        assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
        assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
        assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"
        assert api.check("billing", "phone", recipient_id="cust-1")["reason"] == "mandatory"
        assert len(replies(text(client, "START"))) == 1


@pytest.mark.parametrize("word", STARTS)
def test_every_start_keyword_lifts_the_stop(api, client, newsletter, person, word):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    before = api.get("/recipients/cust-1/preferences").get_json()
    for spelling in spellings(word):
        text(client, "STOP")
        messages = replies(text(client, spelling))
        assert len(messages) == 1 and "resubscribed" in messages[0]
        assert api.get("/recipients/cust-1/preferences").get_json() == before  # all as before
        assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"


@pytest.mark.parametrize("word", ["HELP", "help", " Info "])
def test_help_answers_with_the_rules_and_changes_nothing(api, client, person, word):
    before = api.get("/recipients/cust-1/events").get_json()
    (message,) = replies(text(client, word))
    for part in ("Acme", "help@acme.example", "Msg frequency varies", "Msg&amp;data rates may apply", "STOP"):
        assert part in message
    assert api.get("/recipients/cust-1/events").get_json() == before


@pytest.mark.parametrize("spelling", ["Stop!", "stop.", "\uff33\uff34\uff2f\uff30", "opt-out"])
def test_punctuation_and_full_width_letters_still_stop(api, client, person, spelling):
    (message,) = replies(text(client, spelling))
    assert "unsubscribed" in message
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"


def test_other_texts_get_no_reply_and_change_nothing(api, client, person):
    # "stop please" stops since issue 16 (plain language): tests/test_sms_plain_language.py
    assert replies(text(client, "hello")) == []
    assert replies(text(client, "see you at the store")) == []
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "mandatory"


def test_unsigned_or_wrongly_signed_requests_are_403_and_change_nothing(api, client, person):
    before = api.get("/recipients/cust-1/events").get_json()
    assert text(client, "STOP", signature="").status_code == 403
    assert text(client, "STOP", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert text(client, "STOP", token="another-token").status_code == 403
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "mandatory"
    assert api.get("/recipients/cust-1/events").get_json() == before


def test_stop_is_audited_once_and_start_restores(api, client, person):
    text(client, "STOP")
    text(client, "stop")
    events = api.get("/recipients/cust-1/events").get_json()["events"]
    stops = [e for e in events if e["kind"] == "sms_stop"]
    assert len(stops) == 1 and (stops[0]["actor"], stops[0]["via"], stops[0]["after"]) == ("sms", "keyword:STOP", True)
    assert api.get("/recipients/cust-1/preferences").get_json()["channels"]["sms"]["sms_stop"] is True
    text(client, "UNSTOP")
    assert api.get("/recipients/cust-1/events").get_json()["events"][0]["via"] == "keyword:UNSTOP"


def test_no_api_call_lifts_an_sms_stop(api, client, newsletter, person):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": False}]})
    text(client, "STOP")
    # The topic on all its channels too (found in review, session 9: it stored the opt-in to texts, which the
    # person then got after START although they had turned them off).
    for change in (
        {"channel": "sms", "subscribed": True},
        {"topic": "newsletter", "channel": "sms", "subscribed": True},
        {"topic": "newsletter", "subscribed": True},
    ):
        response = api.patch("/recipients/cust-1/preferences", {"changes": [change]})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "sms_stop", change
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
    text(client, "START")
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "unsubscribed"


def test_undoing_a_text_links_unsubscribe_does_not_opt_a_stopped_number_back_in(app, api, client, newsletter, person):
    """Found in review (session 9): undo restored the opt-in to texts under the number's STOP."""
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    link = api.post("/links", {"recipient_id": "cust-1", "channel": "sms", "topic": "newsletter"}).get_json()["unsubscribe_url"]
    path = link.removeprefix("https://prefs.example.com")
    browser = app.test_client()
    assert browser.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    text(client, "STOP")
    refused = browser.post(path + "/undo")
    assert refused.status_code == 422 and "START" in refused.get_data(as_text=True)
    text(client, "START")
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "unsubscribed"


def test_a_new_number_starts_without_the_stop_and_the_old_one_keeps_it(api, client, newsletter, person):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    text(client, "STOP")
    api.put("/recipients/cust-1", {"phone": "+14155550199"})
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "mandatory"
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    # Review finding 1a: moving back to the old number brings its stop back, mandatory texts included.
    api.put("/recipients/cust-1", {"phone": PHONE})
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
    api.put("/recipients/cust-1", {"phone": "+14155550199"})
    api.put("/recipients/someone-else", {"phone": PHONE})  # the old number, now someone else's
    assert api.check("newsletter", "sms", recipient_id="someone-else")["reason"] == "sms_stop"
    assert api.check("billing", "sms", recipient_id="someone-else")["reason"] == "sms_stop"
    assert api.check("billing", "phone", recipient_id="someone-else")["reason"] == "mandatory"  # calls are not texts
    text(client, "START")
    assert api.check("billing", "sms", recipient_id="someone-else")["reason"] == "mandatory"


def test_stop_from_an_unknown_number_stays_with_the_number_until_start(api, client, newsletter):
    stranger = "+14155550177"
    assert len(replies(text(client, "STOP", sender=stranger))) == 1
    assert api.check("newsletter", "sms", phone=stranger)["reason"] == "suppressed"
    api.put("/recipients/new-person", {"phone": stranger})
    # Review finding 1b: the stop reaches whoever holds the number later, for every topic.
    assert api.check("billing", "sms", recipient_id="new-person")["reason"] == "sms_stop"
    response = api.patch(
        "/recipients/new-person/preferences",
        {
            "changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}],
            "evidence": {"collected_at": "2026-11-01T10:00:00Z", "source": "form"},
        },
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "sms_stop"
    text(client, "START", sender=stranger)
    assert api.check("billing", "sms", recipient_id="new-person")["reason"] == "mandatory"
    assert api.check("newsletter", "sms", recipient_id="new-person")["reason"] == "no_consent"


def test_the_webhook_is_off_without_its_token(database_url):
    from conftest import BASE_SETTINGS

    from prefs import create_app
    from prefs.extensions import db

    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_TWILIO_AUTH_TOKEN": ""})
    try:
        response = app.test_client().post("/webhooks/sms", data={"From": PHONE, "Body": "STOP"})
        assert response.status_code == 503 and b"PREFS_TWILIO_AUTH_TOKEN" in response.data
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_replayed_start_does_not_lift_a_later_stop(api, client, person):
    """Found in review (session 9): the same signed request acted again, however late."""
    text(client, "STOP", sid="SM1")
    text(client, "START", sid="SM2")
    text(client, "STOP", sid="SM3")
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
    assert replies(text(client, "START", sid="SM2")) == []  # Twilio's retry, or the request sent again
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"


def test_a_retried_stop_is_confirmed_once_and_its_id_is_forgotten_after_30_days(app, api, client, person):
    assert len(replies(text(client, "STOP", sid="SM1"))) == 1
    assert replies(text(client, "STOP", sid="SM1")) == []  # SPEC §6: exactly one reply per keyword
    assert [e["kind"] for e in api.get("/recipients/cust-1/events").get_json()["events"]].count("sms_stop") == 1
    from prefs.db.transactions import unit_of_work
    from prefs.models import InboundText, utcnow
    from prefs.services.delivery import prune

    with app.app_context():
        unit_of_work(lambda: prune(utcnow() + timedelta(days=29)))
        assert db.session.execute(select(func.count()).select_from(InboundText)).scalar_one() == 1
        unit_of_work(lambda: prune(utcnow() + timedelta(days=31)))
        assert db.session.execute(select(func.count()).select_from(InboundText)).scalar_one() == 0
