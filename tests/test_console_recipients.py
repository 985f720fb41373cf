"""A person's page in the console: search, what they get and why, changes with a reason, history, status,
suppressions, export and erasure (acceptance 2; SPEC §7)."""

from __future__ import annotations

import json
import re

import pytest

pytest_plugins = ["console_fixtures"]

PAGE = "/console/recipients/cust-1"
CHOICES = PAGE + "/choices"


def events(api, recipient_id="cust-1") -> list[dict]:
    return api.get(f"/recipients/{recipient_id}/events?limit=1000").get_json()["events"]


def reason(api, topic: str, channel: str) -> str:
    return api.check(topic, channel, recipient_id="cust-1")["reason"]


def history_rows(html: str) -> list[str]:
    """The history table's rows as plain text, newest first."""
    body = html.split('id="history-caption"', 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[2:]]


# --- search ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["cust-1", "ann@example.com", "  ANN@Example.COM ", "(415) 555-0123", "415.555.0123", "+1 415 555 0123", "+14155550123"],
)
def test_search_by_id_email_or_phone_as_people_type_it(console, person, query):
    results = console("viewer").search(query)
    assert f'href="{PAGE}"' in results


def test_search_without_a_match_says_so_and_leaves_erased_people_out(console, api, person):
    viewer = console("viewer")
    assert "No recipient has this email address." in viewer.search("bob@example.com")
    assert "No recipient has this id." in viewer.search("cust-2")
    assert api.delete("/recipients/cust-1").status_code == 204
    for query in ("cust-1", "(415) 555-0123"):
        assert f'href="{PAGE}"' not in viewer.search(query)


def test_search_also_answers_a_link_with_q(console, person):
    assert f'href="{PAGE}"' in console("viewer").text("/console/?q=%28415%29+555-0123")


# --- the page -------------------------------------------------------------------------------------------
def test_the_page_shows_contact_data_and_each_decision_in_plain_words(console, api, newsletter, person):
    api.put(
        "/recipients/cust-1",
        {"postal_address": {"lines": ["1 Main St"], "city": "Springfield", "country": "US"}, "locale": "en-US"},
    )
    page = console("viewer").text(PAGE)
    for shown in ("ann@example.com", "+14155550123", "1 Main St", "Springfield", "en-US"):
        assert shown in page
    assert "On by default" in page  # newsletter by email
    assert "Needs opt-in" in page  # newsletter by text message
    assert "Mandatory" in page and "cannot be switched off" in page
    assert "What the reasons mean" in page
    assert (
        'name="reason"' not in page and '<form method="post" action="/console/recipients/cust-1/choices"' not in page
    )  # a viewer edits nothing


def test_mandatory_boxes_are_locked_with_the_reason_why(console, newsletter, person):
    page = console("agent").text(PAGE)
    billing = re.search(r'<input type="checkbox" name="billing:email"[^>]*>', page).group(0)
    assert "checked" in billing and "disabled" in billing and 'aria-describedby="why-billing"' in billing
    assert 'id="why-billing"' in page
    newsletter_box = re.search(r'<input type="checkbox" name="newsletter:email"[^>]*>', page).group(0)
    assert "disabled" not in newsletter_box


def test_unknown_and_erased_people_are_404(console, api, person):
    viewer = console("viewer")
    assert viewer.get("/console/recipients/nobody").status_code == 404
    assert viewer.get("/console/recipients/not%20an%20id").status_code == 404
    api.delete("/recipients/cust-1")
    response = viewer.get(PAGE)
    assert response.status_code == 404 and "No such recipient." in response.get_data(as_text=True)


