"""Recipient pages over HTTP: links API, confirm page, RFC 8058 one-click, undo, preference center."""

from __future__ import annotations

import re
import time
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


def test_links_for_a_text_a_call_or_a_letter_carry_no_email_headers(api, client, newsletter, person):
    """Issue 13: List-Unsubscribe means nothing in a text; the URLs alone go in the message."""
    api.patch("/topics/newsletter", {"channels": ["email", "sms", "phone", "post"]})
    for channel in ("sms", "phone", "post"):
        for body in ({"topic": "newsletter"}, {}):
            result = links(api, channel=channel, message_id="sms-1", **body)
            assert set(result) == {"unsubscribe_url", "preferences_url"}, (channel, body)
    text = links(api, channel="sms", topic="newsletter")
    page = client.get(path_of(text["unsubscribe_url"]))
    assert page.status_code == 200 and b"Newsletter by text message" in page.data  # the links work as ever
    assert client.post(path_of(text["unsubscribe_url"]), data={"confirm": "yes"}).status_code == 200
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "unsubscribed"
    assert "headers" in links(api, channel="email", topic="newsletter")


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
    assert f'action="{url}/undo?lang=en"'.encode() in done.data
    before = event_count(api)
    response = client.post(url + "/undo")
    assert response.status_code == 200 and b"Welcome back" in response.data
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "subscribed"  # the stored opt-in is back
    assert event_count(api) == before + 1
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert (event["via"], event["before"], event["after"]) == ("undo", False, True)
    assert b"Nothing to undo" in client.post(url + "/undo").data
    assert event_count(api) == before + 1


def test_a_link_for_a_topic_since_taken_off_its_channel_still_unsubscribes(api, app, client, newsletter, person):
    """Found by this round's review: the one-click answered 422, and the person's no was lost should the topic
    come back to email. An unsubscribe is never refused (SPEC §16)."""
    url = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    assert api.patch("/topics/newsletter", {"channels": ["sms"], "default_subscribed": {"sms": False}}).status_code == 200
    assert client.get(url).status_code == 200
    done = app.test_client(use_cookies=False).post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.get_data(as_text=True)
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert (event["via"], event["topic"], event["channel"], event["after"]) == ("one_click", "newsletter", "email", False)
    assert api.get("/recipients/cust-1").status_code == 200
    assert client.get(path_of(links(api)["preferences_url"])).status_code == 200
    body = {"channels": ["email", "sms"], "default_subscribed": {"email": True, "sms": False}}
    assert api.patch("/topics/newsletter", body).status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"  # the no held
    # Through the API a channel the topic is not sent on is still a mistake of the caller's.
    assert api.patch("/topics/newsletter", {"channels": ["sms"], "default_subscribed": {"sms": False}}).status_code == 200
    change = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    assert api.patch("/recipients/cust-1/preferences", change).status_code == 422


def test_undo_leaves_a_cell_an_import_set_since(api, client, runner, newsletter, person, tmp_path):
    """An import is newer than the unsubscribe it follows (found by this round's review: undo overwrote it)."""
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]})
    url = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    listing = tmp_path / "crm.csv"
    listing.write_text("id,newsletter:email\ncust-1,yes\n")  # the CRM says yes: the cell changes
    assert runner.invoke(args=["recipients", "import", str(listing), "--processes", "1"]).exit_code == 0
    listing.write_text("id,newsletter:email\ncust-1,no\n")  # and then no, as the unsubscribe left it
    assert runner.invoke(args=["recipients", "import", str(listing), "--processes", "1"]).exit_code == 0
    before = event_count(api)
    assert b"Nothing to undo" in client.post(url + "/undo").data
    assert event_count(api) == before
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"


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


def expired_links(api, **body) -> dict:
    """Links signed 400 days ago: genuine, past the lifetime (365 days in the tests' settings)."""
    real = TimestampSigner.get_timestamp
    try:
        TimestampSigner.get_timestamp = lambda self: real(self) - 400 * 86400
        return links(api, **body)
    finally:
        TimestampSigner.get_timestamp = real


