"""Regression tests for the outside review's findings about rules on a person's data (issue 10: findings 1,
2, 3, 4, 7, 10, 14 and the "messages messages" wording), each through the public surface. Every one of them
failed on the code before the fix."""

from __future__ import annotations

import threading
import time
import unicodedata
from urllib.parse import urlparse

import pytest
from conftest import requires_postgres
from test_import import write_csv
from test_sms import text

pytest_plugins = ["console_fixtures"]

PHONE = "+14155550123"  # the `person` fixture's number
EVIDENCE = {"collected_at": "2026-11-01T10:00:00Z", "source": "signup form"}


def path_of(url: str) -> str:
    return urlparse(url).path


def reason(api, topic, channel, **who) -> str:
    return api.check(topic, channel, **who)["reason"]


# --- 1. an SMS stop belongs to the number ---------------------------------------------------------------
def test_erasure_keeps_a_numbers_stop_for_its_next_holder_and_the_console_cannot_lift_it(
    api, client, console, newsletter, person
):
    text(client, "STOP")
    assert api.delete("/recipients/cust-1").status_code == 204
    agent = console("agent")
    page = agent.search(PHONE)
    assert "a STOP text from this number" in page and "left by an erasure" not in page  # finding 1d
    assert "Lift the suppression" not in page
    lift = [("q", PHONE), ("collected_at", "2026-01-05T10:30"), ("source", "call"), ("reason", "asked")]
    assert agent.post("/console/suppressions/lift", lift).status_code == 422
    api.put("/recipients/next-holder", {"phone": PHONE})
    assert reason(api, "billing", "sms", recipient_id="next-holder") == "sms_stop"  # finding 1c
    assert 'name="lift" value="phone"' not in agent.text("/console/recipients/next-holder")


def test_the_console_recipient_page_refuses_to_lift_a_numbers_stop(api, client, console, newsletter, person):
    text(client, "STOP")
    agent = console("agent")
    form = [("*:phone", "on"), ("lift", "phone"), ("collected_at", "2026-01-05T10:30"), ("source", "call"), ("reason", "asked")]
    response = agent.post("/console/recipients/cust-1/choices", form)
    assert response.status_code == 422 and "only a START text from it lifts that" in response.get_data(as_text=True)
    assert reason(api, "billing", "sms", recipient_id="cust-1") == "sms_stop"
    assert reason(api, "service", "phone", recipient_id="cust-1") == "mandatory"


def test_no_evidence_lifts_a_numbers_stop_through_the_api(api, client, newsletter, person):
    text(client, "STOP")
    for change in ({"channel": "phone", "subscribed": True}, {"channel": "sms", "subscribed": True}):
        response = api.patch("/recipients/cust-1/preferences", {"changes": [change], "evidence": EVIDENCE})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "sms_stop"
    # Resuming all marketing is allowed, and leaves the number's stop where it is.
    assert (
        api.patch("/recipients/cust-1/preferences", {"changes": [{"subscribed": True}], "evidence": EVIDENCE}).status_code == 200
    )
    assert reason(api, "billing", "sms", recipient_id="cust-1") == "sms_stop"


def test_an_import_leaves_the_stop_with_the_number(api, client, runner, newsletter, person, tmp_path):
    text(client, "STOP")
    moved = write_csv(tmp_path / "moved.csv", [{"id": "cust-1", "phone": "+14155550199"}], header=("id", "phone"))
    assert runner.invoke(args=["recipients", "import", moved, "--processes", "1"]).exit_code == 0
    assert reason(api, "billing", "sms", recipient_id="cust-1") == "mandatory"  # the new number has no stop
    back = write_csv(tmp_path / "back.csv", [{"id": "other", "phone": PHONE, "newsletter:sms": ""}])
    assert runner.invoke(args=["recipients", "import", back, "--processes", "1"]).exit_code == 0
    assert reason(api, "billing", "sms", recipient_id="other") == "sms_stop"  # the old one keeps it
    opt_in = write_csv(tmp_path / "opt-in.csv", [{"id": "other", "newsletter:sms": "yes"}], header=("id", "newsletter:sms"))
    result = runner.invoke(args=["recipients", "import", opt_in, "--processes", "1"])
    assert result.exit_code == 1 and "line 2: phone: this number texted STOP" in result.output
    assert api.get("/recipients/other/preferences").get_json()["topics"][-1]["channels"]["sms"]["reason"] == "sms_stop"


# --- 2. what a link minted by a `check` key may do --------------------------------------------------------
def test_changes_through_a_link_name_the_key_that_minted_it(api, client, make_key, newsletter, person):
    from conftest import ApiClient

    checker = ApiClient(client, make_key("mailer-7", "check"))
    url = path_of(checker.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()["unsubscribe_url"])
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert event["evidence"]["link_minted_by"] == "mailer-7"


