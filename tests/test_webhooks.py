"""Outbound webhooks end to end (SPEC §12, §13): a real receiver on loopback, the real worker, signatures
checked with the `standardwebhooks` package."""

from __future__ import annotations

import importlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import BASE_SETTINGS
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text
from standardwebhooks.webhooks import Webhook
from test_operations import empty_database  # noqa: F401  (a fixture: a database of its own to migrate)
from test_sms import text as send_text
from webhook_receiver import Received, Receiver
from worker_thread import worker_running

from prefs import create_app
from prefs.cli.worker import Worker
from prefs.db.transactions import unit_of_work
from prefs.extensions import db
from prefs.models import ConsentEvent, OutboxMessage, WebhookEndpoint, utcnow
from prefs.runtime import runtime
from prefs.services.events import Actor, ChangeContext
from prefs.services.recipients import upsert_recipient
from prefs.services.webhook_endpoints import rotate_secret

EVIDENCE = {"collected_at": "2026-11-01T10:00:00Z", "source": "signup form"}


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def add_endpoint(api, receiver: Receiver, events=("*",)) -> dict:
    response = api.post("/webhooks", {"url": receiver.url(), "events": list(events)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class Clock:
    """The worker's clock, stepped by the test instead of sleeping through retry delays."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def deliver(app, clock=None) -> int:
    """One `worker --once` pass."""
    with app.app_context():
        worker = Worker(runtime(), seed=1, clock=clock or utcnow)
        try:
            return worker.drain()
        finally:
            worker.close()


def verified(request: Received, secret: str) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_every_event_type_arrives_signed_and_an_erasure_leaves_no_personal_data(api, client, runner, newsletter, receiver):
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com", "phone": "+14155550123"})  # recipient.created
    api.put("/recipients/cust-1", {"email": "ann.b@example.com"})  # recipient.updated
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]})
    api.post("/recipients/cust-1/deactivate", {})
    api.post("/recipients/cust-1/reactivate", {})
    send_text(client, "STOP", sender="+14155550123")  # sms.stopped (and the number's suppression.added)
    send_text(client, "START", sender="+14155550123")  # sms.started, suppression.removed
    api.delete("/recipients/cust-1")  # recipient.erased, suppression.added for the address
    api.put("/recipients/cust-2", {"email": "ann.b@example.com"})
    lifted = api.patch(
        "/recipients/cust-2/preferences",
        {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}], "evidence": EVIDENCE},
    )
    assert lifted.status_code == 200, lifted.get_json()  # suppression.removed (the person's own opt-in)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output

    assert set(receiver.types()) >= {
        "recipient.created", "recipient.updated", "preference.updated", "recipient.deactivated", "recipient.reactivated",
        "sms.stopped", "sms.started", "recipient.erased", "suppression.added", "suppression.removed",
    }  # fmt: skip
    for request in receiver.received:
        message = verified(request, endpoint["secret"])
        assert message["type"] == request.json["type"] and message["timestamp"] and "data" in message
        # Sent after the erasure: nothing in any message names the person (events are scrubbed; suppressions
        # travel as keyed hashes).
        for personal in (b"ann@example.com", b"ann.b@example.com", b"4155550123"):
            assert personal not in request.body or request.json["data"].get("recipient_id") == "cust-2"
    erased = next(r.json for r in receiver.received if r.json["type"] == "recipient.erased")
    assert erased["data"]["recipient_id"] == "cust-1" and erased["data"]["kind"] == "erased"
    # The data of an event is the event as the change feed shows it.
    feed = {event["id"]: event for event in api.get("/events?after=0&limit=1000").get_json()["events"]}
    for request in receiver.received:
        data = request.json["data"]
        if "id" in data and "kind" in data:
            assert data == feed[data["id"]]


def test_each_message_has_one_webhook_id_and_a_repeat_run_sends_nothing(app, api, newsletter, receiver):
    add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.post("/recipients/cust-1/deactivate", {})
    assert deliver(app) > 0
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert len(ids) == len(set(ids)) == 2  # created, deactivated
    assert deliver(app) == 0 and len(receiver.received) == 2


def test_two_messages_that_are_not_events_never_share_a_webhook_id(app, api, client, receiver):
    """Found by this round's review: named after their outbox row, which is deleted once fanned out and whose id
    SQLite gives out again, two suppressions went out as msg_1 and msg_1: the receiver drops the second."""
    add_endpoint(api, receiver, events=["suppression.added"])
    send_text(client, "STOP", sender="+14155550188")
    deliver(app)
    send_text(client, "STOP", sender="+14155550177")
    deliver(app)
    first, second = receiver.received
    assert first.json["data"]["hash"] != second.json["data"]["hash"]  # two messages
    assert first.headers["webhook-id"] != second.headers["webhook-id"]


def test_a_rotated_secret_and_the_old_one_both_verify_for_24_hours(app, api, receiver):
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    new_secret = api.post(f"/webhooks/{endpoint['id']}/rotate").get_json()["secret"]
    assert new_secret != endpoint["secret"] and new_secret.startswith("whsec_")
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app)
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verified(request, new_secret)
    verified(request, endpoint["secret"])
    # A day later the old secret no longer signs.
    clock = Clock()
    clock.advance(24 * 3600 + 1)
    api.post("/recipients/cust-1/reactivate", {})
    deliver(app, clock)
    later = receiver.received[-1]
    signed_at = datetime.fromtimestamp(int(later.headers["webhook-timestamp"]), UTC)  # a day ahead: verify() would refuse it
    expected = Webhook(new_secret).sign(later.headers["webhook-id"], signed_at, later.body.decode())
    assert later.headers["webhook-signature"] == expected


def test_a_second_rotation_within_24_hours_leaves_the_first_old_secret_its_24_hours(app, api, receiver):
    """Found in review (session 9): one secret was kept beside the current one, so rotating again within a day
    cut the first old secret's 24 h short and receivers still holding it refused every message."""
    endpoint = add_endpoint(api, receiver)
    two_hours_ago = utcnow() - timedelta(hours=2)
    with app.app_context():
        middle = unit_of_work(lambda: rotate_secret(endpoint["id"], "test", None, now=two_hours_ago))
        newest = unit_of_work(lambda: rotate_secret(endpoint["id"], "test", None, now=two_hours_ago + timedelta(hours=1)))
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    (request,) = receiver.received
    for secret in (newest, middle, endpoint["secret"]):  # each rotated out within 24 h still signs
        verified(request, secret)
    assert len(request.headers["webhook-signature"].split(" ")) == 3
    # A day after the first rotation the first secret no longer signs; the second still does, an hour more.
    clock = Clock()
    clock.now = two_hours_ago + timedelta(hours=24, seconds=1)
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app, clock)
    later = receiver.received[-1]
    signed_at = datetime.fromtimestamp(int(later.headers["webhook-timestamp"]), UTC)
    expected = [Webhook(key).sign(later.headers["webhook-id"], signed_at, later.body.decode()) for key in (newest, middle)]
    assert later.headers["webhook-signature"] == " ".join(expected)


def test_migration_0018_keeps_the_secret_rotated_out_both_ways(empty_database):  # noqa: F811  (the fixture)
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": empty_database})
    until = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    try:
        with app.app_context():
            upgrade(revision="0017")
            with db.engine.begin() as connection:
                connection.execute(
                    text("INSERT INTO webhook_endpoints (url, description, events, enabled, secret, previous_secret, "
                         "previous_secret_until, created_at, updated_at) VALUES ('https://a.example/h', '', '[\"*\"]', "
                         ":yes, 'whsec_new', 'whsec_old', :until, :until, :until)"),
                    {"yes": True, "until": until},
                )  # fmt: skip
            upgrade(revision="0018")
            stored = db.session.execute(select(WebhookEndpoint)).scalar_one()
            assert stored.previous_secrets == [{"secret": "whsec_old", "until": until.isoformat()}]
            db.session.remove()
            downgrade(revision="0017")
            with db.engine.connect() as connection:
                row = connection.execute(text("SELECT previous_secret, previous_secret_until FROM webhook_endpoints")).one()
            assert row[0] == "whsec_old" and str(row[1]).startswith("2026-12-01 12:00:00")
            upgrade()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_event_filter_delivers_only_the_types_it_names(app, api, person, receiver):
    add_endpoint(api, receiver, events=["recipient.deactivated"])
    api.post("/recipients/cust-1/deactivate", {})
    api.post("/recipients/cust-1/reactivate", {})
    deliver(app)
    assert receiver.types() == ["recipient.deactivated"]


def test_an_endpoint_gets_only_what_happens_after_it_is_added(app, api, person, receiver):
    api.post("/recipients/cust-1/deactivate", {})
    add_endpoint(api, receiver)
    api.post("/recipients/cust-1/reactivate", {})
    deliver(app)
    assert receiver.types() == ["recipient.reactivated"]


@pytest.fixture
def settings_override():
    return {"PREFS_RETRY_SCHEDULE": "5,300,1800"}


def test_a_failing_receiver_gets_one_more_try_after_each_delay_with_the_same_id(app, api, receiver):
    answers = iter([500, 500, 500, 200])
    receiver.answer = lambda request: (next(answers, 204), {})
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.post("/recipients/cust-1/deactivate", {})
    clock = Clock()
    deliver(app, clock)
    # created fails; deactivated waits behind it (one recipient's messages arrive in commit order)
    assert len(receiver.received) == 1
    for delay, tries in ((5, 2), (300, 3), (1800, 4)):
        clock.advance(delay * 0.75)  # before the delay (less its 20% jitter): nothing
        deliver(app, clock)
        assert len(receiver.received) == tries - 1
        clock.advance(delay * 0.5)  # past it (plus jitter): exactly one more
        deliver(app, clock)
        assert len(receiver.received) >= tries
    created = [r for r in receiver.received if r.json["type"] == "recipient.created"]
    assert len(created) == 4 and len({r.headers["webhook-id"] for r in created}) == 1
    assert receiver.types()[-1] == "recipient.deactivated"  # released once the first one got through
    attempts = api.get(f"/webhooks/{endpoint['id']}/deliveries").get_json()["deliveries"]
    assert [a["status_code"] for a in reversed(attempts)] == [500, 500, 500, 200, 204]


def test_a_message_fails_after_its_last_try_and_no_longer_holds_back_the_next(app, api, receiver):
    receiver.answer = lambda request: (503, {}) if request.json["type"] == "recipient.created" else (204, {})
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.post("/recipients/cust-1/deactivate", {})
    clock = Clock()
    for _ in range(4):  # the first try and the schedule's three retries
        deliver(app, clock)
        clock.advance(1800 * 1.3)
    assert receiver.types() == ["recipient.created"] * 4 + ["recipient.deactivated"]
    attempts = api.get(f"/webhooks/{endpoint['id']}/deliveries").get_json()["deliveries"]
    assert attempts[1]["delivery_status"] == "failed" and attempts[0]["delivery_status"] == "delivered"


def test_one_recipients_failure_does_not_hold_back_another_recipient(app, api, receiver):
    receiver.answer = lambda request: (500, {}) if request.json["data"]["recipient_id"] == "slow" else (204, {})
    add_endpoint(api, receiver)
    api.put("/recipients/slow", {"email": "s@example.com"})
    api.put("/recipients/fast", {"email": "f@example.com"})
    api.post("/recipients/slow/deactivate", {})
    api.post("/recipients/fast/deactivate", {})
    deliver(app)
    got = [(r.json["data"]["recipient_id"], r.json["type"]) for r in receiver.received]
    assert got.count(("slow", "recipient.created")) == 1 and ("slow", "recipient.deactivated") not in got
    assert ("fast", "recipient.created") in got and ("fast", "recipient.deactivated") in got


def test_a_redirect_is_a_failure_and_is_not_followed(app, api, receiver):
    target = Receiver().start()
    try:
        receiver.answer = lambda request: (302, {"location": target.url()})
        endpoint = add_endpoint(api, receiver)
        api.put("/recipients/cust-1", {"email": "ann@example.com"})
        deliver(app)
        assert target.received == []
        attempt = api.get(f"/webhooks/{endpoint['id']}/deliveries").get_json()["deliveries"][0]
        assert attempt["status_code"] == 302 and attempt["error"] and attempt["delivery_status"] == "pending"
    finally:
        target.stop()


def test_410_gone_disables_the_endpoint_at_once(app, api, receiver):
    receiver.answer = lambda request: (410, {})
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    deliver(app)
    shown = api.get(f"/webhooks/{endpoint['id']}").get_json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app)
    assert len(receiver.received) == 1  # a disabled endpoint gets nothing more
    assert api.patch(f"/webhooks/{endpoint['id']}", {"enabled": True}).get_json()["disabled_reason"] is None


