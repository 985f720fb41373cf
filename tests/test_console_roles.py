"""Acceptance 1 and SPEC §10 S1 for the console: every console route × every role does only what the role allows.

viewer reads; agent also changes a person's choices, contact data and status and lifts suppressions; admin also
manages topics, API keys and staff, sees admin events, exports and erases. A refused request changes nothing.
"""

from __future__ import annotations

import pytest
from console_client import PASSWORD, Console
from sqlalchemy import select

from prefs.extensions import db
from prefs.models import AdminEvent, ApiKey, StaffUser, Suppression

pytestmark = pytest.mark.usefixtures("newsletter", "person")
pytest_plugins = ["console_fixtures"]

# (method, rule) -> the permission it needs; None: anyone. A console route missing here fails
# test_every_console_route_is_in_the_matrix: adding a route means deciding who may use it.
CONSOLE_PERMISSIONS = {
    ("GET", "/console/login"): None,
    ("POST", "/console/login"): None,
    ("POST", "/console/logout"): None,
    ("GET", "/console/"): "read",
    ("POST", "/console/"): "read",
    ("GET", "/console/insights"): "read",
    ("GET", "/console/insights.csv"): "read",
    ("GET", "/console/recipients/<recipient_id>"): "read",
    ("POST", "/console/recipients/<recipient_id>/choices"): "edit",
    ("POST", "/console/recipients/<recipient_id>/contact"): "edit",
    ("POST", "/console/recipients/<recipient_id>/deactivate"): "edit",
    ("POST", "/console/recipients/<recipient_id>/reactivate"): "edit",
    ("POST", "/console/recipients/<recipient_id>/undeliverable/clear"): "edit",
    ("POST", "/console/suppressions/lift"): "edit",
    ("POST", "/console/recipients/<recipient_id>/export"): "admin",
    ("POST", "/console/recipients/<recipient_id>/erase"): "admin",
    ("GET", "/console/admin/topics"): "admin",
    ("POST", "/console/admin/topics"): "admin",
    ("GET", "/console/admin/topics/<key>"): "admin",
    ("POST", "/console/admin/topics/<key>"): "admin",
    ("POST", "/console/admin/topics/<key>/archive"): "admin",
    ("POST", "/console/admin/topics/<key>/restore"): "admin",
    ("GET", "/console/admin/keys"): "admin",
    ("POST", "/console/admin/keys"): "admin",
    ("POST", "/console/admin/keys/<name>/revoke"): "admin",
    ("GET", "/console/admin/webhooks"): "admin",
    ("POST", "/console/admin/webhooks"): "admin",
    ("GET", "/console/admin/webhooks/<int:endpoint_id>"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/disable"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/enable"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/rotate"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/replay"): "admin",
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/delete"): "admin",
    ("GET", "/console/admin/staff"): "admin",
    ("POST", "/console/admin/staff"): "admin",
    ("GET", "/console/admin/staff/<int:staff_id>"): "admin",
    ("POST", "/console/admin/staff/<int:staff_id>/password"): "admin",
    ("POST", "/console/admin/staff/<int:staff_id>/disable"): "admin",
    ("POST", "/console/admin/staff/<int:staff_id>/enable"): "admin",
    ("GET", "/console/admin/events"): "admin",
    ("GET", "/console/admin/notices"): "admin",
    ("POST", "/console/admin/notices"): "admin",
    ("GET", "/console/admin/notices/<key>"): "admin",
    ("GET", "/console/admin/forms"): "admin",
    ("POST", "/console/admin/forms"): "admin",
    ("GET", "/console/admin/forms/<key>"): "admin",
    ("POST", "/console/admin/forms/<key>"): "admin",
    ("POST", "/console/admin/forms/<key>/delete"): "admin",
}
GRANTS = {"viewer": {"read"}, "agent": {"read", "edit"}, "admin": {"read", "edit", "admin"}}
REASON = ("reason", "asked by phone")
# A valid request per route, in an order where each still finds what it needs (erasure last but one).
REQUESTS = [
    ("GET", "/console/", None),
    ("POST", "/console/", [("q", "cust-1")]),
    ("GET", "/console/insights", None),
    ("GET", "/console/insights.csv", None),
    ("GET", "/console/recipients/<recipient_id>", None),
    ("POST", "/console/recipients/<recipient_id>/choices", [("shown", "newsletter:email=1"), ("shown", "stop_all=0"), REASON]),
    ("POST", "/console/recipients/<recipient_id>/contact", [("locale", "fr-CA"), ("shown-locale", ""), REASON]),
    ("POST", "/console/recipients/<recipient_id>/deactivate", [REASON]),
    ("POST", "/console/recipients/<recipient_id>/reactivate", [REASON]),
    ("POST", "/console/recipients/<recipient_id>/undeliverable/clear", [REASON]),
    (
        "POST",
        "/console/suppressions/lift",
        [("q", "gone@example.com"), ("collected_at", "2026-01-05T10:30"), ("source", "phone call"), REASON],
    ),
    ("POST", "/console/recipients/<recipient_id>/export", None),
    ("GET", "/console/admin/topics", None),
    ("POST", "/console/admin/topics", [("key", "promo"), ("name", "Promotions"), ("channels", "email")]),
    ("GET", "/console/admin/topics/<key>", None),
    ("POST", "/console/admin/topics/<key>", [("name", "News"), ("channels", "email"), ("channels", "sms")]),
    ("POST", "/console/admin/topics/<key>/archive", None),
    ("POST", "/console/admin/topics/<key>/restore", None),
    ("GET", "/console/admin/keys", None),
    ("POST", "/console/admin/keys", [("name", "new-mailer"), ("scopes", "check")]),
    ("POST", "/console/admin/keys/<name>/revoke", None),
    ("GET", "/console/admin/webhooks", None),
    ("POST", "/console/admin/webhooks", [("url", "http://127.0.0.1:9/new"), ("events", "*")]),
    ("GET", "/console/admin/webhooks/<int:endpoint_id>", None),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>", [("url", "http://127.0.0.1:9/edited"), ("events", "*")]),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/disable", None),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/enable", None),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/rotate", None),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/replay", [("after", "0")]),
    ("POST", "/console/admin/webhooks/<int:endpoint_id>/delete", [("confirm", "y")]),
    ("GET", "/console/admin/staff", None),
    ("POST", "/console/admin/staff", [("email", "new@example.com"), ("role", "viewer"), ("password", PASSWORD)]),
    ("GET", "/console/admin/staff/<int:staff_id>", None),
    ("POST", "/console/admin/staff/<int:staff_id>/password", [("password", "another long passphrase")]),
    ("POST", "/console/admin/staff/<int:staff_id>/disable", None),
    ("POST", "/console/admin/staff/<int:staff_id>/enable", None),
    ("GET", "/console/admin/events", None),
    ("GET", "/console/admin/notices", None),
    ("POST", "/console/admin/notices", [("key", "newsletter"), ("text", "Send me the newsletter."), ("language", "")]),
    ("GET", "/console/admin/notices/<key>", None),
    ("GET", "/console/admin/forms", None),
    (
        "POST",
        "/console/admin/forms",
        [("key", "newsletter"), ("title", "News"), ("topics", "newsletter"), ("notice", "newsletter")],
    ),
    ("GET", "/console/admin/forms/<key>", None),
    ("POST", "/console/admin/forms/<key>", [("title", "News, monthly"), ("topics", "newsletter"), ("notice", "newsletter")]),
    ("POST", "/console/admin/forms/<key>/delete", None),
    ("POST", "/console/recipients/<recipient_id>/erase", [("confirm", "cust-1"), ("reason", "GDPR request")]),
    ("GET", "/console/login", None),
    ("POST", "/console/logout", None),
]


