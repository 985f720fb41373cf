"""Recipient pages over HTTP: links API, confirm page, RFC 8058 one-click, undo, preference center."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from conftest import BASE_SETTINGS
from itsdangerous.timed import TimestampSigner

from prefs import create_app
from prefs.channels import CHANNELS
from prefs.extensions import db

SPEC_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def links(api, **body):
    response = api.post("/links", {"recipient_id": "cust-1", **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def path_of(url: str) -> str:
    return urlparse(url).path


def event_count(api, recipient_id="cust-1") -> int:
    return len(api.get(f"/recipients/{recipient_id}/events?limit=1000").get_json()["events"])


def assert_token_headers(response):
    for name, value in SPEC_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    assert "noindex" in response.headers["X-Robots-Tag"]
    csp = response.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "'unsafe-inline'" not in csp and "default-src 'none'" in csp
    assert "Set-Cookie" not in response.headers


# --- the links API --------------------------------------------------------------------------------------
def test_links_api_gives_both_urls_and_the_rfc_8058_headers(api, newsletter, person):
    result = links(api, topic="newsletter", message_id="m-1")
    assert result["unsubscribe_url"].startswith("https://prefs.example.com/u/")
    assert result["preferences_url"].startswith("https://prefs.example.com/p/")
    assert result["headers"] == {
        "List-Unsubscribe": f"<{result['unsubscribe_url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    channel_link = links(api)  # channel defaults to email; no topic: all marketing on email
    assert channel_link["unsubscribe_url"] != result["unsubscribe_url"]


def test_links_api_refusals(api, newsletter, person):
    for body, status, code in [
        ({"topic": "billing"}, 422, "mandatory_topic"),
        ({"topic": "nope"}, 422, "unknown_topic"),
        ({"topic": "newsletter", "channel": "post"}, 422, "invalid"),
        ({"recipient_id": "nobody"}, 404, "not_found"),
        ({"channel": "fax"}, 422, "invalid"),
    ]:
        response = api.post("/links", {"recipient_id": "cust-1", **body})
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body


def test_mailto_is_added_when_configured(database_url, make_key):
    app = create_app(
        {**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_UNSUBSCRIBE_MAILTO": "Unsubscribe@Mail.Example.com"}
    )
    try:
        client = app.test_client()
        key = (
            app.test_cli_runner()
            .invoke(args=["keys", "create", "mailto-test", "--scope", "admin", "--scope", "check"])
            .output.strip()
            .splitlines()[-1]
        )
        headers = {"Authorization": f"Bearer {key}"}
        client.put("/api/v1/recipients/m-1", json={"email": "m@example.com"}, headers=headers)
        value = client.post("/api/v1/links", json={"recipient_id": "m-1"}, headers=headers).get_json()["headers"][
            "List-Unsubscribe"
        ]
        match = re.fullmatch(
            r"<https://prefs\.example\.com/u/[^>]+>, <mailto:([^@>]+)@mail\.example\.com\?subject=unsubscribe>", value
        )
        assert match, value
        local = match.group(1)
        assert local.startswith("unsubscribe+") and local == local.lower() and len(local.encode()) <= 64
    finally:
        with app.app_context():
            db.engine.dispose()


def test_batch_include_links_on_allowed_non_mandatory_email_results(api, newsletter, person):
    items = [
        {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email", "message_id": "m-9"},
        {"recipient_id": "cust-1", "topic": "billing", "channel": "email"},
        {"recipient_id": "cust-1", "topic": "newsletter", "channel": "sms"},
        {"recipient_id": "nobody", "topic": "newsletter", "channel": "email"},
    ]
    results = api.post("/check/batch", {"checks": items, "include_links": True}).get_json()["results"]
    assert "unsubscribe_url" in results[0] and results[0]["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all("unsubscribe_url" not in result for result in results[1:])
    assert "unsubscribe_url" not in api.post("/check/batch", {"checks": items[:1]}).get_json()["results"][0]
    # the link works and carries the item's message id into the evidence
    api.client.post(path_of(results[0]["unsubscribe_url"]), data={"List-Unsubscribe": "One-Click"})
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert event["evidence"]["message_id"] == "m-9" and event["via"] == "one_click"


# --- /u: confirm, one-click, undo -----------------------------------------------------------------------
def test_gets_change_nothing(api, client, newsletter, person):
    url = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    before = event_count(api)
    for _ in range(10):
        response = client.get(url)
        assert response.status_code == 200
        assert b"Unsubscribe from Newsletter by email?" in response.data and b"a***@example.com" in response.data
        assert b"ann@example.com" not in response.data
    assert event_count(api) == before
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_once(api, app, newsletter, person, encoding):
    url = path_of(links(api, topic="newsletter", message_id="msg-42")["unsubscribe_url"])
    before = event_count(api)
    anonymous = app.test_client(use_cookies=False)
    body = {"List-Unsubscribe": "One-Click"}
    kwargs = {"data": body, "content_type": "multipart/form-data"} if encoding == "multipart" else {"data": body}
    for _ in range(2):
        response = anonymous.post(
            url, headers={"User-Agent": "MailProvider/1.0"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}, **kwargs
        )
        assert 200 <= response.status_code < 300 and "Location" not in response.headers
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"
    assert event_count(api) == before + 1
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert (event["actor"], event["via"], event["topic"], event["channel"], event["after"]) == (
        "recipient",
        "one_click",
        "newsletter",
        "email",
        False,
    )
    assert event["evidence"] == {
        "message_id": "msg-42",
        "link_minted_by": "test-admin",
        "ip": "203.0.113.9",
        "user_agent": "MailProvider/1.0",
    }


def test_channel_link_stops_the_channel_and_the_page_button_is_confirm_page(api, client, newsletter, person):
    url = path_of(links(api)["unsubscribe_url"])
    response = client.post(url, data={"confirm": "yes"})
    assert response.status_code == 200 and b"unsubscribed" in response.data
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "channel_unsubscribed"
    assert api.get("/recipients/cust-1/events").get_json()["events"][0]["via"] == "confirm_page"


def test_undo_restores_the_previous_state_as_one_more_event(api, client, newsletter, person):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]})
    url = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert f'action="{url}/undo"'.encode() in done.data
    before = event_count(api)
    response = client.post(url + "/undo")
    assert response.status_code == 200 and b"Welcome back" in response.data
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "subscribed"  # the stored opt-in is back
    assert event_count(api) == before + 1
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert (event["via"], event["before"], event["after"]) == ("undo", False, True)
    assert b"Nothing to undo" in client.post(url + "/undo").data
    assert event_count(api) == before + 1


def test_undo_of_a_channel_stop_removes_it(api, client, newsletter, person):
    url = path_of(links(api)["unsubscribe_url"])
    client.post(url, data={"List-Unsubscribe": "One-Click"})
    client.post(url + "/undo")
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


# --- bad, expired and unknown tokens --------------------------------------------------------------------
def test_tampered_truncated_and_wrong_purpose_tokens_get_the_400_page(api, client, newsletter, person):
    unsubscribe = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    preferences = path_of(links(api, topic="newsletter")["preferences_url"])
    token = unsubscribe.removeprefix("/u/")
    before = event_count(api)
    bad = [
        "/u/" + token[:-2],
        "/u/" + token[:20] + ("A" if token[20] != "A" else "B") + token[21:],
        "/u/" + preferences.removeprefix("/p/"),
        "/p/" + token,
        "/u/not-a-token",
    ]
    for path in bad:
        for method in ("GET", "POST"):
            response = client.open(path, method=method, data={"List-Unsubscribe": "One-Click"})
            assert response.status_code == 400, (path, method)
            assert b"This link doesn" in response.data
            assert_token_headers(response)
    assert event_count(api) == before
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


def test_an_expired_link_gets_410_and_changes_nothing(api, client, newsletter, person):
    real = TimestampSigner.get_timestamp
    try:
        TimestampSigner.get_timestamp = lambda self: real(self) - 400 * 86400
        url = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    finally:
        TimestampSigner.get_timestamp = real
    for method in ("GET", "POST"):
        response = client.open(url, method=method, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 410 and b"expired" in response.data
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


def test_a_link_signed_with_an_older_key_still_works(database_url, api, client, newsletter, person):
    old_app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_SECRET_KEYS": "retired-key"})
    try:
        with old_app.app_context():
            from prefs.runtime import runtime
            from prefs.tokens import UNSUBSCRIBE, LinkTarget

            token = runtime().signer.sign(UNSUBSCRIBE, LinkTarget("cust-1", "email", "newsletter"))
    finally:
        with old_app.app_context():
            db.engine.dispose()
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400  # not in this app's list
    rotated = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_SECRET_KEYS": "new-key, retired-key"})
    try:
        assert rotated.test_client().post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    finally:
        with rotated.app_context():
            db.engine.dispose()
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"


def test_unknown_person_gets_404_without_detail(api, client, newsletter):
    api.put("/recipients/gone", {"email": "gone@example.com"})
    url = path_of(api.post("/links", {"recipient_id": "gone", "topic": "newsletter"}).get_json()["unsubscribe_url"])
    with api.client.application.app_context():  # erasure arrives with the lifecycle issue; a deleted row stands in
        from prefs.models import Choice, Recipient

        db.session.query(Choice).delete()
        db.session.query(Recipient).filter_by(id="gone").delete()
        db.session.commit()
    for method in ("GET", "POST"):
        response = client.open(url, method=method, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404 and b"find these preferences" in response.data
        assert b"gone@" not in response.data and b"g***@" not in response.data
        assert_token_headers(response)


# --- /p: the preference center --------------------------------------------------------------------------
# Every "marketing by channel" box ticked, whatever channels the registry has (a test run may add one).
EVERY_CHANNEL_ON = {f"*:{channel}": "on" for channel in CHANNELS}


def preference_page(api, client, channel="email"):
    url = path_of(links(api, topic="newsletter", channel=channel)["preferences_url"])
    return url, client.get(url)


def checkbox(html: str, name: str) -> str:
    match = re.search(rf'<input type="checkbox"[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, name
    return match.group(0)


def test_preference_center_shows_every_live_topic_with_mandatory_locked(api, client, newsletter, person):
    api.post("/topics", {"key": "old-news", "name": "Old news", "channels": ["email"]})
    api.delete("/topics/old-news")
    url, response = preference_page(api, client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("billing:email", "billing:sms", "billing:phone", "service:email"):
        box = checkbox(html, name)
        assert "checked" in box and "disabled" in box
    assert "Always on while your account is open" in html
    assert "checked" in checkbox(html, "newsletter:email") and "checked" not in checkbox(html, "newsletter:sms")
    assert "disabled" not in checkbox(html, "newsletter:email")
    assert "old-news" not in html and "billing:post" not in html  # archived topic; no postal address
    assert "a***@example.com" in html and "ann@example.com" not in html


def test_saving_changes_exactly_what_the_person_changed(api, client, newsletter, person):
    url, response = preference_page(api, client, channel="sms")  # a link sent by text may switch texts on
    html = response.get_data(as_text=True)
    shown = re.findall(r'name="shown" value="([^"]+)"', html)
    before = event_count(api)
    # Untick newsletter by email, tick newsletter by SMS, leave the rest; browsers do not send disabled boxes.
    form = {"newsletter:sms": "on", **EVERY_CHANNEL_ON, "shown": shown}
    response = client.post(url, data=form)
    assert response.status_code == 200 and b"Your choices are saved." in response.data
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    events = api.get("/recipients/cust-1/events").get_json()["events"][: event_count(api) - before]
    assert sorted((e["topic"], e["channel"], e["after"], e["via"]) for e in events) == [
        ("newsletter", "email", False, "preference_center"),
        ("newsletter", "sms", True, "preference_center"),
    ]
    # The same form again changes nothing and writes nothing.
    response = client.post(url, data={"newsletter:sms": "on", **EVERY_CHANNEL_ON})
    assert b"Nothing changed" in response.data
    assert event_count(api) == before + 2


def test_stop_all_marketing_from_the_preference_center(api, client, newsletter, person):
    url, response = preference_page(api, client)
    shown = re.findall(r'name="shown" value="([^"]+)"', response.get_data(as_text=True))
    form = {"newsletter:email": "on", **EVERY_CHANNEL_ON, "stop_all": "on", "shown": shown}
    client.post(url, data=form)
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "all_marketing_unsubscribed"
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"
    assert api.get("/recipients/cust-1/preferences").get_json()["all_marketing"] == "stopped"
    html = client.get(url).get_data(as_text=True)
    assert "checked" in checkbox(html, "stop_all")


# --- headers on every /u and /p response ----------------------------------------------------------------
def test_spec_headers_on_every_token_page_response(api, client, newsletter, person):
    unsubscribe = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    preferences = path_of(links(api, topic="newsletter")["preferences_url"])
    responses = [
        client.get(unsubscribe),
        client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}),
        client.post(unsubscribe + "/undo"),
        client.get(preferences),
        client.post(preferences, data={}),
        client.get("/u/garbage"),
        client.get("/p/garbage"),
        client.put(unsubscribe),
        client.get("/u/"),
        client.get(unsubscribe + "/undo"),
    ]
    assert {r.status_code for r in responses} >= {200, 400, 404, 405}
    for response in responses:
        assert_token_headers(response)


def test_a_suppressed_address_is_shown_unsubscribed_and_ticking_lifts_it(api, client, newsletter):
    """Found by the black-box review: a default-on topic showed ticked for a suppressed address, so saving
    the page as shown could never opt the person back in."""
    api.put("/recipients/old", {"email": "back@example.com"})
    api.delete("/recipients/old")
    api.put("/recipients/new", {"email": "back@example.com"})
    assert api.check("newsletter", "email", recipient_id="new")["reason"] == "suppressed"
    url = path_of(api.post("/links", {"recipient_id": "new"}).get_json()["preferences_url"])
    html = client.get(url).get_data(as_text=True)
    assert "checked" not in checkbox(html, "newsletter:email") and "We send no marketing by email" in html
    shown = re.findall(r'name="shown" value="([^"]+)"', html)
    client.post(url, data={"newsletter:email": "on", "*:email": "on", "shown": shown})
    assert api.check("newsletter", "email", recipient_id="new")["reason"] == "subscribed"
    kinds = [e["kind"] for e in api.get("/recipients/new/events").get_json()["events"]]
    assert "suppression_lifted" in kinds
