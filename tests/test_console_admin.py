"""Admin pages: topics (mandatory fixed at creation), API keys (shown once, revoked everywhere), staff accounts,
and the admin events that record each of these changes (SPEC §2, §7)."""

from __future__ import annotations

import re

from console_client import PASSWORD, Console

pytest_plugins = ["console_fixtures"]

TOPICS = "/console/admin/topics"
KEYS = "/console/admin/keys"
STAFF = "/console/admin/staff"


def admin_event_rows(session: Console) -> list[str]:
    page = session.text("/console/admin/events")
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]]


# --- topics ---------------------------------------------------------------------------------------------
def test_an_admin_creates_a_topic_that_mailers_can_use_at_once(console, api, person):
    admin = console("admin")
    fields = {
        "key": "offers",
        "name": "Offers",
        "description": "Deals",
        "channels": ["email", "sms"],
        "default_on": ["email", "post"],
    }
    assert admin.submit(TOPICS, TOPICS, fields).status_code == 303
    topic = next(t for t in api.get("/topics").get_json()["topics"] if t["key"] == "offers")
    assert topic["channels"] == ["email", "sms"] and not topic["mandatory"]
    assert topic["default_subscribed"] == {"email": True, "sms": False}  # a default only where it is sent
    assert api.check("offers", "email", recipient_id="cust-1")["reason"] == "default"
    assert "Topic offers created." in admin.text(TOPICS)
    assert "topic.created offers" in admin_event_rows(admin)[0] and "admin@example.com (staff)" in admin_event_rows(admin)[0]


def test_topic_creation_errors_show_on_the_form(console, api, newsletter):
    admin = console("admin")
    cases = [
        ({"key": "newsletter", "name": "Again", "channels": ["email"]}, 409, "exists already"),
        ({"key": "Bad Key", "name": "Bad", "channels": ["email"]}, 422, "Lower-case letters"),
        ({"key": "nochannel", "name": "None"}, 422, "One or more distinct channels"),
        ({"key": "noname", "name": "", "channels": ["email"]}, 422, "Give the topic a name."),
    ]
    for fields, status, message in cases:
        response = admin.submit(TOPICS, TOPICS, fields)
        assert response.status_code == status, fields
        assert message in response.get_data(as_text=True), fields
    hand_made = admin.post(TOPICS, [("key", "fax"), ("name", "Fax"), ("channels", "fax")])  # no such box on the page
    assert hand_made.status_code == 422 and "valid choice" in hand_made.get_data(as_text=True)
    assert [t["key"] for t in api.get("/topics").get_json()["topics"]] == ["billing", "newsletter", "service"]


def test_mandatory_is_fixed_at_creation_and_a_mandatory_topic_keeps_its_channels(console, api, newsletter):
    admin = console("admin")
    assert (
        admin.submit(
            TOPICS, TOPICS, {"key": "legal", "name": "Legal notices", "channels": ["email"], "mandatory": True}
        ).status_code
        == 303
    )
    legal = "/console/admin/topics/legal"
    page = admin.text(legal)
    assert 'name="mandatory"' not in page and "fixed for good" in page
    assert re.search(r'<input type="checkbox" id="edit-channels-email"[^>]*disabled', page)  # locked on, with why
    assert "can gain channels but never lose one" in page
    assert "Archive the topic" not in page

    # By hand: un-mandatory it, drop its channel, archive it. None of it takes.
    admin.post(legal, [("name", "Legal"), ("mandatory", ""), ("channels", "post")])
    topic = next(t for t in api.get("/topics").get_json()["topics"] if t["key"] == "legal")
    assert topic["mandatory"] and topic["channels"] == ["email", "post"] and topic["name"] == "Legal"
    refused = admin.post(legal + "/archive")
    assert refused.status_code == 422 and "cannot be archived" in refused.get_data(as_text=True)
    assert (
        admin.post("/console/admin/topics/newsletter", [("name", "News"), ("channels", "email"), ("mandatory", "y")]).status_code
        == 303
    )
    newsletter_now = next(t for t in api.get("/topics").get_json()["topics"] if t["key"] == "newsletter")
    assert not newsletter_now["mandatory"] and newsletter_now["channels"] == ["email"]


def test_archive_and_restore_a_topic(console, api, newsletter, person):
    admin = console("admin")
    page = "/console/admin/topics/newsletter"
    assert admin.submit(page, page + "/archive").status_code == 303
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "topic_archived"
    assert "archived" in admin.text(page)
    assert admin.submit(page, page + "/restore").status_code == 303
    assert api.check("newsletter", "email", recipient_id="cust-1")["reason"] == "default"
    rows = admin_event_rows(admin)
    assert "topic.changed newsletter" in rows[0] and "topic.archived newsletter" in rows[1]
    assert admin.get("/console/admin/topics/nope").status_code == 404


