"""S1 (every API route × every kind of key) and S2 (no personal data, token or key in the logs)."""

from __future__ import annotations

import logging
import re

import pytest
from conftest import BASE_SETTINGS
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from prefs import create_app
from prefs.extensions import db

# The scope each API route needs (SPEC §4). A route missing here fails test_every_api_route_is_in_the_matrix:
# adding a route means deciding who may call it.
API_SCOPES = {
    ("POST", "/api/v1/check"): "check",
    ("POST", "/api/v1/check/batch"): "check",
    ("POST", "/api/v1/check/audience"): "check",
    ("POST", "/api/v1/links"): "check",
    ("GET", "/api/v1/topics"): "check",
    ("GET", "/api/v1/recipients"): "read",
    ("GET", "/api/v1/recipients/<string:recipient_id>"): "read",
    ("GET", "/api/v1/recipients/<string:recipient_id>/preferences"): "read",
    ("GET", "/api/v1/recipients/<string:recipient_id>/events"): "read",
    ("GET", "/api/v1/recipients/<string:recipient_id>/export"): "read",
    ("GET", "/api/v1/events"): "read",
    ("GET", "/api/v1/stats"): "read",
    ("PUT", "/api/v1/recipients/<string:recipient_id>"): "write",
    ("PATCH", "/api/v1/recipients/<string:recipient_id>/preferences"): "write",
    ("POST", "/api/v1/recipients/<string:recipient_id>/deactivate"): "write",
    ("POST", "/api/v1/recipients/<string:recipient_id>/reactivate"): "write",
    ("POST", "/api/v1/recipients/<string:recipient_id>/undeliverable/clear"): "write",
    ("DELETE", "/api/v1/recipients/<string:recipient_id>"): "write",
    ("GET", "/api/v1/recipients/<string:recipient_id>/sync"): "read",
    ("POST", "/api/v1/topics"): "admin",
    ("GET", "/api/v1/topics/<string:key>"): "admin",
    ("PATCH", "/api/v1/topics/<string:key>"): "admin",
    ("DELETE", "/api/v1/topics/<string:key>"): "admin",
    ("GET", "/api/v1/webhooks"): "admin",
    ("POST", "/api/v1/webhooks"): "admin",
    ("GET", "/api/v1/webhooks/<int:endpoint_id>"): "admin",
    ("PATCH", "/api/v1/webhooks/<int:endpoint_id>"): "admin",
    ("DELETE", "/api/v1/webhooks/<int:endpoint_id>"): "admin",
    ("POST", "/api/v1/webhooks/<int:endpoint_id>/rotate"): "admin",
    ("GET", "/api/v1/webhooks/<int:endpoint_id>/deliveries"): "admin",
    ("POST", "/api/v1/webhooks/<int:endpoint_id>/replay"): "admin",
    ("POST", "/api/v1/subscriptions"): "write",
    ("GET", "/api/v1/recipients/<string:recipient_id>/consents"): "read",
    ("POST", "/api/v1/notices"): "admin",
    ("GET", "/api/v1/notices"): "admin",
    ("GET", "/api/v1/notices/<string:key>"): "admin",
    ("GET", "/api/v1/forms"): "admin",
    ("POST", "/api/v1/forms"): "admin",
    ("GET", "/api/v1/forms/<string:key>"): "admin",
    ("PATCH", "/api/v1/forms/<string:key>"): "admin",
    ("DELETE", "/api/v1/forms/<string:key>"): "admin",
    ("GET", "/api/v1/openapi.json"): None,  # public
    ("GET", "/api/v1/docs"): None,  # public: the rendered reference
}
# What a key with each scope may do (SPEC §4): write includes read, admin includes everything.
GRANTS = {"check": {"check"}, "read": {"read"}, "write": {"read", "write"}, "admin": {"check", "read", "write", "admin"}}
# A body that passes validation where one is needed, so a 403 can only come from the scope.
BODIES = {
    "/api/v1/check": {"recipient_id": "cust-1", "topic": "billing", "channel": "email"},
    "/api/v1/check/batch": {"checks": [{"recipient_id": "cust-1"}], "topic": "billing", "channel": "email"},
    "/api/v1/check/audience": {"recipient_id": "cust-1"},
    "/api/v1/links": {"recipient_id": "cust-1"},
    "/api/v1/topics": {"key": "matrix-topic", "name": "Matrix", "channels": ["email"]},
    "/api/v1/recipients/<string:recipient_id>": {"locale": "en"},
    "/api/v1/recipients/<string:recipient_id>/preferences": {"changes": [{"channel": "post", "subscribed": False}]},
    "/api/v1/topics/<string:key>": {"name": "News"},
    "/api/v1/webhooks": {"url": "http://127.0.0.1:9/hook"},
    "/api/v1/webhooks/<int:endpoint_id>": {"description": "matrix"},
    "/api/v1/webhooks/<int:endpoint_id>/replay": {"after": 0},
    "/api/v1/subscriptions": {
        "recipient_id": "cust-1",
        "topics": ["newsletter"],
        "channel": "sms",
        "evidence": {"source": "matrix"},
    },
    "/api/v1/notices": {"key": "newsletter", "text": "Matrix"},  # before GET /notices/newsletter
    # after POST /notices (it names that notice); before GET and PATCH /forms/newsletter
    "/api/v1/forms": {"key": "newsletter", "title": "Matrix", "topics": ["newsletter"], "notice": "newsletter"},
    "/api/v1/forms/<string:key>": {"title": "Matrix form"},
}