# --- acceptance 2: a change with a reason, in the history and the events API -----------------------------
def test_an_agents_change_shows_in_the_history_and_the_events_api(console, api, newsletter, person):
    agent = console("agent")
    response = agent.submit(PAGE, CHOICES, {"newsletter:email": False, "reason": "Caller asked to stop the newsletter"})
    assert response.status_code == 303
    page = agent.text(PAGE)
    assert "Saved: 1 change recorded." in page
    newest = history_rows(page)[0]
    assert "Newsletter by email: no choice (topic default) → opted out" in newest
    assert "agent@example.com (staff)" in newest and "console" in newest and "Caller asked to stop the newsletter" in newest

    event = events(api)[0]
    assert (event["actor"], event["actor_id"], event["via"], event["reason"]) == (
        "staff",
        "agent@example.com",
        "console",
        "Caller asked to stop the newsletter",
    )
    assert (event["kind"], event["topic"], event["channel"], event["before"], event["after"]) == (
        "topic_choice",
        "newsletter",
        "email",
        None,
        False,
    )
    assert reason(api, "newsletter", "email") == "unsubscribed"


@pytest.mark.parametrize("given", [None, "", "   "])
def test_a_change_without_a_reason_is_refused_with_a_message_on_the_form(console, api, newsletter, person, given):
    agent = console("agent")
    before = events(api)
    fields = {"newsletter:email": False} if given is None else {"newsletter:email": False, "reason": given}
    if given is None:  # a hand-made request with no reason field at all
        html = agent.text(PAGE)
        response = agent.post(CHOICES, [(n, v) for n, v in re.findall(r'name="(shown)" value="([^"]+)"', html)])
    else:
        response = agent.submit(PAGE, CHOICES, fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give a reason for this change." in page
    assert 'aria-invalid="true"' in page
    box = re.search(r'<input type="checkbox" name="newsletter:email"[^>]*>', page).group(0)
    assert "checked" not in box  # the agent's tick is kept for the second try
    assert events(api) == before
    assert reason(api, "newsletter", "email") == "default"


def test_boxes_left_as_shown_write_nothing(console, api, newsletter, person):
    agent = console("agent")
    before = events(api)
    response = agent.submit(PAGE, CHOICES, {"reason": "just looking"})
    assert response.status_code == 303
    assert "Nothing changed" in agent.text(PAGE)
    assert events(api) == before


def test_the_form_compares_with_what_the_page_showed_not_with_the_store(console, api, newsletter, person):
    """A change made elsewhere while the agent had the page open is not undone by the agent's save."""
    agent = console("agent")
    page = agent.text(PAGE)
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    shown = re.findall(r'name="shown" value="([^"]+)"', page)
    response = agent.post(
        CHOICES,
        [("shown", s) for s in shown] + [("*:email", "on"), ("*:sms", "on"), ("*:phone", "on"), ("reason", "caller asked")],
    )
    assert response.status_code == 303  # newsletter:email unticked; newsletter:sms left as shown (off)
    assert reason(api, "newsletter", "email") == "unsubscribed"
    assert reason(api, "newsletter", "sms") == "subscribed"


def test_locked_mandatory_boxes_are_ignored_not_refused(console, api, newsletter, person):
    agent = console("agent")
    before = events(api)
    # Browsers do not send disabled boxes; a hand-made request claiming billing was shown on and is now off:
    response = agent.submit(PAGE, CHOICES, {"shown": "billing:email=1", "reason": "testing"})
    assert response.status_code == 303
    assert events(api) == before
    assert reason(api, "billing", "email") == "mandatory"


def test_channel_stop_and_stop_all_from_the_same_form(console, api, newsletter, person):
    agent = console("agent")
    assert agent.submit(PAGE, CHOICES, {"*:sms": False, "reason": "no texts please"}).status_code == 303
    assert reason(api, "newsletter", "sms") == "channel_unsubscribed"
    assert agent.submit(PAGE, CHOICES, {"stop_all": True, "reason": "no marketing at all"}).status_code == 303
    assert reason(api, "newsletter", "email") == "all_marketing_unsubscribed"
    assert reason(api, "billing", "email") == "mandatory"
    rows = history_rows(agent.text(PAGE))
    assert "All marketing: stopped" in rows[0] and "Marketing by text message: stopped" in rows[1]


def test_after_a_stop_text_the_sms_boxes_are_locked(console, api, client, newsletter, person):
    from test_sms import text

    text(client, "STOP")
    page = console("agent").text(PAGE)
    assert "texted STOP" in page
    box = re.search(r'<input type="checkbox" name="newsletter:sms"[^>]*>', page).group(0)
    assert "disabled" in box and 'aria-describedby="why-sms-stop"' in box


# --- contact data ---------------------------------------------------------------------------------------
CONTACT = PAGE + "/contact"


def test_an_agent_changes_contact_data_with_a_reason(console, api, person):
    agent = console("agent")
    fields = {
        "phone": "(415) 555-0199",
        "lines": "1 Main St\r\nApt 2",
        "city": "Springfield",
        "country": "us",
        "reason": "moved house",
    }
    assert agent.submit(PAGE, CONTACT, fields).status_code == 303
    recipient = api.get("/recipients/cust-1").get_json()
    assert recipient["phone"] == "+14155550199"
    assert recipient["postal_address"] == {"lines": ["1 Main St", "Apt 2"], "city": "Springfield", "country": "US"}
    assert recipient["email"] == "ann@example.com"  # untouched
    event = events(api)[0]
    assert (event["kind"], event["actor_id"], event["via"], event["reason"]) == (
        "contact_changed",
        "agent@example.com",
        "console",
        "moved house",
    )
    assert "Contact data saved." in agent.text(PAGE)


def test_contact_fields_nobody_touched_are_not_written_back(console, api, person):
    agent = console("agent")
    page_before = agent.text(PAGE)
    api.put("/recipients/cust-1", {"email": "ann.new@example.com"})  # meanwhile, from the mailer's system
    hidden = re.findall(r'name="(shown-[a-z_]+)" value="([^"]*)"', page_before)
    visible = [("email", "ann@example.com"), ("phone", "+14155550123"), ("lines", ""), ("city", ""), ("region", ""),
               ("postal_code", ""), ("country", ""), ("locale", "fr")]  # fmt: skip
    assert agent.post(CONTACT, hidden + visible + [("reason", "caller speaks French")]).status_code == 303
    recipient = api.get("/recipients/cust-1").get_json()
    assert recipient["locale"] == "fr" and recipient["email"] == "ann.new@example.com"


def test_contact_errors_show_on_the_form_and_change_nothing(console, api, person):
    api.put("/recipients/cust-2", {"email": "bob@example.com"})
    agent = console("agent")
    before = events(api)
    cases = [
        ({"email": "not an address", "reason": "x"}, 422, "Not a valid email address"),
        ({"email": "bob@example.com", "reason": "x"}, 409, "This email belongs to another recipient."),
        ({"phone": "12", "reason": "x"}, 422, "Not a valid phone number."),
        ({"city": "Springfield", "reason": "x"}, 422, "One to five non-empty lines of text."),
        ({"locale": "fr", "reason": ""}, 422, "Give a reason for this change."),
        ({"email": "x" * 400, "reason": "x"}, 422, "Field cannot be longer than 320 characters."),
    ]
    for fields, status, message in cases:
        response = agent.submit(PAGE, CONTACT, fields)
        assert response.status_code == status, fields
        page = response.get_data(as_text=True)
        assert message in page, fields
        assert '<details class="edit" open>' in page  # the form is open on the error
    assert events(api) == before


# --- account status -------------------------------------------------------------------------------------
def test_deactivate_and_reactivate_with_a_reason(console, api, newsletter, person):
    agent = console("agent")
    refused = agent.submit(PAGE, PAGE + "/deactivate", {"reason": ""})
    assert refused.status_code == 422 and reason(api, "billing", "email") == "mandatory"
    assert agent.submit(PAGE, PAGE + "/deactivate", {"reason": "account closed"}).status_code == 303
    assert reason(api, "billing", "email") == "deactivated"
    page = agent.text(PAGE)
    assert "Account active → deactivated" in history_rows(page)[0] and "account closed" in history_rows(page)[0]
    assert agent.submit(PAGE, PAGE + "/reactivate", {"reason": "reopened"}).status_code == 303
    assert reason(api, "billing", "email") == "mandatory"
    assert events(api)[0]["reason"] == "reopened"


# --- history --------------------------------------------------------------------------------------------
def test_the_history_is_paginated_newest_first(console, api, newsletter, person):
    for n in range(30):
        api.patch(
            "/recipients/cust-1/preferences",
            {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": n % 2 == 0}], "reason": f"change {n}"},
        )
    viewer = console("viewer")
    first = viewer.text(PAGE)
    rows = history_rows(first)
    assert len(rows) == 25 and "change 29" in rows[0] and "change 5" in rows[24]
    older = re.search(r'href="(/console/recipients/cust-1\?before=\d+)#history">Older changes', first).group(1)
    second = viewer.text(older)
    rows = history_rows(second)
    assert len(rows) == 6 and "change 4" in rows[0] and "Recipient created" in rows[-1]
    assert "Older changes" not in second and "Newest changes" in second
    assert viewer.get(PAGE + "?before=not-a-number").status_code == 200
    assert viewer.get(PAGE + "?before=99999999999999999999999999").status_code == 200


# --- suppressions ---------------------------------------------------------------------------------------
def suppress_by_erasure(api, email="gone@example.com"):
    api.put("/recipients/gone", {"email": email})
    assert api.delete("/recipients/gone").status_code == 204


def test_a_suppressed_address_without_a_recipient_is_named_and_an_agent_lifts_it_with_evidence(console, api, newsletter):
    suppress_by_erasure(api)
    viewer = console("viewer")
    page = viewer.search("Gone@Example.com")
    assert "This email address is suppressed" in page and "left by an erasure" in page
    assert "Lift the suppression" not in page  # a viewer changes nothing

    agent = console("agent")
    results = agent.search("gone@example.com")
    assert "Lift the suppression" in results
    refused = agent.submit_on(results, "/console/suppressions/lift", {"reason": "asked"})
    assert refused.status_code == 422
    assert "Say when the person consented." in refused.get_data(as_text=True)
    assert "Say how the person consented." in refused.get_data(as_text=True)
    future = agent.submit_on(
        results, "/console/suppressions/lift", {"collected_at": "2999-01-01T00:00", "source": "call", "reason": "asked"}
    )
    assert future.status_code == 422 and "in the future" in future.get_data(as_text=True)
    assert (
        api.post("/check", {"email": "gone@example.com", "topic": "newsletter", "channel": "email"}).get_json()["reason"]
        == "suppressed"
    )

    evidence = {"collected_at": "2026-01-05T10:30", "source": "phone call, ref 881", "reason": "wants the newsletter again"}
    assert agent.submit_on(results, "/console/suppressions/lift", evidence).status_code == 303
    page = agent.text("/console/")
    assert "The suppression is lifted" in page and "is suppressed" not in page
    assert (
        api.post("/check", {"email": "gone@example.com", "topic": "newsletter", "channel": "email"}).get_json()["reason"]
        == "unknown_recipient"
    )

    admin_events = console("admin").text("/console/admin/events")
    row = next(r for r in admin_events.split("<tr>") if "suppression.lifted" in r)
    assert "agent@example.com (staff)" in row and "2026-01-05T10:30:00+00:00" in row and "phone call, ref 881" in row
    assert re.search(r'data-label="Target">[0-9a-f]{16}<', row)  # the hash's prefix
    assert "gone@example.com" not in admin_events


def test_a_number_that_texted_stop_is_not_lifted_from_the_console(console, api, client, newsletter):
    from test_sms import text

    text(client, "STOP", sender="+14155550177")  # unknown number: leaves a suppression
    agent = console("agent")
    page = agent.search("(415) 555-0177")
    assert "This phone number is suppressed" in page and "only a START text from it lifts that" in page
    assert "Lift the suppression" not in page
    response = agent.post(
        "/console/suppressions/lift",
        [("q", "+14155550177"), ("collected_at", "2026-01-05T10:30"), ("source", "call"), ("reason", "asked")],
    )
    assert response.status_code == 422 and "only a START text" in response.get_data(as_text=True)


def test_a_known_persons_suppressed_address_is_lifted_with_their_consent(console, api, runner, newsletter, person, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("ann@example.com\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    assert reason(api, "newsletter", "email") == "suppressed"
    agent = console("agent")
    assert "Lift a suppression" in agent.text(PAGE)
    assert 'name="lift" value="phone"' not in agent.text(PAGE)  # only the suppressed address is offered

    missing = agent.submit(PAGE, CHOICES, {"lift": ["email"], "reason": "customer asked"})
    assert missing.status_code == 422 and "only the person&#39;s consent lifts one" in missing.get_data(as_text=True)
    stopped = {
        "lift": ["email"],
        "*:email": False,
        "collected_at": "2026-02-01T09:00",
        "source": "signed form",
        "reason": "customer asked",
    }
    contradiction = agent.submit(PAGE, CHOICES, stopped)
    assert contradiction.status_code == 422 and "Tick “Marketing by email” too" in contradiction.get_data(as_text=True)
    assert reason(api, "newsletter", "email") == "suppressed"

    consent = {"lift": ["email"], "collected_at": "2026-02-01T09:00", "source": "signed form", "reason": "customer asked"}
    assert agent.submit(PAGE, CHOICES, consent).status_code == 303
    assert reason(api, "newsletter", "email") == "default"
    lifted = events(api)[0]
    assert (lifted["kind"], lifted["channel"], lifted["actor_id"], lifted["via"]) == (
        "suppression_lifted",
        "email",
        "agent@example.com",
        "console",
    )
    assert lifted["evidence"] == {"collected_at": "2026-02-01T09:00:00+00:00", "source": "signed form"}
    assert "Lift a suppression" not in agent.text(PAGE)


# --- export and erasure (admin) -------------------------------------------------------------------------
def test_an_admin_downloads_the_export_and_the_download_is_recorded(console, api, person):
    admin = console("admin")
    response = admin.submit(PAGE, PAGE + "/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="recipient-cust-1.json"'
    exported = json.loads(response.get_data(as_text=True))
    assert exported["recipient"]["email"] == "ann@example.com" and exported["events"]
    assert "recipient.exported" in admin.text("/console/admin/events")


def test_erasure_needs_the_id_typed_and_a_reason(console, api, person):
    admin = console("admin")
    for fields, message in [
        ({"confirm": "cust-2", "reason": "GDPR"}, "That is not this recipient"),
        ({"confirm": "cust-1", "reason": ""}, "Give a reason"),
    ]:
        response = admin.submit(PAGE, PAGE + "/erase", fields)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
        assert api.get("/recipients/cust-1").status_code == 200
    response = admin.submit(PAGE, PAGE + "/erase", {"confirm": "cust-1", "reason": "GDPR Art. 17 request"})
    assert response.status_code == 303
    assert api.get("/recipients/cust-1").status_code == 404
    assert admin.get(PAGE).status_code == 404
    assert "This email address is suppressed" in admin.search("ann@example.com")


# --- no input makes a 500 -------------------------------------------------------------------------------
def test_odd_input_is_refused_cleanly(console, api, newsletter, person):
    agent = console("agent")
    assert agent.get("/console/?q=%00").status_code == 400
    assert agent.post("/console/", [("q", "a\x00b")]).status_code == 400
    assert agent.post(CHOICES, [("reason", "nul \x00 inside")]).status_code == 400
    for query in ["@", "x" * 5000, "+", "1" * 40, "é@ü.example", "cust-1 OR 1=1", "(415) 555-01234567"]:
        assert agent.post("/console/", [("q", query)]).status_code == 200
    odd_choices = [
        ("zzz:email", "on"),
        ("newsletter:fax", "on"),
        ("shown", "garbage"),
        ("shown", "nope:sms=1"),
        ("stop_all", "x"),
        ("reason", "r"),
    ]
    assert agent.post(CHOICES, odd_choices).status_code in (303, 422)
    assert agent.post(CHOICES, [("collected_at", "yesterday"), ("reason", "r")]).status_code == 422
    assert agent.post(PAGE + "/contact", [("reason", "r" * 5000)]).status_code == 422
    assert agent.post("/console/suppressions/lift", [("q", "nobody@example.com")]).status_code == 303
