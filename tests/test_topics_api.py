"""Topics: the catalogue mailers check against, and the rules that keep mandatory topics mandatory."""

from __future__ import annotations

import re

pytest_plugins = ["console_fixtures"]


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


# --- translations of a topic's name and description (SPEC §16) -------------------------------------------
def test_names_and_descriptions_by_language_are_kept_and_shown_on_the_pages(api, app, client, newsletter, person):
    assert (newsletter["names"], newsletter["descriptions"]) == ({}, {})
    created = api.post(
        "/topics",
        {
            "key": "offers",
            "name": "Offers",
            "description": "Discounts.",
            "channels": ["email"],
            "default_subscribed": {"email": True},
            "names": {"ar": "العروض", "pt-BR": "  Ofertas  ", "es": "Ofertas"},
            "descriptions": {"ar": "خصومات.", "de": ""},
        },
    )
    assert created.status_code == 201, created.get_json()
    topic = created.get_json()
    assert topic["names"] == {"es": "Ofertas", "pt-BR": "Ofertas", "ar": "العروض"}  # the pages' order, trimmed
    assert topic["descriptions"] == {"ar": "خصومات."}  # an empty text is no translation
    assert api.get("/topics/offers").get_json()["names"] == topic["names"]

    link = api.post("/links", {"recipient_id": "cust-1"}).get_json()["preferences_url"].removeprefix("https://prefs.example.com")
    arabic = client.get(link + "?lang=ar").get_data(as_text=True)
    assert "العروض" in arabic and "خصومات." in arabic
    spanish = client.get(link + "?lang=es").get_data(as_text=True)
    assert "Ofertas" in spanish and "Discounts." in spanish  # no Spanish description: the description
    french = client.get(link + "?lang=fr").get_data(as_text=True)
    assert "Offers" in french and "Ofertas" not in french

    patched = api.patch("/topics/offers", {"names": {"fr": "Promotions"}}).get_json()
    assert patched["names"] == {"fr": "Promotions"} and patched["descriptions"] == {"ar": "خصومات."}  # a whole map
    assert "Promotions" in client.get(link + "?lang=fr").get_data(as_text=True)
    assert api.patch("/topics/offers", {"names": None}).get_json()["names"] == {}
    from prefs.extensions import db
    from prefs.models import AdminEvent

    with app.app_context():
        last = db.session.query(AdminEvent).order_by(AdminEvent.id.desc()).first()
        assert (last.action, last.target) == ("topic.changed", "offers")


def test_translations_only_in_our_languages_and_within_the_limits(api, newsletter):
    for body in (
        {"names": {"it": "Notiziario"}},
        {"names": {"pt": "Boletim"}},  # pt-BR is the tag
        {"names": {"es": "x" * 201}},
        {"descriptions": {"de": "x" * 2001}},
        {"names": ["es", "Boletín"]},
        {"names": {"es": 5}},
    ):
        response = api.patch("/topics/newsletter", body)
        assert code(response) == (422, "invalid"), body
    assert api.patch("/topics/newsletter", {"names": {"es": "x" * 200}}).status_code == 200
    assert api.patch("/topics/newsletter", {"descriptions": {"hi": "न्यूज़लेटर " * 100}}).status_code == 200


def test_the_console_topic_form_sets_the_translations(console, api, newsletter):
    admin = console("admin")
    topics = "/console/admin/topics"
    new = {"key": "offers", "name": "Offers", "channels": ["email"], "name_ar": "العروض", "description_pt_BR": "Descontos"}
    assert admin.submit(topics, topics, new).status_code == 303
    topic = api.get("/topics/offers").get_json()
    assert (topic["names"], topic["descriptions"]) == ({"ar": "العروض"}, {"pt-BR": "Descontos"})

    page = admin.text(f"{topics}/offers")
    assert '<details class="edit translations" open>' in page
    arabic = re.search(r'<input[^>]*id="edit-name_ar"[^>]*>', page).group(0)
    assert 'lang="ar"' in arabic and 'dir="rtl"' in arabic
    assert 'value="العروض"' in page and "Name in العربية (ar)" in page
    edited = admin.submit(f"{topics}/offers", f"{topics}/offers", {"name_ar": "", "name_de": "Angebote"})
    assert edited.status_code == 303
    topic = api.get("/topics/offers").get_json()
    assert (topic["names"], topic["descriptions"]) == ({"de": "Angebote"}, {"pt-BR": "Descontos"})

    too_long = admin.submit(f"{topics}/offers", f"{topics}/offers", {"name_hi": "x" * 201})
    assert too_long.status_code == 422 and "Field cannot be longer than 200 characters." in too_long.get_data(as_text=True)
    assert '<details class="edit translations">' in admin.text(f"{topics}/newsletter")  # none given: folded
