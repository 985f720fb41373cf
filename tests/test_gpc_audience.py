"""Global Privacy Control on the preference center and the audience check (SPEC §16)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest


def preferences_path(api, recipient_id="cust-1") -> str:
    return urlparse(api.post("/links", {"recipient_id": recipient_id}).get_json()["preferences_url"]).path


def events(api, recipient_id="cust-1") -> list[dict]:
    return api.get(f"/recipients/{recipient_id}/events?limit=1000").get_json()["events"]


def audience(api, **who) -> dict:
    response = api.post("/check/audience", who)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def do_not_sell_box(html: str) -> str:
    match = re.search(r'<input type="checkbox"[^>]*name="do_not_sell"[^>]*>', html)
    assert match
    return match.group(0)


def test_a_gpc_signal_records_the_opt_out_once_and_the_audience_check_answers_it(api, client, newsletter, person):
    assert audience(api, recipient_id="cust-1") == {"allowed": True, "reason": "no_opt_out", "recipient_id": "cust-1"}
    url = preferences_path(api)
    plain = client.get(url).get_data(as_text=True)
    assert " checked" not in do_not_sell_box(plain)  # a view without the signal changes nothing
    before = len(events(api))  # the recipient's creation

    for _ in range(3):
        response = client.get(url, headers={"Sec-GPC": "1"}, environ_base={"REMOTE_ADDR": "203.0.113.5"})
        assert response.status_code == 200
        assert " checked" in do_not_sell_box(response.get_data(as_text=True))
    recorded = events(api)
    assert len(recorded) == before + 1
    event = recorded[0]
    assert (event["kind"], event["actor"], event["via"], event["before"], event["after"]) == (
        "do_not_sell_or_share",
        "recipient",
        "gpc",
        False,
        True,
    )
    assert event["evidence"]["ip"] == "203.0.113.5" and event["evidence"]["signal"] == "Sec-GPC: 1"
    for who in ({"recipient_id": "cust-1"}, {"email": "ANN@example.com"}, {"phone": "+1 415 555 0123"}):
        assert audience(api, **who) == {"allowed": False, "reason": "do_not_sell_or_share", "recipient_id": "cust-1"}
    # Marketing choices are another matter: the opt-out of sale does not stop the newsletter.
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True


def test_the_locked_box_of_a_deactivated_account_is_left_as_it_is(api, client, newsletter, person):
    """Found by this round's review: the box is drawn locked, and a scripted POST still took the opt-out back."""
    url = preferences_path(api)
    client.get(url, headers={"Sec-GPC": "1"})
    assert api.post("/recipients/cust-1/deactivate").status_code in (200, 204)
    html = client.get(url).get_data(as_text=True)
    assert " checked" in do_not_sell_box(html) and "disabled" in do_not_sell_box(html)
    before = len(events(api))
    from test_pages import boxes

    form = {name: "on" for name, (ticked, locked, _) in boxes(html).items() if ticked and not locked}
    shown = [*re.findall(r'name="shown" value="([^"]+)"', html), "do_not_sell=1"]  # scripted: "it was shown ticked"
    client.post(url, data={**form, "shown": shown})  # and unticked
    assert len(events(api)) == before and " checked" in do_not_sell_box(client.get(url).get_data(as_text=True))


def test_the_box_takes_the_opt_out_back_and_gives_it_from_the_page(api, client, newsletter, person):
    url = preferences_path(api)
    html = client.get(url, headers={"Sec-GPC": "1"}).get_data(as_text=True)
    shown = re.findall(r'name="shown" value="([^"]+)"', html)
    assert "do_not_sell=1" in shown
    ticked = {"newsletter:email": "on", "*:email": "on", "*:sms": "on"}
    client.post(url, data={**ticked, "shown": shown})  # unticked: the person takes it back
    assert audience(api, recipient_id="cust-1")["reason"] == "no_opt_out"
    html = client.get(url).get_data(as_text=True)
    shown = re.findall(r'name="shown" value="([^"]+)"', html)
    client.post(url, data={**ticked, "do_not_sell": "on", "shown": shown})
    assert audience(api, recipient_id="cust-1")["reason"] == "do_not_sell_or_share"
    assert [(e["via"], e["after"]) for e in events(api) if e["kind"] == "do_not_sell_or_share"] == [  # newest first
        ("preference_center", True),
        ("preference_center", False),
        ("gpc", True),
    ]


def test_the_audience_check_for_unknown_suppressed_and_closed_accounts(api, newsletter, person):
    assert audience(api, recipient_id="nobody") == {"allowed": False, "reason": "unknown_recipient", "recipient_id": "nobody"}
    assert audience(api, email="stranger@example.com") == {"allowed": False, "reason": "unknown_recipient", "recipient_id": None}
    api.put("/recipients/gone", {"email": "gone@example.com"})
    assert api.delete("/recipients/gone").status_code == 204
    assert audience(api, email="gone@example.com") == {"allowed": False, "reason": "suppressed", "recipient_id": None}
    assert audience(api, recipient_id="gone")["reason"] == "erased"
    api.post("/recipients/cust-1/deactivate")
    assert audience(api, recipient_id="cust-1")["reason"] == "deactivated"


@pytest.mark.parametrize(
    "body",
    [{}, {"recipient_id": "a", "email": "a@example.com"}, {"email": "not an address"}, {"recipient_id": "cust-1", "x": 1}],
)
def test_the_audience_check_refuses_a_malformed_question(api, body):
    response = api.post("/check/audience", body)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid"


def test_gpc_support_resource(client):
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["gpc"] is True and re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["lastUpdate"])


def test_the_opt_out_reaches_webhooks_as_a_preference_update(api, client, newsletter, person):
    """Systems that upload ad audiences learn of the opt-out at once, not only when they next ask."""
    from test_webhooks import add_endpoint, deliver
    from webhook_receiver import Receiver

    receiver = Receiver().start()
    try:
        add_endpoint(api, receiver, events=["preference.updated"])
        assert client.get(preferences_path(api), headers={"Sec-GPC": "1"}).status_code == 200
        deliver(client.application)
    finally:
        receiver.stop()
    (message,) = [request.json for request in receiver.received]
    assert message["type"] == "preference.updated"
    assert (message["data"]["kind"], message["data"]["via"], message["data"]["after"]) == ("do_not_sell_or_share", "gpc", True)
