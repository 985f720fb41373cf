"""Every refusal in the SPEC §4 error shape, with its stable code, and never a 500 (acceptance 5)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["console_fixtures"]


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


CHECK = {"recipient_id": "cust-1", "topic": "billing", "channel": "email"}


def test_a_body_that_is_not_json_is_400(api):
    headers = {"Authorization": f"Bearer {api.key}"}
    assert_error(
        api.client.post("/api/v1/check", data="topic=billing", headers=headers, content_type="application/x-www-form-urlencoded"),
        400,
        "bad_request",
    )
    assert_error(
        api.client.post("/api/v1/check", data='{"topic":', headers=headers, content_type="application/json"), 400, "bad_request"
    )
    assert_error(
        api.client.post("/api/v1/check", data='{"topic": "billing"}', headers=headers), 400, "bad_request"
    )  # no JSON content type
    assert_error(api.client.put("/api/v1/recipients/x", headers=headers), 400, "bad_request")  # no body at all


def test_no_key_unknown_key_revoked_key_are_401(api, client, make_key, runner):
    assert_error(client.post("/api/v1/check", json=CHECK), 401, "unauthorized")
    assert_error(client.post("/api/v1/check", json=CHECK, headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert_error(api.post("/check", CHECK, key="prefs_not-a-key"), 401, "unauthorized")
    key = make_key("soon-revoked", "check")
    assert api.post("/check", CHECK, key=key).status_code == 200
    assert runner.invoke(args=["keys", "revoke", "soon-revoked"]).exit_code == 0
    assert_error(api.post("/check", CHECK, key=key), 401, "unauthorized")


def test_authentication_comes_before_body_validation(client):
    assert_error(client.post("/api/v1/check", data="not json"), 401, "unauthorized")


@pytest.mark.parametrize(
    ("scopes", "method", "path", "body", "status"),
    [
        (("check",), "GET", "/recipients/cust-1", None, 403),
        (("check",), "PUT", "/recipients/cust-1", {}, 403),
        (("read",), "PUT", "/recipients/cust-1", {}, 403),
        (("read",), "POST", "/check", CHECK, 403),
        (("write",), "POST", "/topics", {"key": "x", "name": "x", "channels": ["email"]}, 403),
        (("write",), "GET", "/recipients/cust-1", None, 200),
        (("check",), "GET", "/topics", None, 200),
        (("admin",), "POST", "/check", CHECK, 200),
    ],
)
def test_scopes(api, person, make_key, scopes, method, path, body, status):
    key = make_key("scoped", *scopes)
    response = api.call(method, path, body, key=key)
    if status == 403:
        assert_error(response, 403, "forbidden")
    else:
        assert response.status_code == status


def test_unknown_topic_is_422_unknown_topic(api, person):
    assert_error(api.post("/check", {**CHECK, "topic": "nope"}), 422, "unknown_topic")


def test_a_bad_email_is_422_naming_the_field(api):
    error = assert_error(api.put("/recipients/cust-9", {"email": "not an email"}), 422, "invalid")
    assert "email" in error["details"]
    error = assert_error(api.post("/check", {**CHECK, "recipient_id": None, "email": "nope"}), 422, "invalid")
    assert "email" in error["details"]
    assert api.get("/recipients/cust-9").status_code == 404  # nothing was created


@pytest.mark.parametrize(
    "body",
    [
        {"topic": "billing", "channel": "email"},
        {"recipient_id": "a", "email": "a@example.com", "topic": "billing", "channel": "email"},
        {"recipient_id": "a", "topic": "billing", "channel": "fax"},
        {"recipient_id": "a", "topic": "billing"},
        {"recipient_id": 5, "topic": "billing", "channel": "email"},
        {"recipient_id": "a", "topic": 5, "channel": "email"},
        {"recipient_id": "a", "topic": "billing", "channel": "email", "extra": 1},
        [1, 2],
        "text",
        7,
    ],
)
def test_malformed_checks_are_422_invalid(api, body):
    assert_error(api.post("/check", body), 422, "invalid")


def test_not_found_and_method_not_allowed(api):
    assert_error(api.get("/nowhere"), 404, "not_found")
    assert_error(api.get("/recipients/nobody"), 404, "not_found")
    assert_error(api.get("/recipients/bad@id"), 404, "not_found")
    response = api.delete("/check")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_recipient_validation(api):
    assert_error(api.put("/recipients/has@at", {}), 422, "invalid")
    assert_error(api.put("/recipients/r1", {"phone": "12"}), 422, "invalid")
    assert_error(api.put("/recipients/r1", {"postal_address": {"lines": []}}), 422, "invalid")
    assert_error(api.put("/recipients/r1", {"locale": "not a locale"}), 422, "invalid")
    assert_error(api.put("/recipients/r1", {"status": "erased"}), 422, "invalid")
    assert_error(api.get("/recipients?email=a@example.com&phone=+14155550123"), 422, "invalid")
    assert_error(api.get("/recipients"), 422, "invalid")
    assert_error(api.get("/recipients/r1/events?limit=0"), 422, "invalid")
    api.put("/recipients/r1", {})
    assert_error(api.get("/recipients/r1/events?cursor=garbage!"), 422, "invalid")


def test_numbers_beyond_a_database_integer_are_422_not_500(api, person):
    """Found by schemathesis: after=2**63 reached SQLite and overflowed."""
    assert_error(api.get(f"/events?after={2**63}"), 422, "invalid")
    import base64

    cursor = base64.urlsafe_b64encode(f"before:{10**30}".encode()).decode().rstrip("=")
    assert_error(api.get(f"/recipients/cust-1/events?cursor={cursor}"), 422, "invalid")


def test_nul_characters_are_refused_before_they_reach_the_database(api, client, person):
    """Found by schemathesis on PostgreSQL, whose text cannot hold NUL: it answered 500."""
    assert_error(api.post("/topics", {"key": "nul", "name": "bad\u0000name", "channels": ["email"]}), 422, "invalid")
    assert_error(api.put("/recipients/cust-1", {"locale": "en\u0000"}), 422, "invalid")
    assert_error(api.get("/recipients?email=a%00@example.com"), 422, "invalid")
    assert client.post("/webhooks/email", data={"to": "x\x00"}).status_code == 400
    assert api.get("/topics/nul").status_code == 404


def test_only_what_decodes_to_nul_is_refused(api, client, newsletter, person):
    """Found by this round's review: "%00" in JSON is text (a campaign id, a URL a mail provider quotes), and so
    is an escaped backslash before u0000; both were refused as NUL."""
    links = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "message_id": "sale-100%00-off"})
    assert links.status_code == 200, links.get_json()
    change = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}], "reason": "typed \\u0000 here"}
    assert api.patch("/recipients/cust-1/preferences", change).status_code == 200
    (latest, *_) = api.get("/recipients/cust-1/events").get_json()["events"]
    assert latest["reason"] == "typed \\u0000 here"  # kept as the text it was
    # What does decode to NUL still is, wherever it is: an escape after an odd number of backslashes, a
    # percent-encoded NUL in a query string or a form, a NUL byte in any body.
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    odd = '{"changes": [{"topic": "newsletter", "channel": "email", "subscribed": true}], "reason": "a \\\\\\u0000 b"}'
    assert_error(client.patch("/api/v1/recipients/cust-1/preferences", data=odd, headers=headers), 422, "invalid")
    assert_error(api.get("/recipients?email=a%00@example.com"), 422, "invalid")
    page = client.post(links.get_json()["preferences_url"].removeprefix("https://prefs.example.com"), data="shown=x%00")
    assert page.status_code == 400 and page.mimetype == "text/html"
    # The webhooks answer machines: their refusal is in the API's JSON shape.
    refused = client.post("/webhooks/email", data={"to": "x\x00"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_request"
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"  # nothing refused changed


def test_deeply_nested_bodies_and_lone_surrogates_are_client_errors(api, client, person):
    """Found by the black-box review: both answered 500."""
    nested = "[" * 5000 + "]" * 5000
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    for path in ("/api/v1/check", "/api/v1/check/batch"):
        assert_error(client.post(path, data=nested, headers=headers), 400, "bad_request")
    secret = {"Content-Type": "application/json", "X-Prefs-Webhook-Secret": "test-email-webhook-secret"}
    assert client.post("/webhooks/email", data=nested, headers=secret).status_code == 400
    lone = '{"key": "x", "name": "bad \\ud800 name", "channels": ["email"]}'
    assert_error(client.post("/api/v1/topics", data=lone, headers=headers), 422, "invalid")
    assert_error(client.put("/api/v1/recipients/cust-1", data='{"locale": "\\udc00en"}', headers=headers), 422, "invalid")
    paired = '{"key": "emoji", "name": "Party \\ud83c\\udf89", "channels": ["email"]}'
    response = client.post("/api/v1/topics", data=paired, headers=headers)
    assert response.status_code == 201 and response.get_json()["name"] == "Party \U0001f389"


def test_half_a_surrogate_pair_is_refused_however_it_is_spelled(api, client, console, person):
    """Found by this round's review: raw bytes ED A0 80 (which Python's JSON reader decodes to a lone half) and
    an escaped backslash before a high half (which hid the lone low half after it) reached the database: a 500
    on the check, and a postal address stored that the console could not show."""
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    lookups = [b'{"email": "a\xed\xa0\x80@example.com", "topic": "billing", "channel": "email"}',
               b'{"email": "\\\\ud800\\udc00@example.com", "topic": "billing", "channel": "email"}']  # fmt: skip
    for body in lookups:
        assert_error(client.post("/api/v1/check", data=body, headers=headers), 422, "invalid")
    assert_error(
        client.post("/api/v1/check/audience", data=b'{"email": "a\xed\xa0\x80@example.com"}', headers=headers), 422, "invalid"
    )
    before = api.get("/recipients/cust-1").get_json()
    writes = [b'{"postal_address": {"lines": ["\\\\ud800\\udc00 Main St"], "country": "US"}}',
              b'{"postal_address": {"lines": ["x\xed\xa0\x80"], "country": "US"}}']  # fmt: skip
    for body in writes:
        assert_error(client.put("/api/v1/recipients/cust-1", data=body, headers=headers), 422, "invalid")
    reason = b'{"changes": [{"topic": "newsletter", "channel": "email", "subscribed": false}], "reason": "\\\\ud800\\udc00"}'
    assert_error(client.patch("/api/v1/recipients/cust-1/preferences", data=reason, headers=headers), 422, "invalid")
    assert api.get("/recipients/cust-1").get_json() == before  # nothing refused changed
    assert console("agent").get("/console/recipients/cust-1").status_code == 200
    secret = {"Content-Type": "application/json", "X-Prefs-Webhook-Secret": "test-email-webhook-secret"}
    refused = client.post("/webhooks/email", data=b'{"to": "unsubscribe+ab\xed\xa0\x80c@prefs.example.com"}', headers=secret)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_request"
    # What only looks like one is text: Hangul shares the lead byte ED, and an escaped backslash makes "\ud800" plain.
    for name in ("\ud55c\uad6d\uc5b4 \uc18c\uc2dd", "back\\ud800slash"):
        body = json.dumps({"key": f"t{len(name)}", "name": name, "channels": ["email"]}, ensure_ascii=False)
        response = client.post("/api/v1/topics", data=body.encode(), headers=headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["name"] == name


def test_strict_values_found_by_the_black_box_review(api, newsletter, person):
    change = {"topic": "newsletter", "channel": "email"}
    assert_error(api.patch("/recipients/cust-1/preferences", {"changes": [{**change, "subscribed": 1}]}), 422, "invalid")
    error = assert_error(
        api.patch(
            "/recipients/cust-1/preferences",
            {"changes": [{**change, "subscribed": True}], "evidence": {"collected_at": "yesterday-ish", "source": "x"}},
        ),
        422,
        "invalid",
    )
    assert "evidence" in error["details"]
    assert_error(api.put("/recipients/...", {}), 422, "invalid")  # "." and ".." would read as URL path steps
    assert (
        api.post("/check", {"recipient_id": "nobody", "topic": "newsletter", "channel": "email"}).get_json()["recipient_id"]
        == "nobody"
    )
