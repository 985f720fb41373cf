"""The console's webhook pages (SPEC §13): an admin adds, edits, disables and re-enables, rotates, replays and
deletes endpoints and sees their recent attempts; a new secret is shown once and verifies what the worker
sends; viewers and agents are refused everything."""

from __future__ import annotations

import re

import pytest
from browser import browser_page, requires_browser, serious_violations, serve, submit
from console_client import Console
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from test_console_browser import sign_in
from webhook_receiver import Receiver

from prefs.cli.worker import Worker
from prefs.extensions import db
from prefs.models import AdminEvent, WebhookEndpoint, utcnow
from prefs.runtime import runtime

pytest_plugins = ["console_fixtures"]

HOOKS = "/console/admin/webhooks"
SECRET_RE = re.compile(r'<code class="secret" id="new-secret">(whsec_[^<]+)</code>')


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def deliver(app) -> int:
    """One `worker --once` pass."""
    with app.app_context():
        worker = Worker(runtime(), seed=1, clock=utcnow)
        try:
            return worker.drain()
        finally:
            worker.close()


def shown_secret(response) -> str:
    match = SECRET_RE.search(response.get_data(as_text=True))
    assert match, "no secret on the page"
    return match.group(1)


def create(admin: Console, url: str, events=("*",), description: str = ""):
    return admin.submit(HOOKS, HOOKS, {"url": url, "events": list(events), "description": description})