def test_an_expired_link_shows_the_email_me_my_link_form_and_changes_nothing(api, client, newsletter, person):
    result = expired_links(api, topic="newsletter")
    before = event_count(api)
    for url in (path_of(result["unsubscribe_url"]), path_of(result["preferences_url"])):
        response = client.get(url)
        assert response.status_code == 410 and b"This link has expired" in response.data
        html = response.get_data(as_text=True)
        # Email sending is off here: no address is asked for a link that could not be sent (with it on, the
        # form: tests/test_email_my_link.py).
        assert "We can't send links by email at the moment" in html and 'name="email"' not in html
        assert "a***@example.com" not in html  # an expired link shows nothing of the person
        assert_token_headers(response)
    preferences = path_of(result["preferences_url"])
    shown = ["newsletter:email=1"]
    assert client.post(preferences, data={"shown": shown}).status_code == 410  # no change of choices through it
    assert client.post(path_of(result["unsubscribe_url"]) + "/undo").status_code == 410
    assert event_count(api) == before
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


@pytest.mark.parametrize("body", [{"List-Unsubscribe": "One-Click"}, {"confirm": "yes"}])
def test_an_expired_link_still_unsubscribes_on_post(api, app, newsletter, person, body):
    """SPEC §16: an unsubscribe is never refused. The signature is checked all the same."""
    url = path_of(expired_links(api, topic="newsletter", message_id="old-1")["unsubscribe_url"])
    before = event_count(api)
    anonymous = app.test_client(use_cookies=False)
    for _ in range(2):
        response = anonymous.post(url, data=body)
        assert response.status_code == 200 and b"unsubscribed" in response.data
        assert b"/undo" not in response.data  # an expired link cannot undo (410): not offered (found by review)
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "unsubscribed"
    assert event_count(api) == before + 1
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert event["via"] == ("one_click" if "List-Unsubscribe" in body else "confirm_page")
    assert event["evidence"]["message_id"] == "old-1"
    token = url.removeprefix("/u/")
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    assert anonymous.post("/u/" + forged, data=body).status_code == 400  # expired but not genuine: refused
    assert event_count(api) == before + 1


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
    assert "Always sent while your account is open" in html
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
    # The same boxes from the page now shown change nothing and write nothing.
    shown = re.findall(r'name="shown" value="([^"]+)"', response.get_data(as_text=True))
    response = client.post(url, data={"newsletter:sms": "on", **EVERY_CHANNEL_ON, "shown": shown})
    assert response.status_code == 200 and b"Nothing changed" in response.data
    assert b'class="notice info"' in response.data  # told, not congratulated
    assert event_count(api) == before + 2


def test_a_link_sent_by_text_to_a_number_given_up_cannot_switch_texts_on(api, client, newsletter, person):
    """Found by this round's review: it opted the new number in, which never showed it reads that link."""
    url = path_of(links(api, topic="newsletter", channel="sms")["preferences_url"])
    assert api.put("/recipients/cust-1", {"phone": "+14155550199"}).status_code == 200
    html = client.get(url).get_data(as_text=True)
    assert boxes(html)["newsletter:sms"][:2] == (False, True)  # shown locked
    scripted = {"newsletter:sms": "on", **EVERY_CHANNEL_ON, "shown": re.findall(r'name="shown" value="([^"]+)"', html)}
    client.post(url, data=scripted)
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "no_consent"
    time.sleep(1.05)  # link times have whole seconds: one signed in the second of the change cannot tell
    fresh = path_of(links(api, topic="newsletter", channel="sms")["preferences_url"])  # one sent to the new number may
    save(client, fresh, client.get(fresh).get_data(as_text=True), **{"newsletter:sms": True})
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"