def console_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/console")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_console_route_is_in_the_matrix(app):
    assert console_routes(app) == set(CONSOLE_PERMISSIONS)
    assert {(method, rule) for method, rule, _ in REQUESTS} | {("POST", "/console/login")} == set(CONSOLE_PERMISSIONS)


def test_every_view_checks_the_permission_the_matrix_names(app):
    adapter = app.url_map.bind("localhost")
    for (method, rule), permission in CONSOLE_PERMISSIONS.items():
        endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods)
        view = app.view_functions[endpoint]
        assert getattr(view, "required_permission", None) == permission, (method, rule)
    assert adapter  # the map binds: every rule above is a real route


def state(app, api) -> dict:
    """Everything a console request could change, read back after each kind of staff has tried."""
    with app.app_context():
        return {
            "recipient": api.get("/recipients/cust-1").get_json(),
            "events": api.get("/recipients/cust-1/events?limit=1000").get_json().get("events"),
            "topics": api.get("/topics").get_json()["topics"],
            "keys": [(k.name, k.revoked_at) for k in db.session.execute(select(ApiKey).order_by(ApiKey.name)).scalars()],
            "staff": [
                (s.email, s.role, s.disabled_at, s.password_hash)
                for s in db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars()
            ],
            "admin_events": db.session.execute(select(db.func.count()).select_from(AdminEvent)).scalar_one(),
            "suppressions": sorted(db.session.execute(select(Suppression.hash)).scalars()),
            "webhooks": api.get("/webhooks").get_json()["webhooks"],
        }