def only_endpoint(api) -> dict:
    (endpoint,) = api.get("/webhooks").get_json()["webhooks"]
    return endpoint


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def attempt_rows(html: str) -> list[str]:
    body = html.split('id="attempts-caption"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [text_of(row).strip() for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


# --- create, and the secret shown once ----------------------------------------------------------------
def test_a_new_endpoint_shows_its_secret_once_and_that_secret_verifies_what_is_delivered(app, console, api, receiver):
    admin = console("admin")
    response = create(admin, receiver.url(), description="CRM sync")
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    secret = shown_secret(response)
    assert "Copy it now: it is shown this once" in page
    endpoint = only_endpoint(api)
    assert endpoint["url"] == receiver.url() and endpoint["events"] == ["*"] and endpoint["description"] == "CRM sync"
    assert "secret" not in endpoint

    listing = admin.text(HOOKS)
    assert receiver.url() in listing and "CRM sync" in listing and secret not in listing and "whsec_" not in listing
    endpoint_page = admin.text(f"{HOOKS}/{endpoint['id']}")
    assert receiver.url() in endpoint_page and secret not in endpoint_page and "whsec_" not in endpoint_page

    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    (request,) = receiver.received
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "recipient.created"
    assert "webhook.created" in text_of(admin.text("/console/admin/events")) and "admin@example.com (staff)" in text_of(
        admin.text("/console/admin/events")
    )


def test_the_event_filter_is_chosen_with_checkboxes(app, console, api, person, receiver):
    admin = console("admin")
    assert create(admin, receiver.url(), events=["recipient.deactivated", "sms.stopped"]).status_code == 201
    assert only_endpoint(api)["events"] == ["recipient.deactivated", "sms.stopped"]
    page = admin.text(HOOKS)
    assert "recipient.deactivated, sms.stopped" in page
    api.post("/recipients/cust-1/deactivate", {})
    api.post("/recipients/cust-1/reactivate", {})
    deliver(app)
    assert receiver.types() == ["recipient.deactivated"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://10.1.2.3/hook", "10.1.2.3 is"),
        ("https://127.0.0.2/hook", "127.0.0.2 is"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is"),
        ("http://203.0.113.9/hook", "must start with https://"),
    ],
)
def test_a_url_the_service_refuses_shows_its_message_and_creates_nothing(console, api, url, message):
    admin = console("admin")
    response = create(admin, url)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Invalid value for url." in page and message in page
    assert re.search(r'id="webhook-url-error">[^<]+</p>', page)  # beside the field it is about
    assert f'value="{url}"' in page  # what was typed stays in the box
    assert "whsec_" not in page
    assert api.get("/webhooks").get_json()["webhooks"] == []


def test_form_errors_create_nothing(console, api, receiver):
    admin = console("admin")
    no_events = create(admin, receiver.url(), events=[])
    assert no_events.status_code == 422 and "at least one event type" in no_events.get_data(as_text=True)
    no_url = create(admin, "")
    assert no_url.status_code == 422 and "Enter the URL" in no_url.get_data(as_text=True)
    hand_made = admin.post(HOOKS, [("url", receiver.url()), ("events", "fax.sent")])
    assert hand_made.status_code == 422 and "valid choice" in hand_made.get_data(as_text=True)
    too_long = admin.post(HOOKS, [("url", receiver.url()), ("events", "*"), ("description", "x" * 501)])
    assert too_long.status_code == 422
    no_token = admin.post(HOOKS, [("url", receiver.url()), ("events", "*")], csrf=False)
    assert no_token.status_code == 400
    assert api.get("/webhooks").get_json()["webhooks"] == []


# --- one endpoint: edit, disable and enable, rotate, delete ---------------------------------------------
def test_edit_saves_through_the_service_and_a_refused_url_changes_nothing(console, api, receiver):
    admin = console("admin")
    create(admin, receiver.url())
    endpoint = only_endpoint(api)
    page = f"{HOOKS}/{endpoint['id']}"

    refused = admin.submit(page, page, {"url": "https://10.0.0.1/hook"})
    assert refused.status_code == 422 and "10.0.0.1 is" in refused.get_data(as_text=True)
    assert only_endpoint(api)["url"] == receiver.url()

    other = receiver.url("/other")
    saved = admin.submit(page, page, {"url": other, "events": ["recipient.erased"], "description": "Only erasures"})
    assert saved.status_code == 303
    assert only_endpoint(api) | {"updated_at": None} == endpoint | {
        "url": other, "events": ["recipient.erased"], "description": "Only erasures", "updated_at": None,
    }  # fmt: skip
    assert "Endpoint saved." in admin.text(page)


def test_disable_and_enable_and_enabling_clears_the_failure_record(app, console, api, receiver):
    receiver.answer = lambda request: (410, {})
    admin = console("admin")
    create(admin, receiver.url())
    endpoint_id = only_endpoint(api)["id"]
    page = f"{HOOKS}/{endpoint_id}"
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    gone = only_endpoint(api)
    assert gone["enabled"] is False and "410" in gone["disabled_reason"] and gone["failing_since"]
    listing = text_of(admin.text(HOOKS))
    assert "disabled" in listing and gone["disabled_reason"] in listing

    receiver.answer = lambda request: (204, {})
    assert admin.submit(page, page + "/enable").status_code == 303
    enabled = only_endpoint(api)
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["failing_since"]) == (True, None, None)
    assert "Endpoint enabled" in admin.text(page)

    assert admin.submit(page, page + "/disable").status_code == 303
    disabled = only_endpoint(api)
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "disabled by an administrator"
    assert "disabled by an administrator" in admin.text(page) and "Enable the endpoint" in admin.text(page)
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app)
    assert len(receiver.received) == 1  # nothing more while disabled


def test_rotate_shows_a_new_secret_once_and_both_sign_for_a_day(app, console, api, receiver):
    admin = console("admin")
    first = shown_secret(create(admin, receiver.url()))
    page = f"{HOOKS}/{only_endpoint(api)['id']}"
    rotated = admin.submit(page, page + "/rotate")
    assert rotated.status_code == 200
    second = shown_secret(rotated)
    assert second != first
    assert "keeps signing beside it for 24 hours more" in rotated.get_data(as_text=True)
    after = admin.text(page)
    assert second not in after and first not in after and "still signs until" in after

    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    (request,) = receiver.received
    Webhook(second).verify(request.body, request.headers)
    Webhook(first).verify(request.body, request.headers)