def test_a_link_for_email_cannot_switch_texts_on(api, client, newsletter, person):
    url = path_of(api.post("/links", {"recipient_id": "cust-1"}).get_json()["preferences_url"])
    html = client.get(url).get_data(as_text=True)
    assert "Text messages can be switched on only from a link we sent you by text message." in html
    client.post(
        url,
        data={
            "newsletter:email": "on",
            "newsletter:sms": "on",
            "*:email": "on",
            "*:sms": "on",
            "*:phone": "on",
            "shown": ["newsletter:sms=0"],
        },
    )
    assert reason(api, "newsletter", "sms", recipient_id="cust-1") == "no_consent"
    sms_url = path_of(api.post("/links", {"recipient_id": "cust-1", "channel": "sms"}).get_json()["preferences_url"])
    client.post(
        sms_url, data={"newsletter:sms": "on", "*:email": "on", "*:sms": "on", "*:phone": "on", "shown": ["newsletter:sms=0"]}
    )
    assert reason(api, "newsletter", "sms", recipient_id="cust-1") == "subscribed"


def suppressed_by_erasure(api) -> None:
    api.put("/recipients/old", {"email": "back@example.com"})
    api.delete("/recipients/old")
    api.put("/recipients/new", {"email": "back@example.com", "phone": "+14155550177"})
    assert reason(api, "newsletter", "email", recipient_id="new") == "suppressed"


@pytest.mark.slow  # waits out a second: link times are whole seconds
def test_a_link_minted_before_the_suppression_cannot_lift_it(api, client, newsletter):
    api.put("/recipients/new", {"email": "back@example.com"})
    url = path_of(api.post("/links", {"recipient_id": "new"}).get_json()["preferences_url"])
    time.sleep(1.1)  # link times are whole seconds
    api.post("/topics", {"key": "unused", "name": "Unused", "channels": ["email"]})
    # The address is suppressed after the link went out (e.g. a list imported from another system).
    from prefs.extensions import db
    from prefs.runtime import runtime
    from prefs.services.suppressions import suppress

    with client.application.app_context():
        suppress(runtime().address_hash, "email", "back@example.com", "import")
        db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "use the link in the newest message we sent to b***@example.com" in html
    response = client.post(url, data={"newsletter:email": "on", "*:email": "on", "shown": ["newsletter:email=0", "*:email=1"]})
    assert response.status_code == 200
    assert reason(api, "newsletter", "email", recipient_id="new") == "suppressed"
    scripted = client.post(url, data={"*:email": "on", "shown": ["*:email=0"]})  # a box the page locked: a named opt-in
    assert scripted.status_code == 403 and reason(api, "newsletter", "email", recipient_id="new") == "suppressed"
    fresh = path_of(api.post("/links", {"recipient_id": "new"}).get_json()["preferences_url"])
    client.post(fresh, data={"newsletter:email": "on", "*:email": "on", "shown": ["newsletter:email=0", "*:email=1"]})
    assert reason(api, "newsletter", "email", recipient_id="new") == "subscribed"


def test_a_link_for_another_address_cannot_lift_a_suppression(api, client, newsletter):
    suppressed_by_erasure(api)
    sms_url = path_of(api.post("/links", {"recipient_id": "new", "channel": "sms"}).get_json()["preferences_url"])
    client.post(
        sms_url,
        data={"newsletter:email": "on", "*:email": "on", "*:sms": "on", "shown": ["newsletter:email=0", "*:email=1", "*:sms=1"]},
    )
    assert reason(api, "newsletter", "email", recipient_id="new") == "suppressed"
    # A link sent to the email address before it changed was not delivered to the address held now.
    old_url = path_of(api.post("/links", {"recipient_id": "new"}).get_json()["preferences_url"])
    api.put("/recipients/new", {"email": "elsewhere@example.com"})
    api.put("/recipients/new", {"email": "back@example.com"})
    client.post(old_url, data={"newsletter:email": "on", "*:email": "on", "shown": ["newsletter:email=0", "*:email=1"]})
    assert reason(api, "newsletter", "email", recipient_id="new") == "suppressed"


