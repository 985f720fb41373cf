"""POST /check/batch: up to 10,000 items, answered in order, malformed items answered as such (acceptance 4)."""

from __future__ import annotations


def test_ten_thousand_items_answered_in_order(api, newsletter):
    for n in range(20):
        api.put(f"/recipients/r{n}", {"email": f"p{n}@example.com"})
    api.patch("/recipients/r3/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]})
    checks = []
    for i in range(10_000):
        n = i % 25  # r20..r24 do not exist
        checks.append({"recipient_id": f"r{n}"} if i % 2 else {"email": f"P{n}@Example.com"})
    response = api.post("/check/batch", {"checks": checks, "topic": "newsletter", "channel": "email"})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 10_000
    for i, result in enumerate(results):
        n = i % 25
        unknown = (False, "unknown_recipient", f"r{n}" if i % 2 else None)  # an id asked for is echoed, an address never
        expected = unknown if n >= 20 else (False, "unsubscribed", "r3") if n == 3 else (True, "default", f"r{n}")
        assert (result["allowed"], result["reason"], result["recipient_id"]) == expected, i
        assert (result["topic"], result["channel"]) == ("newsletter", "email")


def test_a_malformed_item_is_answered_invalid_and_the_others_still_answered(api, newsletter, person):
    items = [
        {"recipient_id": "cust-1"},
        {"recipient_id": "cust-1", "topic": "nope"},
        {"recipient_id": "cust-1", "email": "ann@example.com"},
        {},
        "not an object",
        {"recipient_id": "has@at"},
        {"email": "not-an-email"},
        {"phone": "12"},
        {"recipient_id": "cust-1", "channel": "fax"},
        {"recipient_id": "cust-1", "colour": "red"},
        {"recipient_id": "cust-1", "topic": "billing", "channel": "sms"},
    ]
    response = api.post("/check/batch", {"checks": items, "topic": "newsletter", "channel": "email"})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["reason"] for r in results] == ["default"] + ["invalid"] * 9 + ["mandatory"]
    assert [r["error"]["code"] for r in results[1:10]] == ["unknown_topic"] + ["invalid"] * 8
    assert all(r["allowed"] is False and r["error"]["message"] for r in results[1:10])


def test_item_fields_override_the_request_defaults(api, newsletter, person):
    results = api.post(
        "/check/batch",
        {
            "checks": [{"recipient_id": "cust-1"}, {"recipient_id": "cust-1", "topic": "billing", "channel": "post"}],
            "topic": "newsletter",
            "channel": "sms",
        },
    ).get_json()["results"]
    assert [(r["topic"], r["channel"], r["reason"]) for r in results] == [
        ("newsletter", "sms", "no_consent"),
        ("billing", "post", "no_address"),
    ]


def test_size_limits_and_shape(api, newsletter):
    too_many = api.post("/check/batch", {"checks": [{"recipient_id": "x"}] * 10_001, "topic": "newsletter", "channel": "email"})
    assert too_many.status_code == 413
    assert too_many.get_json()["error"]["code"] == "too_large"
    assert set(too_many.get_json()["error"]) == {"code", "message", "details"}
    for body in (
        {"checks": []},
        {"checks": "x"},
        {},
        {"checks": [{"recipient_id": "x"}], "channel": "fax"},
        {"checks": [{"recipient_id": "x"}], "extra": True},
        [],
    ):
        response = api.post("/check/batch", body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "invalid"


def test_a_body_over_the_size_limit_is_413_in_the_error_shape(api):
    response = api.client.post(
        "/api/v1/check/batch",
        data=b"[" + b" " * (5 * 1024 * 1024) + b"]",
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_an_item_field_that_is_not_a_string_is_an_invalid_item_never_a_500(api, newsletter, person):
    """Issue 10, finding 6: `topic: {}` or `[]` made the batch answer 500 (a set of topic keys cannot hold them).
    Every item field holds a string; anything else makes that item `invalid` and the others are still answered."""
    fields = {
        "recipient_id": "cust-1",
        "email": "ann@example.com",
        "phone": "+14155550123",
        "topic": "newsletter",
        "channel": "email",
        "message_id": "m-1",
    }
    items, expected = [], []
    for name in fields:
        for value in ({}, [], ["newsletter"], {"key": "newsletter"}, 5, True, None):
            item = {"recipient_id": "cust-1", name: value} if name not in ("recipient_id", "email", "phone") else {name: value}
            items += [item, {"recipient_id": "cust-1"}]
            expected += [("invalid", "invalid", name), ("default", None, None)]
    response = api.post("/check/batch", {"checks": items, "topic": "newsletter", "channel": "email"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    answered = [
        (
            r["reason"],
            r.get("error", {}).get("code"),
            next((name for name in fields if r.get("error") and name in r["error"]["message"]), None),
        )
        for r in results
    ]
    assert answered == expected


def test_top_level_defaults_are_strings_too(api, newsletter, person):
    for body in (
        {"channel": None},
        {"topic": None},
        {"topic": {}},
        {"channel": ["email"]},
        {"include_links": None},
        {"include_links": "yes"},
    ):
        response = api.post(
            "/check/batch", {"checks": [{"recipient_id": "cust-1"}], "topic": "newsletter", "channel": "email", **body}
        )
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "invalid" and set(response.get_json()["error"]["details"]) == set(body), (
            body
        )


def test_an_item_holding_text_no_database_stores_is_answered_invalid_in_its_place(api, client, newsletter, person):
    """SPEC §4: a malformed item is answered `invalid` and the others still are. A NUL or half a surrogate pair
    in one item used to refuse the whole batch (request_guards.py); it is judged where it stands now."""
    body = (
        '{"topic": "newsletter", "channel": "email", "checks": ['
        '{"recipient_id": "cust-1"},'
        '{"recipient_id": "cust-1", "message_id": "\\u0000"},'
        '{"recipient_id": "r\\ud800"},'
        '{"email": "ann@example.com", "message_id": "sale-100%00-off \\\\u0000 as text"},'
        '{"recipient_id": "cust-1", "topic": "news\\u0000letter"}]}'
    )
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    response = client.post("/api/v1/check/batch", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [result["reason"] for result in results] == ["default", "invalid", "invalid", "default", "invalid"]
    assert results[1]["error"] == {"code": "invalid", "message": "message_id: Text may not contain NUL characters."}
    assert results[2]["error"]["message"] == "recipient_id: Text may not contain half of a UTF-16 surrogate pair."
    # The request's own fields are the whole request's: one of them unstorable refuses it all.
    whole = body.replace('"topic": "newsletter", "channel"', '"topic": "news\\u0000", "channel"', 1)
    refused = client.post("/api/v1/check/batch", data=whole, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["details"] == {
        "topic": ["Text may not contain NUL characters."]
    }
    # A single check is one item: refused as before.
    single = '{"topic": "newsletter", "channel": "email", "recipient_id": "cust-1", "message_id": "\\u0000"}'
    assert client.post("/api/v1/check", data=single, headers=headers).status_code == 422
