"""Suppressions out to the mail providers (SPEC §15, outbound), end to end: the change's transaction leaves a
`sync` outbox message, the real worker (a stepped clock, as in test_webhooks.py) pushes it through each
provider's own SDK to a local stand-in of that provider's API (tests/mail_provider_standins.py), and the
receipts, the console and `providers reconcile` say what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import BASE_SETTINGS, ApiClient
from flask_migrate import downgrade, upgrade
from mail_provider_standins import AWS_KEY_ID, AWS_SECRET, StandIn, sync_settings
from provider_signing import PROVIDER_SETTINGS, post_sendgrid, sendgrid_event
from sqlalchemy import inspect, text
from test_operations import empty_database  # noqa: F401  (a fixture: a database of its own to migrate)
from test_webhooks import Clock, deliver

from prefs import create_app
from prefs.config import ConfigError, build_config
from prefs.db.transactions import unit_of_work
from prefs.extensions import db
from prefs.models import utcnow
from prefs.services.delivery import prune

pytest_plugins = ["console_fixtures"]

TARGETS = ("sendgrid", "mailgun", "postmark", "ses")
EVIDENCE = {"collected_at": "2026-11-01T10:00:00Z", "source": "preference center"}


@pytest.fixture
def stand_ins():
    started = {name: StandIn(name).start() for name in TARGETS}
    yield started
    for stand_in in started.values():
        stand_in.stop()


@pytest.fixture
def settings_override(stand_ins, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return {**PROVIDER_SETTINGS, **sync_settings(stand_ins), "PREFS_RETRY_SCHEDULE": "5,300"}


@pytest.fixture
def ann(api, newsletter):
    response = api.put("/recipients/cust-1", {"email": "Ann+news@Example.com"})
    assert response.status_code == 201, response.get_json()
    return "ann+news@example.com"


def stop_email(api, recipient_id: str = "cust-1", subscribed: bool = False, evidence: dict | None = None):
    body: dict = {"changes": [{"channel": "email", "subscribed": subscribed}]}
    if evidence:
        body["evidence"] = evidence
    response = api.patch(f"/recipients/{recipient_id}/preferences", body)
    assert response.status_code == 200, response.get_json()


def receipts(api, recipient_id: str = "cust-1") -> dict:
    response = api.get(f"/recipients/{recipient_id}/sync")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["targets"]


def deliver_all(app) -> None:
    """`worker --once` passes a second apart until nothing more is done (SES takes one push a second)."""
    clock = Clock()
    for _ in range(20):
        if not deliver(app, clock):
            return
        clock.advance(1.0)
    raise AssertionError("the worker never ran out of work")


def changes(stand_ins) -> dict[str, list[tuple[str, str]]]:
    return {name: stand_in.changes() for name, stand_in in stand_ins.items()}


def test_an_unsubscribe_is_pushed_once_to_each_target_and_an_opt_in_removes_it(app, api, ann, stand_ins):
    stop_email(api)
    assert changes(stand_ins) == dict.fromkeys(TARGETS, [])  # nothing leaves before the worker runs
    assert {name: receipt["state"] for name, receipt in receipts(api).items()} == {}  # not fanned out yet either
    deliver(app)
    assert changes(stand_ins) == {name: [("add", ann)] for name in TARGETS}
    assert all(ann in stand_in.listed for stand_in in stand_ins.values())
    assert {name: (r["state"], r["action"], r["attempts"]) for name, r in receipts(api).items()} == {
        name: ("done", "suppress", 1) for name in TARGETS
    }
    # A repeat of the stop changes nothing, so nothing more is pushed; neither does another run of the worker.
    stop_email(api)
    deliver(app)
    assert changes(stand_ins) == {name: [("add", ann)] for name in TARGETS}

    stop_email(api, subscribed=True)  # the person resumes marketing by email
    deliver(app)
    assert changes(stand_ins) == {name: [("add", ann), ("remove", ann)] for name in TARGETS}
    assert not any(stand_in.listed for stand_in in stand_ins.values())
    assert {name: (r["state"], r["action"]) for name, r in receipts(api).items()} == dict.fromkeys(
        TARGETS, ("done", "unsuppress")
    )


@pytest.mark.parametrize("through", ["PUT", "import"])
def test_a_person_who_stopped_takes_the_stop_to_a_new_address(app, api, ann, runner, stand_ins, tmp_path, through):
    """The stop goes with the person, whichever way their address changes (the import's way was found by this
    round's review: it never pushed the new address)."""
    stop_email(api)
    if through == "PUT":
        assert api.put("/recipients/cust-1", {"email": "ann2@example.com"}).status_code == 200
    else:
        listing = tmp_path / "people.csv"
        listing.write_text("id,email\ncust-1,ann2@example.com\n")
        assert runner.invoke(args=["recipients", "import", str(listing), "--processes", "1"]).exit_code == 0
    deliver_all(app)
    assert changes(stand_ins) == {name: [("add", ann), ("add", "ann2@example.com")] for name in TARGETS}


def test_the_requests_are_the_providers_own_api_calls(app, api, ann, stand_ins):
    stop_email(api)
    deliver(app)
    (sendgrid,) = stand_ins["sendgrid"].requests
    assert (sendgrid.method, sendgrid.path, sendgrid.json()) == (
        "POST",
        "/v3/asm/suppressions/global",
        {"recipient_emails": [ann]},
    )
    (mailgun,) = stand_ins["mailgun"].requests
    assert (mailgun.method, mailgun.path) == ("POST", "/v3/mg.example.com/unsubscribes")
    (postmark,) = stand_ins["postmark"].requests
    assert postmark.path == "/message-streams/broadcast/suppressions" and postmark.json() == {
        "Suppressions": [{"EmailAddress": ann}]
    }
    (ses,) = stand_ins["ses"].requests
    assert (ses.method, ses.path, ses.json()) == (
        "PUT",
        "/v2/email/suppression/addresses",
        {"EmailAddress": ann, "Reason": "COMPLAINT"},
    )
    assert ses.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")


def test_an_all_marketing_stop_an_erasure_and_an_imported_suppression_are_pushed(app, api, ann, runner, stand_ins, tmp_path):
    api.put("/recipients/cust-2", {"email": "bob@example.com"})
    response = api.patch("/recipients/cust-2/preferences", {"changes": [{"subscribed": False}]})
    assert response.status_code == 200
    assert api.delete("/recipients/cust-1").status_code == 204
    listing = tmp_path / "suppress.txt"
    listing.write_text("Carol@Example.com\n+14155550199\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    deliver_all(app)
    for name in TARGETS:
        assert sorted(address for _, address in stand_ins[name].changes()) == sorted(
            [ann, "bob@example.com", "carol@example.com"]
        )
    # The erased person's receipts are not readable any more (their id is a tombstone); the address is not kept.
    assert api.get("/recipients/cust-1/sync").status_code == 404
    with app.app_context():
        kept = db.session.execute(text("SELECT count(*) FROM provider_syncs WHERE email IS NOT NULL")).scalar_one()
    assert kept == 0


def test_a_suppressed_address_stays_pushed_until_an_opt_in_with_evidence_lifts_it(app, api, ann, runner, stand_ins, tmp_path):
    listing = tmp_path / "suppress.txt"
    listing.write_text(ann + "\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    stop_email(api)  # stopped too: the address is pushed already, nothing more to push
    stop_email(api, subscribed=True)  # resuming without evidence leaves the suppression: it stays listed
    deliver(app)
    assert changes(stand_ins) == {name: [("add", ann)] for name in TARGETS}
    stop_email(api, subscribed=True, evidence=EVIDENCE)  # the person's opt-in with evidence lifts the suppression
    deliver(app)
    assert changes(stand_ins) == {name: [("add", ann), ("remove", ann)] for name in TARGETS}


def test_a_suppression_staff_lift_at_the_console_leaves_the_providers_lists_too(app, api, console, runner, stand_ins, tmp_path):
    """Found by this round's review: the console's lift (an address nobody holds) told the webhooks, never the
    mail providers, which kept blocking the address; an opt-in's lift takes it off their lists."""
    listing = tmp_path / "suppress.txt"
    listing.write_text("gone@example.com\n")
    assert runner.invoke(args=["suppressions", "import", str(listing)]).exit_code == 0
    deliver_all(app)
    assert changes(stand_ins) == {name: [("add", "gone@example.com")] for name in TARGETS}
    agent = console("agent")
    form = {"collected_at": "2026-01-05T10:30", "source": "phone call", "reason": "asked to hear from us again"}
    assert agent.submit_on(agent.search("gone@example.com"), "/console/suppressions/lift", form).status_code == 303
    deliver_all(app)
    assert changes(stand_ins) == {name: [("add", "gone@example.com"), ("remove", "gone@example.com")] for name in TARGETS}


def test_a_provider_reported_unsubscribe_is_not_pushed_back_to_that_provider(app, api, client, ann, stand_ins):
    assert post_sendgrid(client, [sendgrid_event("unsubscribe", ann)]).get_json()["outcomes"] == {"applied": 1}
    deliver(app)
    assert changes(stand_ins) == {"sendgrid": [], **{name: [("add", ann)] for name in TARGETS[1:]}}
    sendgrid = receipts(api)["sendgrid"]
    assert (sendgrid["state"], sendgrid["attempts"], sendgrid["reported_here"]) == ("done", 0, True)
    # Nor is its later removal: what SendGrid recorded itself is never undone by prefs.
    stop_email(api, subscribed=True)
    deliver(app)
    assert changes(stand_ins)["sendgrid"] == []
    assert changes(stand_ins)["mailgun"] == [("add", ann), ("remove", ann)]


def test_a_failing_target_is_retried_and_its_receipt_shows_failed_then_done(app, api, ann, stand_ins):
    stand_ins["mailgun"].fail_next = 1
    clock = Clock()
    stop_email(api)
    deliver(app, clock)
    mailgun = receipts(api)["mailgun"]
    assert (mailgun["state"], mailgun["attempts"], mailgun["last_error"]) == ("failed", 1, "HTTP 503")
    assert mailgun["next_attempt_at"] is not None
    assert receipts(api)["sendgrid"]["state"] == "done"  # the others are not held back
    clock.advance(5 * 0.75)  # before the retry delay (less its jitter): nothing
    deliver(app, clock)
    assert len(stand_ins["mailgun"].requests) == 1
    clock.advance(5 * 0.5)
    deliver(app, clock)
    mailgun = receipts(api)["mailgun"]
    assert (mailgun["state"], mailgun["attempts"], mailgun["last_error"], mailgun["next_attempt_at"]) == ("done", 2, None, None)
    assert ann in stand_ins["mailgun"].listed


def test_a_push_fails_for_good_after_the_last_retry(app, api, ann, stand_ins):
    stand_ins["ses"].fail_next = 3
    clock = Clock()
    stop_email(api)
    deliver(app, clock)
    for delay in (5, 300):  # PREFS_RETRY_SCHEDULE: two retries
        clock.advance(delay * 1.3)
        deliver(app, clock)
    ses = receipts(api)["ses"]
    assert (ses["state"], ses["action"], ses["attempts"], ses["next_attempt_at"]) == ("failed", "suppress", 3, None)
    assert ses["last_error"].startswith("HTTP 503")
    clock.advance(86400)
    deliver(app, clock)
    assert len(stand_ins["ses"].requests) == 3  # no more tries


def test_an_addresss_later_push_waits_behind_its_failing_one(app, api, ann, stand_ins):
    stand_ins["mailgun"].fail_next = 1
    clock = Clock()
    stop_email(api)
    deliver(app, clock)
    stop_email(api, subscribed=True)
    clock.advance(1.1)
    deliver(app, clock)
    assert stand_ins["mailgun"].changes() == [("add", ann)]  # the removal has not overtaken the failed push
    assert stand_ins["sendgrid"].changes() == [("add", ann), ("remove", ann)]  # nor held back the others
    for _ in range(3):
        clock.advance(5 * 1.3)
        deliver(app, clock)
    assert stand_ins["mailgun"].changes() == [("add", ann), ("add", ann), ("remove", ann)]
    assert receipts(api)["mailgun"]["state"] == "done" and not stand_ins["mailgun"].listed


def test_ses_gets_about_one_request_a_second(app, api, stand_ins):
    for number in range(3):
        api.put(f"/recipients/cust-{number}", {"email": f"person{number}@example.com"})
        stop_email(api, f"cust-{number}")
    clock = Clock()
    deliver(app, clock)
    assert len(stand_ins["ses"].requests) == 1 and len(stand_ins["sendgrid"].requests) == 3
    clock.advance(1.0)
    deliver(app, clock)
    assert len(stand_ins["ses"].requests) == 2


def test_the_console_shows_each_providers_receipt(app, api, console, ann, client, stand_ins):
    stand_ins["postmark"].fail_next = 1
    assert post_sendgrid(client, [sendgrid_event("unsubscribe", ann)]).status_code == 200
    deliver(app)
    page = console("viewer").get("/console/recipients/cust-1").get_data(as_text=True)
    assert 'id="provider-sync"' in page
    assert "left alone: SendGrid reported this address itself" in page
    assert "failed, tried again" in page and "HTTP 503" in page
    assert page.count(">done<") >= 2


def test_nothing_is_queued_for_the_providers_when_no_address_is_involved(app, api, newsletter, stand_ins):
    api.put("/recipients/cust-9", {"phone": "+14155550123"})
    response = api.patch("/recipients/cust-9/preferences", {"changes": [{"subscribed": False}]})
    assert response.status_code == 200
    deliver(app)
    assert changes(stand_ins) == dict.fromkeys(TARGETS, [])
    assert receipts(api, "cust-9") == {}


def test_without_targets_no_address_is_queued_anywhere(app, database_url, make_key):
    plain = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})  # PREFS_SYNC_TARGETS unset
    api = ApiClient(plain.test_client(), make_key("plain", "write"))
    api.put("/recipients/cust-7", {"email": "gus@example.com"})
    api.patch("/recipients/cust-7/preferences", {"changes": [{"channel": "email", "subscribed": False}]})
    assert api.delete("/recipients/cust-7").status_code == 204
    with plain.app_context():
        queued = db.session.execute(text("SELECT count(*) FROM outbox WHERE kind = 'sync'")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    assert queued == 0


def test_finished_pushes_are_forgotten_after_30_days_and_pending_ones_never(app, api, ann, stand_ins):
    stand_ins["ses"].fail_next = 1
    stop_email(api)
    deliver(app)
    with app.app_context():
        unit_of_work(lambda: prune(utcnow() + timedelta(days=29)))
        assert set(receipts(api)) == set(TARGETS)
        unit_of_work(lambda: prune(utcnow() + timedelta(days=31)))
    assert set(receipts(api)) == {"ses"}  # its push still waits for a retry


# --- reconcile ---------------------------------------------------------------------------------------------
def test_reconcile_finds_and_fixes_a_planted_difference(app, api, client, ann, runner, stand_ins):
    stop_email(api)
    api.put("/recipients/cust-2", {"email": "bob@example.com"})  # may get marketing
    api.put("/recipients/cust-3", {"email": "dora@example.com"})
    assert post_sendgrid(client, [sendgrid_event("unsubscribe", "dora@example.com")]).status_code == 200
    stop_email(api, "cust-3", subscribed=True)  # Dora resumes here; SendGrid's own record of her stays
    deliver(app)
    sendgrid = stand_ins["sendgrid"]
    sendgrid.listed.pop(ann)  # planted: prefs's stop is missing there
    sendgrid.listed["bob@example.com"] = {"created": 1}  # planted: there, though Bob may get marketing
    sendgrid.listed["dora@example.com"] = {"created": 1}  # SendGrid's own: left alone
    sendgrid.listed["stranger@example.com"] = {"created": 1}  # nobody prefs knows: left alone

    pushed = len(sendgrid.changes())
    result = runner.invoke(args=["providers", "reconcile", "sendgrid"])
    assert result.exit_code == 1, result.output
    assert "missing there (prefs says no marketing): 1  a***@example.com" in result.output
    assert "there, but their holder may get marketing: 1  b***@example.com" in result.output
    assert "left alone: 1 recorded by sendgrid itself, 1 unknown to prefs" in result.output
    assert "example.com" in result.output and not any(name in result.output for name in ("ann+", "bob@", "dora@", "stranger@"))
    assert len(sendgrid.changes()) == pushed  # a report changes nothing

    result = runner.invoke(args=["providers", "reconcile", "sendgrid", "--fix"])
    assert result.exit_code == 0, result.output
    assert "fixed: 1 pushed, 1 removed, 0 failed" in result.output
    assert sorted(sendgrid.listed) == sorted([ann, "dora@example.com", "stranger@example.com"])
    assert runner.invoke(args=["providers", "reconcile", "sendgrid"]).exit_code == 0
    with app.app_context():
        details = db.session.execute(
            text("SELECT details FROM admin_events WHERE action = 'provider_list.reconciled'")
        ).scalar_one()
    assert "bob" not in str(details)


@pytest.mark.parametrize("target", ["mailgun", "postmark", "ses"])
def test_reconcile_reads_every_providers_list(app, api, ann, runner, stand_ins, target):
    for number in range(3):
        api.put(f"/recipients/cust-{number + 10}", {"email": f"person{number}@example.com"})
        stop_email(api, f"cust-{number + 10}")
    stand_ins[target].listed.update({f"person{number}@example.com": {} for number in range(2)})
    if target == "postmark":  # Postmark's own entries say so
        stand_ins[target].listed["bounced@example.com"] = {"SuppressionReason": "HardBounce", "Origin": "Recipient"}
    result = runner.invoke(args=["providers", "reconcile", target, "--fix"])
    assert "missing there (prefs says no marketing): 1  p***@example.com" in result.output, result.output
    assert result.exit_code == 0, result.output
    assert "person2@example.com" in stand_ins[target].listed


def test_reconcile_names_only_a_configured_target(runner):
    result = runner.invoke(args=["providers", "reconcile", "sparkpost"])
    assert result.exit_code != 0 and "not in PREFS_SYNC_TARGETS" in result.output


# --- settings ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "missing"),
    [
        ("sendgrid", "PREFS_SENDGRID_API_KEY"),
        ("mailgun", "PREFS_MAILGUN_DOMAIN"),
        ("postmark", "PREFS_POSTMARK_SERVER_TOKEN"),
        ("ses", "PREFS_SES_REGION"),
    ],
)
def test_a_target_without_its_credentials_stops_the_start_with_one_line(tmp_path, stand_ins, target, missing):
    settings = {**BASE_SETTINGS, **sync_settings(stand_ins), "PREFS_DATABASE_URL": "sqlite://", "PREFS_SYNC_TARGETS": target}
    del settings[missing]
    environ = {"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    with pytest.raises(ConfigError) as refused:
        build_config(environ, str(tmp_path), settings)
    assert f"PREFS_SYNC_TARGETS lists {target}, which needs" in str(refused.value) and missing in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PREFS_SYNC_TARGETS", "sendgrid,sparkpost", "'sparkpost' is not one of"),
        ("PREFS_SENDGRID_API_URL", "http://api.sendgrid.com", "https://"),
        ("PREFS_SENDGRID_API_URL", "ftp://127.0.0.1", "https://"),
        ("PREFS_SES_REGION", "Ireland", "AWS region"),
    ],
)
def test_a_sync_setting_that_cannot_work_stops_the_start(tmp_path, stand_ins, name, value, says):
    settings = {**BASE_SETTINGS, **sync_settings(stand_ins), "PREFS_DATABASE_URL": "sqlite://", name: value}
    environ = {"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    with pytest.raises(ConfigError, match=says):
        build_config(environ, str(tmp_path), settings)


def test_ses_needs_aws_credentials_in_the_environment(tmp_path, stand_ins):
    settings = {**BASE_SETTINGS, **sync_settings(stand_ins), "PREFS_DATABASE_URL": "sqlite://", "PREFS_SYNC_TARGETS": "ses"}
    with pytest.raises(ConfigError, match="AWS credentials"):
        build_config({}, str(tmp_path), settings)
    assert build_config({"AWS_PROFILE": "mail"}, str(tmp_path), settings)["PREFS_SYNC_TARGETS"][0].name == "ses"


# --- migration 0009 ------------------------------------------------------------------------------------------
def test_migration_0009_goes_up_and_down(empty_database):  # noqa: F811  (the fixture imported above)
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": empty_database})
    try:
        with app.app_context():
            upgrade(revision="0009")
            with db.engine.begin() as connection:
                connection.execute(text("INSERT INTO provider_syncs (target, action, address_hash, email, recipient_id, status, "
                                        "attempts, next_attempt_at, created_at, updated_at) VALUES ('ses', 'suppress', 'h1', "
                                        "'a@example.com', 'cust-1', 'pending', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                                        "CURRENT_TIMESTAMP)"))  # fmt: skip
            downgrade(revision="0008")
            assert "provider_syncs" not in set(inspect(db.engine).get_table_names())
            upgrade(revision="0009")
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM provider_syncs")).scalar_one() == 0
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("moved", [False, True])
def test_an_erasure_forgets_the_address_of_every_failed_push_reconcile_does_not_read(app, api, ann, stand_ins, moved):  # noqa: F811
    """Ann stopped email (pushed), opted in again, and SES refused the removal for good; then she was erased
    (`moved`: after changing her address). The failed removal kept her address for 30 days, read by nothing
    (found in review, twice). The newest failed suppression of an address is what `providers reconcile`
    pushes again: that one keeps it."""
    stop_email(api)
    deliver_all(app)
    clock = ses_fails_for_good(app, api, stand_ins, subscribed=True, evidence=EVIDENCE)  # the removal
    if moved:
        assert api.put("/recipients/cust-1", {"email": "ann.new@example.com"}).status_code == 200
    assert erased_keeping_addresses(app, api, clock) == []
    for name in TARGETS:  # the erasure's own push went to every target and keeps nothing either
        assert stand_ins[name].changes()[-1] == ("add", "ann.new@example.com" if moved else ann)


def test_the_export_lists_the_pushes_of_the_person_s_address(app, api, ann, stand_ins):  # noqa: F811
    stop_email(api)
    deliver_all(app)
    pushes = api.get("/recipients/cust-1/export").get_json()["provider_pushes"]
    assert sorted((p["target"], p["action"], p["state"]) for p in pushes) == [
        (name, "suppress", "done") for name in sorted(TARGETS)
    ]


def test_an_erasure_forgets_a_failed_push_of_an_address_the_person_held_before(app, api, ann, stand_ins):  # noqa: F811
    """SES refused Ann's stop for good; she moved to another address, then was erased. The failed push of her
    former address kept it, for reconcile to push an address nobody holds and nothing suppresses (found in
    review)."""
    clock = ses_fails_for_good(app, api, stand_ins)  # the stop
    assert api.put("/recipients/cust-1", {"email": "ann.new@example.com"}).status_code == 200
    assert erased_keeping_addresses(app, api, clock) == []


def ses_fails_for_good(app, api, stand_ins, **stop) -> Clock:  # noqa: F811
    """Ann's email stop (or with `subscribed`, its removal) pushed, and refused by SES three times: failed."""
    stand_ins["ses"].fail_next = 3
    clock = Clock()
    stop_email(api, **stop)
    deliver(app, clock)
    for delay in (5, 300):  # PREFS_RETRY_SCHEDULE: two retries
        clock.advance(delay * 1.3)
        deliver(app, clock)
    assert receipts(api)["ses"]["state"] == "failed"
    return clock


def erased_keeping_addresses(app, api, clock) -> list:
    """Erase Ann, let the worker push what that queues: the provider_syncs rows still holding an address."""
    assert api.delete("/recipients/cust-1").status_code == 204
    for _ in range(3):
        clock.advance(2)
        deliver(app, clock)
    with app.app_context():
        return db.session.execute(text("SELECT target, action, status FROM provider_syncs WHERE email IS NOT NULL")).all()