def test_410_gone_disables_the_endpoint_even_when_another_message_of_the_batch_got_through(app, api, receiver):
    """Found in review (session 9): a 2xx in the same batch cleared the failure clock, and the 410's disabling
    waited for that clock, so the endpoint stayed enabled."""
    receiver.answer = lambda request: (410, {}) if request.json["data"]["recipient_id"] == "gone" else (204, {})
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/ok", {"email": "ok@example.com"})
    api.put("/recipients/gone", {"email": "gone@example.com"})
    deliver(app)
    assert sorted(request.json["data"]["recipient_id"] for request in receiver.received) == ["gone", "ok"]  # one batch
    shown = api.get(f"/webhooks/{endpoint['id']}").get_json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"], shown


def test_an_endpoint_deleted_while_its_delivery_is_in_flight_leaves_the_worker_running(app, api, receiver):
    """Found in review (session 9): on SQLite the attempt of a delivery deleted meanwhile broke its foreign key,
    and on PostgreSQL the deletion and the attempt deadlocked; either way the worker stopped. Now the deletion
    waits for the batch in flight (PostgreSQL) or the attempt of a delivery that is gone is not kept (SQLite)."""
    arrived, release = threading.Event(), threading.Event()

    def answer(request):
        arrived.set()
        release.wait(10)
        return 204, {}

    receiver.answer = answer
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    with worker_running(app):
        assert arrived.wait(10)
        deleted: list[int] = []
        deleting = threading.Thread(target=lambda: deleted.append(api.delete(f"/webhooks/{endpoint['id']}").status_code))
        deleting.start()
        deleting.join(1.0)  # SQLite: done, the delivery gone under the worker; PostgreSQL: waiting for the batch
        release.set()
        deleting.join(10)
        assert deleted == [204]
        receiver.answer = lambda request: (204, {})
        later = add_endpoint(api, receiver)
        api.put("/recipients/cust-2", {"email": "bo@example.com"})
        for _ in range(100):  # the worker carries on: the next change reaches the endpoint added since
            if any(request.json["data"]["recipient_id"] == "cust-2" for request in receiver.received):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the worker delivered nothing after the deletion")
    assert api.get(f"/webhooks/{later['id']}").get_json()["enabled"] is True