@pytest.mark.slow  # waits out a second: link times are whole seconds
def test_a_preference_link_from_an_old_unsubscribe_page_keeps_the_old_time(api, client, newsletter):
    api.put("/recipients/new", {"email": "back@example.com"})
    unsubscribe = path_of(api.post("/links", {"recipient_id": "new"}).get_json()["unsubscribe_url"])
    time.sleep(1.1)
    from prefs.extensions import db
    from prefs.runtime import runtime
    from prefs.services.suppressions import suppress

    with client.application.app_context():
        suppress(runtime().address_hash, "email", "back@example.com", "import")
        db.session.commit()
    page = client.get(unsubscribe).get_data(as_text=True)
    preferences = page.split('href="/p/', 1)[1].split('"', 1)[0]
    client.post(
        "/p/" + preferences, data={"newsletter:email": "on", "*:email": "on", "shown": ["newsletter:email=0", "*:email=1"]}
    )
    assert reason(api, "newsletter", "email", recipient_id="new") == "suppressed"


# --- 3. one spelling of an email address ----------------------------------------------------------------
NFC = "zoë@exämple.com"
NFD = unicodedata.normalize("NFD", NFC)
A_LABEL = "zoë@xn--exmple-cua.com"


def test_every_spelling_of_an_address_is_one_address(api, newsletter):
    assert api.put("/recipients/zoe", {"email": NFD}).status_code == 201
    assert api.get("/recipients/zoe").get_json()["email"] == NFC
    for spelling in (NFC, A_LABEL, "ZOË@EXÄMPLE.COM"):
        response = api.put("/recipients/zoe-2", {"email": spelling})
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "address_in_use"
        assert [r["id"] for r in api.get("/recipients", query_string={"email": spelling}).get_json()["recipients"]] == ["zoe"]
    api.delete("/recipients/zoe")
    for spelling in (NFC, NFD, A_LABEL):
        assert reason(api, "newsletter", "email", email=spelling) == "suppressed"
        api.put("/recipients/zoe-3", {"email": spelling})
        assert reason(api, "newsletter", "email", recipient_id="zoe-3") == "suppressed"


def test_the_migration_rewrites_stored_spellings_and_their_hashes(app, tmp_path):
    """Upgrade a database at 0003 that holds an NFD address and an A-label one; 0004 makes both canonical,
    re-hashes them, carries a suppression over, and moves an SMS stop onto the number."""
    import sqlalchemy as sa
    from conftest import BASE_SETTINGS
    from flask_migrate import downgrade, upgrade

    from prefs import create_app
    from prefs.extensions import db
    from prefs.suppression import address_hash

    key = BASE_SETTINGS["PREFS_SUPPRESSION_KEY"].encode()
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": url})
    with old.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as connection:
            for pk, email, stopped in ((1, NFD, None), (2, "Ann@xn--exmple-cua.com".lower(), "2026-11-01 10:00:00.000000")):
                connection.execute(
                    sa.text(
                        "INSERT INTO recipients (pk, id, email, email_hash, phone, phone_hash, status, sms_stopped_at, created_at, updated_at) "
                        "VALUES (:pk, :id, :email, :hash, :phone, :phone_hash, 'active', :stopped, '2026-01-01', '2026-01-01')"
                    ),
                    {"pk": pk, "id": f"r{pk}", "email": email, "hash": address_hash(key, "email", email), "stopped": stopped,
                     "phone": f"+1415555010{pk}", "phone_hash": address_hash(key, "phone", f"+1415555010{pk}")},
                )  # fmt: skip
            connection.execute(
                sa.text(
                    "INSERT INTO suppressions (hash, kind, source, created_at) VALUES (:hash, 'email', 'import', '2026-01-01')"
                ),
                {"hash": address_hash(key, "email", NFD)},
            )
        upgrade()
        with db.engine.connect() as connection:
            rows = dict(connection.execute(sa.text("SELECT email, email_hash FROM recipients ORDER BY pk")).all())
            suppressed = dict(connection.execute(sa.text("SELECT hash, source FROM suppressions")).all())
        assert rows == {NFC: address_hash(key, "email", NFC), "ann@exämple.com": address_hash(key, "email", "ann@exämple.com")}
        assert suppressed[address_hash(key, "email", NFC)] == "import"
        assert suppressed[address_hash(key, "phone", "+14155550102")] == "sms_stop"
        downgrade(revision="0003")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT sms_stopped_at IS NOT NULL FROM recipients WHERE pk = 2")).scalar() == 1
        db.engine.dispose()