@pytest.mark.parametrize("form", [{}, {"newsletter:sms": "on"}, {"shown": "nonsense"}, {"shown": "newsletter:email"}])
def test_a_post_without_the_pages_shown_fields_is_refused(api, client, newsletter, person, form):
    """Found by the review: an empty POST read as every box unticked and stopped everything."""
    url, _ = preference_page(api, client)
    before = event_count(api)
    response = client.post(url, data=form)
    assert response.status_code == 400 and b"This link doesn" in response.data
    assert event_count(api) == before
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"


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


# --- truthful boxes (SPEC §16) --------------------------------------------------------------------------
def boxes(html: str) -> dict[str, tuple[bool, bool, str | None]]:
    """name -> (ticked, locked, the id of the sentence saying why) for every checkbox on the page."""
    found = {}
    for tag in re.findall(r'<input type="checkbox"[^>]*>', html):
        why = re.search(r'aria-describedby="([^"]+)"', tag)
        found[re.search(r'name="([^"]+)"', tag).group(1)] = (" checked" in tag, " disabled" in tag, why and why.group(1))
    return found


def assert_every_box_is_what_check_says(api, html: str) -> None:
    cells = {name: box for name, box in boxes(html).items() if ":" in name and not name.startswith("*:")}
    assert len(cells) >= 8, cells
    for name, (ticked, _locked, _why) in cells.items():
        topic, _, channel = name.partition(":")
        assert ticked == api.check(topic, channel, recipient_id="cust-1")["allowed"], name


def save(client, url: str, html: str, **ticks: bool):
    """Submit the page as a person would: every editable box as shown, with `ticks` changed."""
    form = {name: "on" for name, (ticked, locked, _) in boxes(html).items() if ticked and not locked}
    for name, on in ticks.items():
        name = name.replace("__", ":").replace("ALL", "*")
        if on:
            form[name] = "on"
        else:
            form.pop(name, None)
    data = {**form, "shown": re.findall(r'name="shown" value="([^"]+)"', html)}
    response = client.post(url, data=data)
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True)


@pytest.fixture
def offers(api):
    response = api.post(
        "/topics", {"key": "offers", "name": "Offers", "channels": ["email", "sms"], "default_subscribed": {"email": True}}
    )
    assert response.status_code == 201


def test_every_box_shows_what_the_person_gets_through_each_stop_and_lifting_restores(api, client, newsletter, offers, person):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    url, response = preference_page(api, client, channel="sms")
    first = response.get_data(as_text=True)
    assert_every_box_is_what_check_says(api, first)

    # A topic unsubscribe: that box alone goes off, and can be ticked again.
    client.post(path_of(links(api, topic="newsletter")["unsubscribe_url"]), data={"List-Unsubscribe": "One-Click"})
    after_topic = client.get(url).get_data(as_text=True)
    assert boxes(after_topic)["newsletter:email"] == (False, False, None)
    assert_every_box_is_what_check_says(api, after_topic)

    # A channel stop: every email topic box is off and locked, naming the stop; the channel box lifts it.
    client.post(path_of(links(api)["unsubscribe_url"]), data={"List-Unsubscribe": "One-Click"})
    html = client.get(url).get_data(as_text=True)
    for name in ("newsletter:email", "offers:email"):
        assert boxes(html)[name] == (False, True, "why-stop-email")
    assert 'id="why-stop-email"' in html and boxes(html)["*:email"] == (False, False, None)
    assert boxes(html)["newsletter:sms"] == (True, False, None)
    assert_every_box_is_what_check_says(api, html)

    # The all-marketing stop: every marketing box and channel box locked, naming it.
    html = save(client, url, html, stop_all=True)
    for name in ("newsletter:email", "offers:email", "newsletter:sms", "offers:sms", "*:email", "*:sms"):
        assert boxes(html)[name] == (False, True, "why-stop-all"), name
    assert boxes(html)["billing:email"] == (True, True, "why-mandatory")
    assert_every_box_is_what_check_says(api, html)

    # Lifting the all-marketing stop brings back the channel stop and the texts as they were.
    html = save(client, url, html, stop_all=False)
    assert boxes(html)["newsletter:email"] == (False, True, "why-stop-email")
    assert boxes(html)["newsletter:sms"] == (True, False, None)
    assert_every_box_is_what_check_says(api, html)

    # Lifting the channel stop brings back the topic unsubscribe and the default: the page after the first step.
    html = save(client, url, html, ALL__email=True)
    assert {n: b for n, b in boxes(html).items()} == boxes(after_topic)
    assert_every_box_is_what_check_says(api, html)