def api_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def concrete(path: str, endpoint_id: int = 0) -> str:
    if path == "/api/v1/recipients":
        return path + "?email=ann@example.com"
    return (
        path.replace("<string:recipient_id>", "cust-1")
        .replace("<string:key>", "newsletter")
        .replace("<int:endpoint_id>", str(endpoint_id))
    )


def test_every_api_route_is_in_the_matrix(app):
    assert api_routes(app) == set(API_SCOPES)


@pytest.mark.parametrize("who", ["no key", "revoked", "check", "read", "write", "admin"])
def test_each_route_answers_each_kind_of_key_as_its_scope_says(api, runner, make_key, newsletter, person, who):
    key = None
    if who == "revoked":
        key = make_key("revoked", "admin")
        assert runner.invoke(args=["keys", "revoke", "revoked"]).exit_code == 0
    elif who != "no key":
        key = make_key(f"as-{who}", who)
    endpoint_id = api.post("/webhooks", BODIES["/api/v1/webhooks"]).get_json()["id"]
    for (method, path), scope in sorted(API_SCOPES.items(), key=lambda item: item[0][0] == "DELETE"):  # deletes last
        if method == "DELETE" and who in ("write", "admin"):
            continue  # erasing or archiving here would change what the next kinds of key see; covered below
        body = BODIES.get(path) if method in ("POST", "PUT", "PATCH") else None
        response = api.client.open(
            concrete(path, endpoint_id), method=method, json=body, headers={"Authorization": f"Bearer {key}"} if key else {}
        )
        if scope is None:
            expected = {200}
        elif who in ("no key", "revoked"):
            expected = {401}
        elif scope in GRANTS[who]:
            expected = {200, 201, 202, 204}
        else:
            expected = {403}
        assert response.status_code in expected, (who, method, path, response.status_code, response.get_data(as_text=True)[:200])


def test_deletes_with_the_scopes_that_allow_them(api, make_key, newsletter, person):
    write, admin = make_key("w", "write"), make_key("a", "admin")
    assert api.delete("/topics/newsletter", key=write).status_code == 403
    assert api.delete("/topics/newsletter", key=admin).status_code == 200
    assert api.delete("/recipients/cust-1", key=make_key("c", "check")).status_code == 403
    assert api.delete("/recipients/cust-1", key=write).status_code == 204


# --- S2 -------------------------------------------------------------------------------------------------
def test_a_full_scenario_logs_no_personal_data_token_or_key(app, api, client, newsletter, caplog):
    caplog.set_level(logging.DEBUG)
    email, phone = "Secret.Person@Example.com", "+14155550166"
    api.put("/recipients/s2", {"email": email, "phone": phone, "postal_address": {"lines": ["7 Hidden Lane"], "country": "US"}})
    api.post("/check", {"email": email, "topic": "newsletter", "channel": "email"})
    api.post("/check", {"phone": phone, "topic": "newsletter", "channel": "sms"})
    links = api.post("/links", {"recipient_id": "s2", "topic": "newsletter"}).get_json()
    unsubscribe = links["unsubscribe_url"].removeprefix("https://prefs.example.com")
    preferences = links["preferences_url"].removeprefix("https://prefs.example.com")
    client.get(unsubscribe)
    client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    client.post(unsubscribe + "/undo")
    client.get(preferences)
    client.post(preferences, data={"stop_all": "on"})
    client.get(unsubscribe[:-3])  # a bad token
    form = {"From": phone, "To": "+15005550006", "Body": "STOP"}
    signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
    client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature})
    client.post("/webhooks/sms", data={**form, "From": "not a number"}, headers={"X-Twilio-Signature": "x"})
    api.put("/recipients/s2-other", {"email": email})  # a clash
    api.get("/recipients/s2/export")
    api.delete("/recipients/s2")
    api.post("/check", {"recipient_id": "s2", "topic": "newsletter", "channel": "email"}, key="prefs_wrong-key")

    ours = [record for record in caplog.records if record.name.startswith("prefs")]
    assert len(ours) >= 3  # the scenario does log (unsubscribes, the keyword, the erasure): the scan has lines to read
    logged = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    tokens = [unsubscribe.rsplit("/", 1)[-1], preferences.rsplit("/", 1)[-1]]
    for secret in [email, email.lower(), phone, phone[2:], "Hidden Lane", api.key, "prefs_wrong-key", *tokens]:
        assert secret not in logged, secret
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", logged), "an email address was logged"


def test_a_500_under_a_link_logs_the_route_never_the_token_nor_a_statements_values(database_url, api, newsletter, person, caplog):
    """Flask logs an unhandled error with the URL, and SQLAlchemy (and PostgreSQL's DETAIL line) with the
    values a statement was given; prefs logs the route and each error's first line only."""
    caplog.set_level(logging.DEBUG)
    email = "Secret.Person@Example.com"
    token = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()["unsubscribe_url"].rsplit("/", 1)[-1]
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "TESTING": False})  # errors logged, not raised

    def broken(token: str):
        """A bug under a link page: a statement fails with an address bound to it."""
        db.session.execute(text("CREATE TEMPORARY TABLE seen (address TEXT UNIQUE)"))
        for _ in range(2):
            db.session.execute(text("INSERT INTO seen (address) VALUES (:address)"), {"address": email})

    app.add_url_rule("/u/<token>/broken", view_func=broken)
    try:
        assert app.test_client().get(f"/u/{token}/broken").status_code == 500
    finally:
        with app.app_context():
            db.engine.dispose()
    logged = caplog.text + "\n".join(str(record.args) for record in caplog.records)
    for secret in (token, email, email.lower()):
        assert secret not in logged, secret
    assert "unhandled error on GET /u/<token>/broken" in logged and "IntegrityError" in logged  # it was logged
