"""Versioned notices (SPEC §14, issue 14 acceptance 2): saving new text makes the next version, a version is
never altered, and a consent keeps the version that was current when it was collected. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from prefs.extensions import db
from prefs.models import Notice, utcnow


def test_new_text_makes_a_new_version_and_old_ones_stay_as_they_were(api):
    first = api.post("/notices", {"key": "signup", "text": "Send me news.", "language": "en"})
    assert first.status_code == 201 and first.get_json()["version"] == 1
    same = api.post("/notices", {"key": "signup", "text": "  Send me news.  ", "language": "en"})
    assert same.status_code == 200 and same.get_json()["version"] == 1  # the same text: nothing new
    second = api.post("/notices", {"key": "signup", "text": "Send me news and offers."})
    assert second.status_code == 201 and second.get_json()["version"] == 2 and second.get_json()["language"] is None
    versions = api.get("/notices/signup").get_json()["versions"]
    assert [(v["version"], v["text"]) for v in versions] == [(2, "Send me news and offers."), (1, "Send me news.")]
    assert versions[0]["created_by"] == "test-admin"
    [listed] = api.get("/notices").get_json()["notices"]
    assert (listed["key"], listed["version"], listed["versions"]) == ("signup", 2, 2)
    assert api.get("/notices/nope").status_code == 404
    assert api.post("/notices", {"key": "Bad Key", "text": "x"}).status_code == 422
    assert api.post("/notices", {"key": "signup", "text": ""}).status_code == 422
    assert api.post("/notices", {"key": "signup", "text": "x", "language": "xx"}).status_code == 422


def test_a_consent_names_the_version_current_when_it_was_collected(api, app, newsletter, person):
    api.post("/notices", {"key": "checkout", "text": "Text me the newsletter."})
    with app.app_context():  # version 1 was saved a day ago
        db.session.execute(update(Notice).values(created_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    api.post("/notices", {"key": "checkout", "text": "Text me the newsletter and offers."})
    an_hour_ago = (utcnow() - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body = {"recipient_id": "cust-1", "topics": ["newsletter"], "channel": "sms",
            "evidence": {"source": "checkout", "notice": "checkout", "collected_at": an_hour_ago}}  # fmt: skip
    assert api.post("/subscriptions", body).status_code == 200
    [record] = api.get("/recipients/cust-1/consents").get_json()["consents"]
    assert record["notice"]["version"] == 1 and record["notice"]["text"] == "Text me the newsletter."

    two_days_ago = (utcnow() - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    early = {**body, "evidence": {**body["evidence"], "collected_at": two_days_ago}}
    refused = api.post("/subscriptions", early)
    assert refused.status_code == 422 and "notice" in refused.get_json()["error"]["details"]["evidence"]
    unknown = {**body, "evidence": {"source": "checkout", "notice": "nope"}}
    assert api.post("/subscriptions", unknown).status_code == 422


pytest_plugins = ["console_fixtures"]


def test_admins_keep_notices_in_the_console_and_others_cannot(console, api):
    admin = console("admin")
    saved = admin.post("/console/admin/notices", {"key": "signup", "text": "Send me news.", "language": "en"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/console/admin/notices/signup")
    assert (
        admin.post("/console/admin/notices", {"key": "signup", "text": "Send me news & offers.", "language": ""}).status_code
        == 303
    )
    page = admin.get("/console/admin/notices/signup").get_data(as_text=True)
    assert "Send me news." in page and "Send me news &amp; offers." in page
    assert "2 of 2" in admin.get("/console/admin/notices").get_data(as_text=True)
    assert admin.post("/console/admin/notices", {"key": "Bad Key", "text": "x"}).status_code == 422
    assert [v["version"] for v in api.get("/notices/signup").get_json()["versions"]] == [2, 1]
    assert console("agent").get("/console/admin/notices").status_code == 403