def test_an_endpoint_failing_for_five_days_is_disabled(app, api, receiver):
    receiver.answer = lambda request: (500, {})
    endpoint = add_endpoint(api, receiver)
    clock = Clock()
    api.put("/recipients/a", {"email": "a@example.com"})
    deliver(app, clock)
    clock.advance(4 * 86400)
    api.put("/recipients/b", {"email": "b@example.com"})  # new messages keep failing too
    deliver(app, clock)
    assert api.get(f"/webhooks/{endpoint['id']}").get_json()["enabled"] is True
    clock.advance(86400 + 60)
    api.put("/recipients/c", {"email": "c@example.com"})
    deliver(app, clock)
    shown = api.get(f"/webhooks/{endpoint['id']}").get_json()
    assert shown["enabled"] is False and shown["failing_since"]


def test_replay_sends_matching_events_again_with_their_first_webhook_id(app, api, receiver):
    endpoint = add_endpoint(api, receiver)
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    api.post("/recipients/cust-1/deactivate", {})
    deliver(app)
    first = [r.headers["webhook-id"] for r in receiver.received]
    replayed = api.post(f"/webhooks/{endpoint['id']}/replay", {"after": 0})
    assert replayed.status_code == 202 and replayed.get_json()["queued"] == 2
    deliver(app)
    assert [r.headers["webhook-id"] for r in receiver.received] == first + first


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.2/hook",  # loopback (only 127.0.0.1 is allowed here)
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://example.com/hook",  # not https
        "ftp://example.com/hook",
    ],
)
def test_addresses_a_webhook_may_not_reach_are_refused_on_save(api, url):
    response = api.post("/webhooks", {"url": url})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid"
    assert api.get("/webhooks").get_json()["webhooks"] == []