def test_delete_needs_the_box_ticked(console, api, receiver):
    admin = console("admin")
    create(admin, receiver.url())
    page = f"{HOOKS}/{only_endpoint(api)['id']}"
    unconfirmed = admin.submit(page, page + "/delete")
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.get_data(as_text=True)
    assert len(api.get("/webhooks").get_json()["webhooks"]) == 1

    deleted = admin.submit(page, page + "/delete", {"confirm": True})
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith(HOOKS)
    assert api.get("/webhooks").get_json()["webhooks"] == []
    assert f"Endpoint {receiver.url()} deleted" in admin.text(HOOKS)
    assert admin.get(page).status_code == 404


# --- attempts and replay --------------------------------------------------------------------------------
def test_the_attempts_table_shows_a_failing_receivers_status_and_error(app, console, api, receiver):
    receiver.answer = lambda request: (500, {}) if request.json["data"]["recipient_id"] == "cust-1" else (204, {})
    admin = console("admin")
    create(admin, receiver.url())
    page = f"{HOOKS}/{only_endpoint(api)['id']}"
    assert "No attempts yet." in admin.text(page)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.put("/recipients/cust-2", {"email": "bob@example.com"})
    api.post("/recipients/cust-2/deactivate", {})
    deliver(app)

    html = admin.text(page)
    rows = attempt_rows(html)
    assert len(rows) == 3 and "1 of the latest 3 attempts failed." in text_of(html)
    (failure,) = [row for row in rows if " failed " in row]
    assert "recipient.created" in failure and " 500 " in failure and "HTTP 500" in failure and "pending" in failure
    assert re.search(r"evt_\d+", failure)  # the webhook-id
    assert html.count('class="failed"') == 1 and html.count('class="ok"') == 2
    assert sum(" ok " in row and "delivered" in row and " 204 " in row for row in rows) == 2


def test_replay_queues_the_events_again_with_their_webhook_ids(app, console, api, receiver):
    admin = console("admin")
    create(admin, receiver.url())
    page = f"{HOOKS}/{only_endpoint(api)['id']}"
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app)
    first = [request.headers["webhook-id"] for request in receiver.received]
    assert len(first) == 2

    replayed = admin.submit(page, page + "/replay", {"after": "0"})
    assert replayed.status_code == 303
    assert "2 messages queued again" in admin.text(page)
    deliver(app)
    assert [request.headers["webhook-id"] for request in receiver.received] == first + first

    last_event = api.get("/events?after=0&limit=1000").get_json()["events"][-1]["id"]
    assert admin.submit(page, page + "/replay", {"after": str(last_event)}).status_code == 303
    assert "nothing was queued" in admin.text(page)
    for bad in ("-1", "abc", "", str(2**64)):
        refused = admin.submit(page, page + "/replay", {"after": bad})
        assert refused.status_code == 422, bad
        assert re.search(r'id="replay-after-error">[^<]+</p>', refused.get_data(as_text=True)), bad
    deliver(app)
    assert len(receiver.received) == 4


# --- who may, and ids that are not there -----------------------------------------------------------------
def endpoint_requests(endpoint_id: int, url: str) -> list[tuple[str, str, list | None]]:
    page = f"{HOOKS}/{endpoint_id}"
    return [
        ("GET", HOOKS, None),
        ("POST", HOOKS, [("url", url), ("events", "*")]),
        ("GET", page, None),
        ("POST", page, [("url", url + "x"), ("events", "*")]),
        ("POST", page + "/disable", None),
        ("POST", page + "/enable", None),
        ("POST", page + "/rotate", None),
        ("POST", page + "/replay", [("after", "0")]),
        ("POST", page + "/delete", [("confirm", "y")]),
    ]


