"""The check and the preferences API over HTTP, as a mailer uses them (issue 2, acceptance 3)."""

from __future__ import annotations


def reason(api, topic, channel, **who):
    result = api.check(topic, channel, **who)
    return result["allowed"], result["reason"]


def events(api, recipient_id):
    response = api.get(f"/recipients/{recipient_id}/events?limit=1000")
    assert response.status_code == 200
    return response.get_json()["events"]


def test_defaults_then_unsubscribe_then_stops_while_billing_stays_mandatory(api, newsletter, person):
    who = {"recipient_id": "cust-1"}
    assert reason(api, "newsletter", "email", **who) == (True, "default")
    assert reason(api, "newsletter", "sms", **who) == (False, "no_consent")
    assert reason(api, "billing", "email", **who) == (True, "mandatory")
    created_events = len(events(api, "cust-1"))

    response = api.patch(
        "/recipients/cust-1/preferences",
        {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}], "reason": "asked by phone"},
    )
    assert response.status_code == 200
    assert response.get_json()["topics"][-1]["channels"]["email"] == {"allowed": False, "reason": "unsubscribed", "choice": False}
    assert reason(api, "newsletter", "email", **who) == (False, "unsubscribed")
    assert reason(api, "billing", "email", **who) == (True, "mandatory")

    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    assert reason(api, "newsletter", "sms", **who) == (True, "subscribed")

    api.patch("/recipients/cust-1/preferences", {"changes": [{"channel": "sms", "subscribed": False}], "reason": "no texts"})
    assert reason(api, "newsletter", "sms", **who) == (False, "channel_unsubscribed")
    assert reason(api, "billing", "sms", **who) == (True, "mandatory")

    response = api.patch("/recipients/cust-1/preferences", {"changes": [{"subscribed": False}], "reason": "stop everything"})
    assert response.get_json()["all_marketing"] == "stopped"
    assert reason(api, "newsletter", "sms", **who) == (False, "all_marketing_unsubscribed")
    assert reason(api, "newsletter", "email", **who) == (False, "all_marketing_unsubscribed")
    for channel in ("email", "sms", "phone"):
        assert reason(api, "billing", channel, **who) == (True, "mandatory")
        assert reason(api, "service", channel, **who) == (True, "mandatory")

    history = events(api, "cust-1")
    written = history[: len(history) - created_events]
    assert [(e["kind"], e["topic"], e["channel"], e["before"], e["after"]) for e in reversed(written)] == [
        ("topic_choice", "newsletter", "email", None, False),
        ("topic_choice", "newsletter", "sms", None, True),
        ("channel_stop", None, "sms", None, False),
        ("all_marketing", None, None, None, False),
    ]
    assert {(e["actor"], e["actor_id"], e["via"]) for e in written} == {("api", "test-admin", "api")}
    assert [e["reason"] for e in reversed(written)] == ["asked by phone", None, "no texts", "stop everything"]


def test_unsubscribing_from_billing_is_refused_and_changes_nothing(api, newsletter, person):
    before_matrix = api.get("/recipients/cust-1/preferences").get_json()
    before_events = events(api, "cust-1")
    for change in ({"topic": "billing", "subscribed": False}, {"topic": "billing", "channel": "email", "subscribed": False}):
        response = api.patch(
            "/recipients/cust-1/preferences",
            {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}, change, {"subscribed": False}]},
        )
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "mandatory_topic"
    assert api.get("/recipients/cust-1/preferences").get_json() == before_matrix
    assert events(api, "cust-1") == before_events
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (True, "default")


def test_a_change_that_changes_nothing_writes_no_event(api, newsletter, person):
    unsubscribe = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    api.patch("/recipients/cust-1/preferences", unsubscribe)
    count = len(events(api, "cust-1"))
    api.patch("/recipients/cust-1/preferences", unsubscribe)
    api.patch("/recipients/cust-1/preferences", {"changes": [{"channel": "email", "subscribed": True}]})  # never stopped
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "billing", "subscribed": True}]})  # always on
    assert len(events(api, "cust-1")) == count


def test_an_explicit_opt_in_where_the_default_is_on_records_consent(api, newsletter, person):
    count = len(events(api, "cust-1"))
    api.patch(
        "/recipients/cust-1/preferences",
        {
            "changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}],
            "evidence": {"source": "signup form", "collected_at": "2026-11-01T10:00:00Z"},
        },
    )
    history = events(api, "cust-1")
    assert len(history) == count + 1
    assert history[0]["evidence"] == {"source": "signup form", "collected_at": "2026-11-01T10:00:00Z"}
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (True, "subscribed")


def test_topic_only_change_covers_all_its_channels_and_resume_undoes_a_stop(api, newsletter, person):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "subscribed": True}]})
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (True, "subscribed")
    assert reason(api, "newsletter", "sms", recipient_id="cust-1") == (True, "subscribed")
    api.patch("/recipients/cust-1/preferences", {"changes": [{"channel": "email", "subscribed": False}]})
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (False, "channel_unsubscribed")
    response = api.patch("/recipients/cust-1/preferences", {"changes": [{"channel": "email", "subscribed": True}]})
    assert response.get_json()["channels"]["email"]["stopped"] is False
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (True, "subscribed")
    assert events(api, "cust-1")[0]["kind"] == "channel_stop"