# --- API keys -------------------------------------------------------------------------------------------
def test_a_new_key_is_shown_once_and_works_and_a_revoked_one_stops(console, api, client, person):
    admin = console("admin")
    response = admin.submit(KEYS, KEYS, {"name": "crm-sync", "scopes": ["read"]})
    assert response.status_code == 201
    key = re.search(r'<code class="secret" id="new-key">(prefs_[^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/recipients/cust-1", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listing = admin.text(KEYS)
    assert "crm-sync" in listing and key not in listing  # shown once
    assert "api_key.created crm-sync" in admin_event_rows(admin)[0]

    assert admin.submit(KEYS, KEYS + "/crm-sync/revoke").status_code == 303
    assert client.get("/api/v1/recipients/cust-1", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "revoked" in admin.text(KEYS) and "api_key.revoked crm-sync" in admin_event_rows(admin)[0]
    again = admin.post(KEYS + "/crm-sync/revoke")
    assert again.status_code == 404 and "No active API key" in again.get_data(as_text=True)


def test_key_form_errors(console, make_key):
    make_key("taken", "check")
    admin = console("admin")
    for fields, status, message in [
        ({"name": "taken", "scopes": ["check"]}, 409, "exists already"),
        ({"name": "no-scope"}, 422, "Scopes must be among"),
        ({"name": "bad name!", "scopes": ["check"]}, 422, "A key name is 1-64"),
    ]:
        response = admin.submit(KEYS, KEYS, fields)
        assert response.status_code == status and message in response.get_data(as_text=True), fields
        assert "prefs_" not in response.get_data(as_text=True)
    hand_made = admin.post(KEYS, [("name", "k"), ("scopes", "root")])
    assert hand_made.status_code == 422 and "valid choice" in hand_made.get_data(as_text=True)


# --- staff accounts -------------------------------------------------------------------------------------
def staff_id(session: Console, email: str) -> str:
    return re.search(rf'href="/console/admin/staff/(\d+)">{re.escape(email)}<', session.text(STAFF)).group(1)


def test_an_admin_creates_disables_enables_and_resets_staff_accounts(console, app):
    admin = console("admin")
    fields = {"email": "New.Agent@Example.com", "role": "agent", "password": PASSWORD}
    assert admin.submit(STAFF, STAFF, fields).status_code == 303
    assert Console(app).login("new.agent@example.com").status_code == 303
    member = f"/console/admin/staff/{staff_id(admin, 'new.agent@example.com')}"

    session = Console(app)
    session.login("new.agent@example.com")
    assert admin.submit(member, member + "/disable").status_code == 303
    assert session.get("/console/").status_code == 302  # its session ended
    assert Console(app).login("new.agent@example.com").status_code == 401
    assert admin.submit(member, member + "/enable").status_code == 303
    assert Console(app).login("new.agent@example.com").status_code == 303

    assert admin.submit(member, member + "/password", {"password": "short"}).status_code == 422
    assert admin.submit(member, member + "/password", {"password": "the new long passphrase"}).status_code == 303
    assert Console(app).login("new.agent@example.com", "the new long passphrase").status_code == 303

    rows = admin_event_rows(admin)
    assert [row.split(" admin@example.com (staff) ")[1].split(" ")[0] for row in rows[:4]] == [
        "staff.password_reset", "staff.enabled", "staff.disabled", "staff.created",
    ]  # fmt: skip
    assert all("new.agent@example.com" in row for row in rows[:4])
    assert PASSWORD not in admin.text("/console/admin/events")


def test_staff_form_errors_and_no_self_disable(console):
    admin = console("admin")
    for fields, status, message in [
        ({"email": "admin@example.com", "role": "agent", "password": PASSWORD}, 409, "exists already"),
        ({"email": "not-an-email", "role": "agent", "password": PASSWORD}, 422, "Not a valid email address"),
        ({"email": "a@example.com", "role": "agent", "password": "short"}, 422, "at least 12"),
        ({"email": "x" * 120 + "@example.com", "role": "agent", "password": PASSWORD}, 422, "At most 128 characters."),
    ]:
        response = admin.submit(STAFF, STAFF, fields)
        assert response.status_code == status, fields
        assert message in response.get_data(as_text=True).replace("Field must be at least 12", "at least 12"), fields
    hand_made = admin.post(STAFF, [("email", "a@example.com"), ("role", "root"), ("password", PASSWORD)])
    assert hand_made.status_code == 422 and "valid choice" in hand_made.get_data(as_text=True)
    me = f"/console/admin/staff/{staff_id(admin, 'admin@example.com')}"
    assert "Disable the account</button>" not in admin.text(me)
    refused = admin.post(me + "/disable")
    assert refused.status_code == 409 and "cannot disable your own account" in refused.get_data(as_text=True)
    assert admin.get("/console/").status_code == 200
    assert admin.get("/console/admin/staff/999999").status_code == 404
    assert admin.get("/console/admin/staff/99999999999999999999").status_code == 404  # past the column: not a 500


def test_admin_events_are_paginated(console, make_key):
    for n in range(30):
        make_key(f"key-{n:02d}", "check")
    admin = console("admin")
    first = admin.text("/console/admin/events")
    assert len(admin_event_rows(admin)) == 25
    older = re.search(r'href="(/console/admin/events\?before=\d+)">Older events', first).group(1)
    rows = admin.text(older).split("<tbody>", 1)[1].count("<tr>")
    assert rows == 6  # 30 keys and the admin's own account, 31 in all