# --- 4. erasure keeps no free text ----------------------------------------------------------------------
def test_erasure_removes_every_free_text_field_of_the_persons_events(api, client, runner, newsletter, tmp_path):
    secret = "Margaret called from 415-555-0779"
    api.put("/recipients/erin", {"email": "erin@example.com"})
    evidence = {
        "collected_at": "2026-11-01T10:00:00Z",
        "source": secret,
        "wording": secret,
        "message_id": secret,
        "version": secret,
    }
    api.patch(
        "/recipients/erin/preferences",
        {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}], "reason": secret, "evidence": evidence},
    )
    path = write_csv(tmp_path / "margaret-smith.csv", [{"id": "erin", "locale": "en-GB"}], header=("id", "locale"))
    assert runner.invoke(args=["recipients", "import", path, "--processes", "1"]).exit_code == 0
    assert api.delete("/recipients/erin", {"reason": secret}).status_code == 204
    feed = [e for e in api.get("/events?limit=1000").get_json()["events"] if e["recipient_id"] == "erin"]
    assert [e["kind"] for e in feed] == ["recipient_created", "topic_choice", "imported", "erased"]
    assert all(secret not in repr(e) and "margaret-smith" not in repr(e) for e in feed), feed
    choice = feed[1]
    assert (choice["actor"], choice["actor_id"], choice["before"], choice["after"], choice["evidence"]) == (
        "api",
        "test-admin",
        None,
        False,
        {"collected_at": "2026-11-01T10:00:00Z"},
    )


# --- 7. two creators of one new id --------------------------------------------------------------------
@requires_postgres
def test_two_simultaneous_puts_creating_one_id_never_deadlock(app, api, make_key):
    from conftest import ApiClient

    key = make_key("racer", "write")
    statuses = []
    for round_ in range(20):
        barrier = threading.Barrier(2)

        def put(body, round_=round_, barrier=barrier):
            client = ApiClient(app.test_client(), key)
            barrier.wait()
            statuses.append(client.put(f"/recipients/race-{round_}", body).status_code)

        threads = [
            threading.Thread(target=put, args=(body,)) for body in ({"email": f"race{round_}@example.com"}, {"locale": "fr"})
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        recipient = api.get(f"/recipients/race-{round_}").get_json()
        assert (recipient["email"], recipient["locale"]) == (f"race{round_}@example.com", "fr")
    assert sorted(set(statuses)) == [200, 201], statuses


# --- 10. an old undo never reverts a newer choice -------------------------------------------------------
def test_an_old_undo_does_not_revert_a_newer_choice(api, client, newsletter, person):
    links = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()
    url = path_of(links["unsubscribe_url"])
    client.post(url, data={"List-Unsubscribe": "One-Click"})  # default (on) -> off
    change = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]}
    api.patch("/recipients/cust-1/preferences", change)  # on again
    api.patch(
        "/recipients/cust-1/preferences", {"changes": [{**change["changes"][0], "subscribed": False}]}
    )  # and off, on purpose
    events = len(api.get("/recipients/cust-1/events").get_json()["events"])
    assert client.post(url + "/undo").status_code == 200
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == "unsubscribed"
    assert len(api.get("/recipients/cust-1/events").get_json()["events"]) == events
    # The undo of the latest change to the cell still works.
    client.post(url, data={"List-Unsubscribe": "One-Click"})
    api.patch("/recipients/cust-1/preferences", change)
    client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert client.post(url + "/undo").status_code == 200
    assert reason(api, "newsletter", "email", recipient_id="cust-1") == "subscribed"


# --- 14. token payloads are checked after the signature -------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        {"r": "cust-1", "c": "email", "t": ["newsletter"]},
        {"r": "cust-1", "c": "fax"},
        {"r": "cust-1", "c": "email", "t": "no-such-topic"},
        {"r": ["cust-1"], "c": "email"},
        {"r": "cust-1", "c": "email", "m": {"x": 1}},
        {"r": "cust-1", "c": "email", "i": "yesterday"},
        {"r": "cust-1", "c": "email", "z": 1},
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_a_bad_link(app, api, client, newsletter, person, payload):
    from itsdangerous import URLSafeTimedSerializer

    before = api.get("/recipients/cust-1/events").get_json()
    for purpose, prefix in (("unsubscribe", "u"), ("preferences", "p")):
        token = URLSafeTimedSerializer("test-signing-key-1", salt=f"prefs.{purpose}").dumps(payload)
        assert client.get(f"/{prefix}/{token}").status_code == 400
        assert client.post(f"/{prefix}/{token}", data={"List-Unsubscribe": "One-Click", "stop_all": "on"}).status_code == 400
    assert api.get("/recipients/cust-1/events").get_json() == before


# --- 16. wording ----------------------------------------------------------------------------------------
def test_refusing_a_mandatory_topic_names_it_once(api, person):
    response = api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "service", "subscribed": False}]})
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "messages messages" not in message and "Service messages" in message
    response = api.post("/links", {"recipient_id": "cust-1", "topic": "service"})
    assert "messages messages" not in response.get_json()["error"]["message"]