def test_loopback_is_refused_on_save_unless_allowed(app, database_url, receiver):
    from conftest import BASE_SETTINGS, ApiClient

    from prefs import create_app

    strict = create_app({**BASE_SETTINGS, "PREFS_WEBHOOK_ALLOW_HOSTS": "", "PREFS_DATABASE_URL": database_url})
    try:
        made = strict.test_cli_runner().invoke(args=["keys", "create", "strict", "--scope", "admin"])
        api = ApiClient(strict.test_client(), made.output.strip().splitlines()[-1])
        for url in (receiver.url(), "https://127.0.0.1/hook", "https://localhost:8443/hook"):
            response = api.post("/webhooks", {"url": url})
            assert response.status_code == 422, (url, response.get_json())
            assert "url" in response.get_json()["error"]["details"]
        assert api.get("/webhooks").get_json()["webhooks"] == []
    finally:
        with strict.app_context():
            db.engine.dispose()
    assert receiver.received == []


def test_an_address_refused_on_connect_gets_no_request(app, api, database_url, receiver):
    endpoint = add_endpoint(api, receiver)  # saved while 127.0.0.1 was allowed
    api.put("/recipients/cust-1", {"email": "ann@example.com"})
    from conftest import BASE_SETTINGS

    from prefs import create_app

    strict = create_app({**BASE_SETTINGS, "PREFS_WEBHOOK_ALLOW_HOSTS": "", "PREFS_DATABASE_URL": database_url})
    deliver(strict)
    with strict.app_context():
        db.engine.dispose()
    assert receiver.received == []
    attempt = api.get(f"/webhooks/{endpoint['id']}/deliveries").get_json()["deliveries"][0]
    assert attempt["status_code"] is None and "refused" in attempt["error"]


