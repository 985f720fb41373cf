"""PUT/GET recipients, look-ups, history paging: the sync side of the API."""

from __future__ import annotations


def test_put_creates_then_merges_and_null_clears(api):
    created = api.put("/recipients/c-2", {"email": " Bob@Example.COM ", "phone": "(415) 555-0199", "locale": "en_GB"})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["email"], body["phone"], body["locale"], body["status"]) == (
        "bob@example.com",
        "+14155550199",
        "en-GB",
        "active",
    )

    updated = api.put(
        "/recipients/c-2",
        {"postal_address": {"lines": ["1 Main St"], "city": "Springfield", "postal_code": "12345", "country": "us"}},
    )
    assert updated.status_code == 200
    body = updated.get_json()
    assert body["email"] == "bob@example.com"  # fields left out stay
    assert body["postal_address"] == {"lines": ["1 Main St"], "city": "Springfield", "postal_code": "12345", "country": "US"}

    cleared = api.put("/recipients/c-2", {"phone": None}).get_json()
    assert cleared["phone"] is None and cleared["email"] == "bob@example.com"
    assert api.check("billing", "sms", recipient_id="c-2")["reason"] == "no_address"
    assert api.check("billing", "post", recipient_id="c-2")["reason"] == "mandatory"

    history = api.get("/recipients/c-2/events").get_json()["events"]
    assert [e["kind"] for e in history] == ["contact_changed", "contact_changed", "recipient_created"]
    assert history[0]["before"] == {"phone": "+14155550199"} and history[0]["after"] == {"phone": None}


def test_a_put_that_changes_nothing_writes_no_event(api):
    api.put("/recipients/c-3", {"email": "c3@example.com"})
    assert api.put("/recipients/c-3", {"email": "C3@example.com"}).status_code == 200
    assert api.put("/recipients/c-3", {}).status_code == 200
    assert len(api.get("/recipients/c-3/events").get_json()["events"]) == 1


def test_an_address_belongs_to_one_recipient(api, person):
    response = api.put("/recipients/other", {"email": "ann@EXAMPLE.com"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "address_in_use"
    response = api.put("/recipients/other", {"phone": "+1 415 555 0123"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "address_in_use"
    assert api.get("/recipients/other").status_code == 404
    assert api.put("/recipients/cust-1", {"email": "ann@example.com"}).status_code == 200  # one's own address is fine


def test_find_by_email_and_phone(api, person):
    found = api.get("/recipients?email=ANN@example.com").get_json()["recipients"]
    assert [r["id"] for r in found] == ["cust-1"]
    found = api.get("/recipients", query_string={"phone": "+14155550123"}).get_json()["recipients"]
    assert [r["id"] for r in found] == ["cust-1"]
    assert api.get("/recipients?email=nobody@example.com").get_json() == {"recipients": []}


def test_events_page_newest_first_with_an_opaque_cursor(api, newsletter, person):
    for n in range(5):
        api.patch(
            "/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": n % 2 == 1}]}
        )
    seen, cursor = [], None
    while True:
        page = api.get(
            "/recipients/cust-1/events", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).get_json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next"]
        if cursor is None:
            break
        assert not cursor.isdigit()
    assert len(seen) == 6 and seen == sorted(seen, reverse=True) and len(set(seen)) == 6


def test_deactivate_and_reactivate_take_an_optional_reason(api, person):
    assert api.post("/recipients/cust-1/deactivate").status_code == 200
    assert api.post("/recipients/cust-1/deactivate").status_code == 200  # idempotent, no new event
    response = api.post("/recipients/cust-1/reactivate", {"reason": "came back"})
    assert response.status_code == 200 and response.get_json()["status"] == "active"
    kinds = [(e["kind"], e["reason"]) for e in api.get("/recipients/cust-1/events").get_json()["events"]]
    assert kinds == [("status_changed", "came back"), ("status_changed", None), ("recipient_created", None)]
    assert api.post("/recipients/nobody/deactivate").status_code == 404
