"""Topics: the catalogue mailers check against, and the rules that keep mandatory topics mandatory."""

from __future__ import annotations


def code(response):
    return response.status_code, response.get_json()["error"]["code"]


def test_catalogue_starts_with_the_mandatory_topics(api):
    topics = {t["key"]: t for t in api.get("/topics").get_json()["topics"]}
    assert set(topics) == {"service", "billing"}
    for topic in topics.values():
        assert (
            topic["mandatory"] is True and topic["channels"] == ["email", "sms", "phone", "post"] and topic["archived"] is False
        )


def test_create_read_change_archive(api, newsletter):
    assert newsletter["default_subscribed"] == {"email": True, "sms": False}
    assert code(api.post("/topics", {"key": "newsletter", "name": "Again", "channels": ["email"]})) == (409, "already_exists")
    changed = api.patch(
        "/topics/newsletter", {"name": "News", "channels": ["email", "sms", "post"], "default_subscribed": {"post": True}}
    )
    assert changed.status_code == 200
    assert changed.get_json()["default_subscribed"] == {"email": False, "sms": False, "post": True}
    assert api.get("/topics/newsletter").get_json()["name"] == "News"
    assert api.delete("/topics/newsletter").get_json()["archived"] is True
    assert api.patch("/topics/newsletter", {"archived": False}).get_json()["archived"] is False
    assert api.get("/topics/nope").status_code == 404


def test_topic_validation(api, newsletter):
    assert code(api.post("/topics", {"key": "Bad Key", "name": "x", "channels": ["email"]})) == (422, "invalid")
    assert code(api.post("/topics", {"key": "x", "name": "x", "channels": []})) == (422, "invalid")
    assert code(api.post("/topics", {"key": "x", "name": "x", "channels": ["fax"]})) == (422, "invalid")
    assert code(api.post("/topics", {"key": "x", "name": "x", "channels": ["email"], "default_subscribed": {"sms": True}})) == (
        422,
        "invalid",
    )
    assert code(api.patch("/topics/newsletter", {"mandatory": True})) == (422, "immutable_field")
    assert code(api.patch("/topics/newsletter", {"key": "other"})) == (422, "immutable_field")
    assert api.patch("/topics/newsletter", {"mandatory": False}).status_code == 200  # unchanged is fine


def test_mandatory_topics_cannot_be_archived_or_narrowed(api):
    assert code(api.delete("/topics/billing")) == (422, "mandatory_topic")
    assert code(api.patch("/topics/service", {"archived": True})) == (422, "mandatory_topic")
    assert code(api.patch("/topics/billing", {"channels": ["email"]})) == (422, "mandatory_topic")
    assert code(api.patch("/topics/billing", {"mandatory": False})) == (422, "immutable_field")
    assert api.get("/topics/billing").get_json()["archived"] is False
    created = api.post("/topics", {"key": "security", "name": "Security alerts", "mandatory": True, "channels": ["email"]})
    assert created.status_code == 201 and created.get_json()["mandatory"] is True
    assert api.patch("/topics/security", {"channels": ["email", "sms"]}).status_code == 200  # growing is fine


def test_a_new_topic_is_usable_at_once_and_the_change_is_audited(api, app, person):
    assert api.post("/check", {"recipient_id": "cust-1", "topic": "offers", "channel": "email"}).status_code == 422
    api.post("/topics", {"key": "offers", "name": "Offers", "channels": ["email"]})
    assert api.check("offers", "email", recipient_id="cust-1")["reason"] == "no_consent"
    from prefs.extensions import db
    from prefs.models import AdminEvent

    with app.app_context():
        actions = [(e.action, e.target, e.actor, e.actor_id) for e in db.session.query(AdminEvent).order_by(AdminEvent.id)]
    assert ("topic.created", "offers", "api", "test-admin") in actions