def test_a_rolled_back_change_leaves_no_message_and_a_committed_one_does(app):
    context = ChangeContext(Actor("system", "test", "test"))

    def count(model) -> int:
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()

    with app.app_context():
        deps = runtime()

        def fail_before_commit():
            upsert_recipient(deps, "rolled-back", {"email": "r@example.com"}, context)
            assert count(OutboxMessage) == 1  # written, in the change's own transaction
            raise RuntimeError("the process dies between the change and the commit")

        with pytest.raises(RuntimeError):
            unit_of_work(fail_before_commit)
        assert (count(OutboxMessage), count(ConsentEvent)) == (0, 0)
        unit_of_work(lambda: upsert_recipient(deps, "kept", {"email": "k@example.com"}, context))
        assert (count(OutboxMessage), count(ConsentEvent)) == (1, 1)


def test_an_import_leaves_one_message_per_changed_row(app, api, runner, receiver, tmp_path):
    add_endpoint(api, receiver)
    path = tmp_path / "people.csv"
    path.write_text("id,email\ni1,i1@example.com\ni2,i2@example.com\n")
    assert runner.invoke(args=["recipients", "import", str(path), "--processes", "1"]).exit_code == 0
    path.write_text("id,email\ni1,i1@example.com\ni2,other@example.com\n")
    assert runner.invoke(args=["recipients", "import", str(path), "--processes", "1"]).exit_code == 0
    deliver(app)
    got = sorted((r.json["data"]["recipient_id"], r.json["type"]) for r in receiver.received)
    assert got == [("i1", "recipient.created"), ("i2", "recipient.created"), ("i2", "recipient.updated")]


def test_readyz_answers_503_until_the_schema_is_at_the_latest_migration(app, client):
    assert client.get("/readyz").status_code == 200
    with app.app_context():
        latest = db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar_one()
        db.session.execute(db.text("UPDATE alembic_version SET version_num = '0004'"))
        db.session.commit()
        try:
            response = client.get("/readyz")
            assert response.status_code == 503 and response.get_json()["latest_schema"] == latest
        finally:
            db.session.execute(db.text("UPDATE alembic_version SET version_num = :v"), {"v": latest})
            db.session.commit()
    assert client.get("/healthz").status_code == 200


def test_finished_deliveries_are_forgotten_after_30_days_and_pending_ones_never(app, api, receiver):
    from prefs.models import Delivery, DeliveryAttempt
    from prefs.services.delivery import prune

    answers = {"ok": (204, {}), "down": (500, {})}
    receiver.answer = lambda request: answers["down" if request.json["data"]["recipient_id"] == "b" else "ok"]
    add_endpoint(api, receiver)
    api.put("/recipients/a", {"email": "a@example.com"})
    api.put("/recipients/b", {"email": "b@example.com"})
    deliver(app)
    with app.app_context():
        unit_of_work(lambda: prune(utcnow() + timedelta(days=29)))
        assert db.session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 2
        unit_of_work(lambda: prune(utcnow() + timedelta(days=31)))
        statuses = db.session.execute(select(Delivery.status)).scalars().all()
        assert statuses == ["pending"]  # a's delivered message went, with its attempt; b's is still being retried
        assert db.session.execute(select(func.count()).select_from(DeliveryAttempt)).scalar_one() == 1