def test_the_unsubscribe_page_says_so_when_a_stop_is_already_in_force(api, client, newsletter, offers, person):
    newsletter_link = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    offers_link = path_of(links(api, topic="offers")["unsubscribe_url"])
    channel_link = path_of(links(api)["unsubscribe_url"])
    assert b"Unsubscribe from Newsletter by email?" in client.get(newsletter_link).data

    client.post(newsletter_link, data={"List-Unsubscribe": "One-Click"})
    page = client.get(newsletter_link).get_data(as_text=True)
    assert "already unsubscribed" in page and "You do not get Newsletter by email any more." in page
    assert 'value="yes"' not in page  # no button asking again
    assert "Unsubscribe from Offers by email?" in client.get(offers_link).get_data(as_text=True)

    client.post(channel_link, data={"List-Unsubscribe": "One-Click"})
    page = client.get(offers_link).get_data(as_text=True)
    assert "You stopped all marketing by email, so you do not get Offers by email." in page
    page = client.get(channel_link).get_data(as_text=True)  # the link of the stop itself: said once, not twice
    assert "already unsubscribed" in page and "You do not get all marketing by email any more." in page
    assert "You stopped all marketing by email" not in page


def test_a_stop_in_force_is_said_even_when_a_provider_reported_the_address_dead(api, app, client, newsletter, person):
    """The page read the decision's first reason; an address reported dead (rule 6a) comes before the person's
    own unsubscribe, and the page asked "Unsubscribe from Newsletter by email?" again (found in review)."""
    from prefs.models import UndeliverableAddress
    from prefs.runtime import runtime

    newsletter_link = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    client.post(newsletter_link, data={"List-Unsubscribe": "One-Click"})
    with app.app_context():
        db.session.add(UndeliverableAddress(hash=runtime().address_hash("email", "ann@example.com"), provider="sendgrid"))
        db.session.commit()
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "undeliverable"
    page = client.get(newsletter_link).get_data(as_text=True)
    assert "already unsubscribed" in page and 'value="yes"' not in page


# --- "email me my link" (SPEC §14) ----------------------------------------------------------------------
def test_email_me_my_link_answers_the_same_whatever_is_typed(api, client, newsletter, person):
    form = client.get("/p")  # email sending off: the page says so, and asks for nothing
    assert form.status_code == 200 and b'name="email"' not in form.data and "We can't send links" in form.get_data(as_text=True)
    assert_token_headers(form)
    before = event_count(api)
    answers = set()
    for typed in ("ann@example.com", "ANN@example.com ", "nobody@example.com", "not an address", ""):
        response = client.post("/p", data={"email": typed}, environ_base={"REMOTE_ADDR": f"198.51.100.{len(answers) + 1}"})
        assert response.status_code == 200
        answers.add(response.get_data(as_text=True))
    assert len(answers) == 1
    assert event_count(api) == before


def test_email_me_my_link_is_rate_limited_per_address_and_per_ip(client):
    statuses = [
        client.post("/p", data={"email": "Ann@Example.com"}, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code
        for n in range(5)
    ]
    # One address from many places: past 3 an hour it is not mailed, and the page does not say so (no 429:
    # that would tell someone asked for the address lately; tests/test_email_my_link.py counts the mails).
    assert statuses == [200] * 5
    statuses = [
        client.post("/p", data={"email": f"p{n}@example.com"}, environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code
        for n in range(12)
    ]
    assert statuses == [200] * 10 + [429] * 2  # one place trying many addresses