@pytest.fixture
def targets(app, api, runner, make_staff, make_key, tmp_path) -> dict[str, str]:
    """What the requests act on: a staff account, an API key, a suppressed address nobody holds, a webhook endpoint."""
    make_staff("target@example.com", "agent")
    make_key("old-mailer", "check")
    listing = tmp_path / "suppressed.txt"
    listing.write_text("gone@example.com\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    with app.app_context():
        staff_id = db.session.execute(select(StaffUser.id).where(StaffUser.email == "target@example.com")).scalar_one()
    endpoint_id = api.post("/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}).get_json()["id"]
    return {
        "<recipient_id>": "cust-1",
        "<key>": "newsletter",
        "<name>": "old-mailer",
        "<int:staff_id>": str(staff_id),
        "<int:endpoint_id>": str(endpoint_id),
    }


def run(session: Console, targets: dict[str, str]) -> dict[tuple[str, str], int]:
    statuses = {}
    for method, rule, data in REQUESTS:
        path = rule
        for placeholder, value in targets.items():
            path = path.replace(placeholder, value)
        response = session.get(path) if method == "GET" else session.post(path, data or [])
        statuses[(method, rule)] = response.status_code
    return statuses


@pytest.mark.parametrize("role", ["anonymous", "viewer", "agent", "admin"])
def test_each_route_answers_each_role_as_the_matrix_says(app, api, console, anonymous, targets, role):
    session = anonymous if role == "anonymous" else console(role)
    before = state(app, api)
    statuses = run(session, targets)
    for (method, rule), status in statuses.items():
        permission = CONSOLE_PERMISSIONS[(method, rule)]
        if (method, rule) == ("GET", "/console/login"):
            expected = {200} if role == "anonymous" else {302}  # signed in already: to the home page
        elif permission is None:
            expected = {303}
        elif role == "anonymous":
            expected = {302}  # to the sign-in page
        elif permission in GRANTS[role]:
            answers = (
                method == "GET" or rule.endswith(("/export", "/admin/keys", "/admin/webhooks", "/rotate")) or rule == "/console/"
            )  # a search answers with its results; a new key or webhook secret is on the answer itself
            expected = {200, 201} if answers else {303}
        else:
            expected = {403}
        assert status in expected, (role, method, rule, status)

    after = state(app, api)
    if role in ("anonymous", "viewer"):
        assert after == before  # nothing at all changed
    elif role == "agent":
        for unchanged in ("topics", "keys", "staff", "webhooks"):
            assert after[unchanged] == before[unchanged], unchanged
        assert after["recipient"]["locale"] == "fr-CA" and after["events"] != before["events"]
        assert api.get("/recipients/cust-1").status_code == 200  # not erased
    else:
        assert api.get("/recipients/cust-1").status_code == 404  # erased
        assert {t["key"] for t in after["topics"]} == {"billing", "service", "newsletter", "promo"}
        assert ("old-mailer", None) not in after["keys"] and "new@example.com" in {s[0] for s in after["staff"]}
