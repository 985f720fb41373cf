"""Operator CLI: API keys are shown once and stored only as a hash."""

from __future__ import annotations

from sqlalchemy import select

from prefs.extensions import db
from prefs.models import AdminEvent, ApiKey


def test_keys_create_prints_the_key_alone_on_the_last_line_and_stores_a_hash(app, runner, client):
    result = runner.invoke(args=["keys", "create", "mailer", "--scope", "check", "--scope", "write"])
    assert result.exit_code == 0
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("prefs_") and " " not in key and len(key) > 40
    with app.app_context():
        stored = db.session.execute(select(ApiKey).where(ApiKey.name == "mailer")).scalar_one()
        assert stored.scopes == "check write" and key not in (stored.key_hash, stored.name)
        assert [e.action for e in db.session.execute(select(AdminEvent)).scalars()] == ["api_key.created"]
    response = client.post(
        "/api/v1/check",
        json={"recipient_id": "x", "topic": "billing", "channel": "email"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200


def test_keys_create_refuses_a_taken_name_and_bad_scopes(runner, make_key):
    make_key("mailer", "check")
    assert runner.invoke(args=["keys", "create", "mailer", "--scope", "check"]).exit_code != 0
    assert runner.invoke(args=["keys", "create", "other", "--scope", "everything"]).exit_code != 0
    assert runner.invoke(args=["keys", "create", "other"]).exit_code != 0


def test_keys_revoke_and_list(runner, make_key):
    make_key("mailer", "check")
    assert runner.invoke(args=["keys", "revoke", "mailer"]).exit_code == 0
    assert runner.invoke(args=["keys", "revoke", "mailer"]).exit_code != 0
    listing = runner.invoke(args=["keys", "list"]).output
    assert "mailer\tcheck\trevoked" in listing and "prefs_" not in listing


def test_demo_prints_a_working_unsubscribe_link_and_can_run_twice(runner, client, api):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    url = first.output.strip().splitlines()[-1]
    assert url.startswith("https://prefs.example.com/u/")
    assert runner.invoke(args=["demo"]).exit_code == 0
    path = url.removeprefix("https://prefs.example.com")
    assert client.get(path).status_code == 200
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert api.check("newsletter", "email", recipient_id="demo-1")["reason"] == "unsubscribed"