def test_check_by_email_and_phone_finds_the_person_however_it_is_spelled(api, newsletter, person):
    assert api.check("newsletter", "email", email="  ANN@example.COM ")["recipient_id"] == "cust-1"
    assert api.check("newsletter", "sms", phone="+14155550123")["recipient_id"] == "cust-1"
    assert api.check("newsletter", "sms", phone="(415) 555-0123")["reason"] == "no_consent"
    unknown = api.check("newsletter", "email", email="nobody@example.com")
    assert (unknown["allowed"], unknown["reason"], unknown["recipient_id"]) == (False, "unknown_recipient", None)


def test_every_spelling_of_a_number_finds_the_same_person_everywhere(api, newsletter):
    """Found by this round's review: an E.164-shaped number with a trunk prefix after the country code skipped
    normalisation, so the check, the batch, the audience check and GET /recipients?phone= found nobody."""
    assert api.put("/recipients/uk", {"phone": "+44 07911 123456"}).status_code == 201
    for spelling in ("+44 07911 123456", "+4407911123456", "+447911123456"):
        assert api.check("billing", "sms", phone=spelling)["recipient_id"] == "uk", spelling
        batch = api.post("/check/batch", {"topic": "billing", "channel": "sms", "checks": [{"phone": spelling}]}).get_json()
        assert batch["results"][0]["recipient_id"] == "uk", spelling
        audience = api.post("/check/audience", {"phone": spelling}).get_json()
        assert audience["recipient_id"] == "uk", (spelling, audience)
        found = api.get("/recipients", query_string={"phone": spelling}).get_json()["recipients"]
        assert [recipient["id"] for recipient in found] == ["uk"], spelling
    body = {"phone": "+4407911123456", "topics": ["newsletter"], "channel": "sms", "evidence": {"source": "keypad"}}
    subscribed = api.post("/subscriptions", body)  # the person's own number: not somebody else's (409)
    assert subscribed.status_code in (200, 201) and subscribed.get_json()["recipient_id"] == "uk", subscribed.get_json()


def test_topic_rules_come_before_the_person(api, newsletter, person):
    assert reason(api, "newsletter", "post", recipient_id="cust-1") == (False, "topic_not_on_channel")
    assert reason(api, "newsletter", "post", recipient_id="nobody") == (False, "topic_not_on_channel")
    assert api.delete("/topics/newsletter").status_code == 200
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (False, "topic_archived")


def test_no_address_and_deactivation(api, newsletter):
    api.put("/recipients/only-mail", {"email": "m@example.com"})
    assert reason(api, "billing", "sms", recipient_id="only-mail") == (False, "no_address")
    assert reason(api, "billing", "post", recipient_id="only-mail") == (False, "no_address")
    response = api.post("/recipients/only-mail/deactivate", {"reason": "account closed"})
    assert response.status_code == 200 and response.get_json()["status"] == "deactivated"
    assert reason(api, "billing", "email", recipient_id="only-mail") == (False, "deactivated")
    assert api.post("/recipients/only-mail/reactivate").status_code == 200
    assert reason(api, "billing", "email", recipient_id="only-mail") == (True, "mandatory")
    kinds = [(e["kind"], e["before"], e["after"], e["reason"]) for e in events(api, "only-mail")[:2]]
    assert kinds == [
        ("status_changed", "deactivated", "active", None),
        ("status_changed", "active", "deactivated", "account closed"),
    ]


def test_patch_validation_is_all_or_nothing(api, newsletter, person):
    bad = [
        (
            {
                "changes": [
                    {"topic": "newsletter", "channel": "email", "subscribed": False},
                    {"topic": "nope", "subscribed": False},
                ]
            },
            "unknown_topic",
        ),
        ({"changes": [{"topic": "newsletter", "channel": "post", "subscribed": True}]}, "invalid"),
        ({"changes": [{"topic": "newsletter", "channel": "email", "subscribed": "no"}]}, "invalid"),
        ({"changes": []}, "invalid"),
        ({"changes": [{"subscribed": False}], "extra": 1}, "invalid"),
    ]
    for body, code in bad:
        response = api.patch("/recipients/cust-1/preferences", body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == code, body
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == (True, "default")
    assert api.patch("/recipients/nobody/preferences", {"changes": [{"subscribed": False}]}).status_code == 404


def test_matrix_shows_masked_addresses_and_every_live_topic(api, newsletter, person):
    matrix = api.get("/recipients/cust-1/preferences").get_json()
    assert matrix["recipient_id"] == "cust-1" and matrix["status"] == "active" and matrix["all_marketing"] == "active"
    assert matrix["channels"]["email"] == {"address": "a***@example.com", "stopped": False}
    assert "ann@" not in str(matrix) and "5550123" not in str(matrix)
    assert matrix["channels"]["sms"]["sms_stop"] is False
    assert [t["key"] for t in matrix["topics"]] == ["billing", "service", "newsletter"]
    assert set(matrix["topics"][2]["channels"]) == {"email", "sms"}
    full = api.get("/recipients/cust-1").get_json()
    assert full["email"] == "ann@example.com" and full["preferences"] == matrix