def test_every_webhook_route_is_covered_here(app):
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(HOOKS)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    covered = {(method, re.sub(r"/1(?=/|$)", "/<int:endpoint_id>", path)) for method, path, _ in endpoint_requests(1, "")}
    assert routes == covered
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(HOOKS):
            assert app.view_functions[rule.endpoint].required_permission == "admin", rule.rule


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_viewers_and_agents_get_403_on_every_page_and_post_and_change_nothing(app, console, api, receiver, role):
    endpoint = api.post("/webhooks", {"url": receiver.url(), "events": ["*"]}).get_json()
    before = api.get("/webhooks").get_json()
    session = console(role)
    assert "/console/admin/webhooks" not in session.text("/console/")  # no link to pages they cannot use
    for method, path, data in endpoint_requests(endpoint["id"], receiver.url()):
        response = session.get(path) if method == "GET" else session.post(path, data)
        assert response.status_code == 403, (role, method, path)
        assert "whsec_" not in response.get_data(as_text=True)
    assert api.get("/webhooks").get_json() == before
    with app.app_context():
        stored = db.session.get(WebhookEndpoint, endpoint["id"])
        assert stored is not None and stored.previous_secrets is None  # never rotated
        actions = db.session.execute(select(AdminEvent.action).where(AdminEvent.action.like("webhook.%"))).scalars().all()
        assert actions == ["webhook.created"]  # the API's, nothing from the console


def test_signed_out_visitors_are_sent_to_sign_in(anonymous, api, receiver):
    endpoint = api.post("/webhooks", {"url": receiver.url(), "events": ["*"]}).get_json()
    for method, path, data in endpoint_requests(endpoint["id"], receiver.url()):
        response = anonymous.get(path) if method == "GET" else anonymous.post(path, data, csrf=False)
        assert response.status_code in (302, 400), (method, path)  # to the sign-in page, or a POST with no token
    assert len(api.get("/webhooks").get_json()["webhooks"]) == 1


@pytest.mark.parametrize("endpoint_id", ["999999", "abc", "0", "-1", str(2**31), "99999999999999999999"])
def test_an_unknown_endpoint_is_a_404_page_on_every_route(console, endpoint_id, receiver):
    admin = console("admin")
    for method, path, data in endpoint_requests(1, receiver.url())[2:]:
        path = path.replace("/1", "/" + endpoint_id, 1)
        response = admin.get(path) if method == "GET" else admin.post(path, data)
        assert response.status_code == 404, (method, path)
        if endpoint_id.isdigit():  # routed to the console: its own page, with the service's words
            assert "No such webhook endpoint." in response.get_data(as_text=True), (method, path)


# --- in a real browser, checked by axe ------------------------------------------------------------------
@requires_browser
@pytest.mark.slow
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["wide", "phone"])
def test_webhook_pages_have_no_serious_accessibility_violations(app, api, make_staff, receiver, viewport):
    receiver.answer = lambda request: (500, {})
    api.post("/webhooks", {"url": receiver.url("/" + "long-path-" * 12), "events": ["recipient.created"], "description": "Old"})
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    make_staff("admin@example.com", "admin")
    with serve(app) as site, browser_page(viewport=viewport) as page:

        def check(heading: str) -> None:
            assert page.get_by_role("heading", level=1).inner_text().startswith(heading)
            assert serious_violations(page) == [], page.url
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], page.url

        sign_in(page, site, "admin@example.com")
        submit(page, page.get_by_role("link", name="Webhooks"))
        check("Webhooks")
        page.get_by_label("URL").fill("https://10.1.2.3/hook")
        submit(page, page.get_by_role("button", name="Create the endpoint"))
        assert "10.1.2.3 is" in page.get_by_text("10.1.2.3 is").inner_text()  # the service's words, at the field
        check("Webhooks")
        page.get_by_label("URL").fill(receiver.url())
        page.get_by_label("Description (optional)").fill("CRM")
        submit(page, page.get_by_role("button", name="Create the endpoint"))
        assert page.locator("#new-secret").inner_text().startswith("whsec_")
        check("Webhook endpoint")

        page.goto(site + HOOKS)
        submit(page, page.get_by_role("link", name=receiver.url("/" + "long-path-" * 12)))
        assert "1 of the latest 1 attempts failed." in page.inner_text("main")
        check("Webhook endpoint")
        submit(page, page.get_by_role("button", name="Delete the endpoint"))  # the box not ticked: refused, said why
        assert page.get_by_text("Tick the box to confirm").is_visible()
        check("Webhook endpoint")