def test_the_worker_waits_out_a_database_outage_instead_of_stopping(caplog):
    from conftest import BASE_SETTINGS
    from worker_thread import worker_running

    from prefs import create_app

    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1: refused at once
    down = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": unreachable, "PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS": "2"})
    with worker_running(down) as stop:  # it must neither raise nor stop by itself
        for _ in range(100):
            if any("database unavailable" in record.getMessage() for record in caplog.records):
                break
            stop.wait(0.05)
    assert [r for r in caplog.records if "worker: database unavailable" in r.getMessage()]


@pytest.mark.parametrize("path", ["/webhooks/99999999999999999999", "/webhooks/2147483648/deliveries", "/webhooks/0"])
def test_an_id_no_endpoint_can_have_is_not_found(api, path):
    response = api.get(path)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_a_start_from_a_number_nobody_holds_tells_webhooks_the_suppression_went(app, api, client, receiver):
    add_endpoint(api, receiver, events=["suppression.added", "suppression.removed"])
    send_text(client, "STOP", sender="+14155550188")
    send_text(client, "START", sender="+14155550188")
    deliver(app)
    assert receiver.types() == ["suppression.added", "suppression.removed"]
    added, removed = (request.json["data"] for request in receiver.received)
    assert added["hash"] == removed["hash"] and added["source"] == removed["source"] == "sms_stop"
    assert b"4155550188" not in receiver.received[0].body + receiver.received[1].body


def test_a_start_from_the_holder_tells_webhooks_once(app, api, client, receiver):
    api.put("/recipients/texter", {"phone": "+14155550189"})
    add_endpoint(api, receiver)
    send_text(client, "STOP", sender="+14155550189")
    send_text(client, "START", sender="+14155550189")
    deliver(app)
    assert sorted(receiver.types()) == ["sms.started", "sms.stopped", "suppression.added", "suppression.removed"]


def test_a_replay_after_an_erasure_sends_an_imported_update_as_the_type_it_had(app, api, runner, receiver, tmp_path):
    """Found in review (session 9): erasure stripped an imported update's `before` to None, which says
    "created", and a replay re-derives the type from it: the same webhook-id came as another type."""
    from test_import import run_import

    endpoint = add_endpoint(api, receiver)
    assert api.put("/recipients/ann", {"email": "ann@example.com"}).status_code == 201
    result = run_import(runner, tmp_path, [{"id": "ann", "email": "ann.new@example.com"}], ("id", "email"))
    assert "0 created, 1 updated" in result.output, result.output
    deliver(app)
    first = {request.headers["webhook-id"]: request.json["type"] for request in receiver.received}
    assert api.delete("/recipients/ann").status_code == 204
    receiver.received.clear()
    assert api.post(f"/webhooks/{endpoint['id']}/replay", {"after": 0}).status_code == 202
    deliver(app)
    again = {request.headers["webhook-id"]: request.json["type"] for request in receiver.received}
    assert {key: again[key] for key in first} == first  # every message replayed with the type it had


def test_worker_once_during_an_outage_says_so_and_exits_1(caplog):
    """`flask worker --once` (cron) meets the outage in drain(), which does not wait it out: a warning that
    names it, not "an unexpected error" with a traceback (found in review)."""
    from prefs import create_app

    down = create_app(
        {
            **BASE_SETTINGS,
            "PREFS_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none",
            "PREFS_DATABASE_CONNECT_TIMEOUT_SECONDS": "2",
        }
    )
    result = down.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("worker: database unavailable, stopping") for m in messages)
    assert not any("unexpected error" in m for m in messages)


def test_a_worker_stopped_by_a_bug_logs_its_frames_without_the_error_s_data(runner, monkeypatch, caplog):
    """A bug (not an outage) stops the worker. Python's own traceback printed the whole error, whose further lines
    may quote a row, as a database error's DETAIL does (found in review): it is logged scrubbed, and the worker
    exits 1 for its supervisor."""
    worker_module = importlib.import_module("prefs.cli.worker")  # the package's `worker` is the click command

    detail = "DETAIL:  Key (email)=(ann@example.com) already exists."  # not on the raising line: frames quote it

    def a_bug(_self) -> int:
        raise RuntimeError(f"duplicate key value violates unique constraint\n{detail}")

    monkeypatch.setattr(worker_module.Worker, "drain", a_bug)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    stopped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker: stopped by an unexpected error")]
    assert len(stopped) == 1 and "in a_bug" in stopped[0] and "duplicate key value violates unique constraint" in stopped[0]
    assert "ann@example.com" not in result.output + caplog.text
