"""Consent records (SPEC §14): one per topic and channel the person ever opted into or out of, in the shape of
ISO/IEC TS 27560, in the export, shown in the console, and without personal data once the person is erased.
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from prefs.extensions import db
from prefs.models import ConsentEvent, ConsentRequest


def opt_in(api, topic="newsletter", channel="sms", **evidence):
    body = {"recipient_id": "cust-1", "topics": [topic], "channel": channel,
            "evidence": {"source": "checkout checkbox", "ip": "203.0.113.9", "user_agent": "UA/1", **evidence}}  # fmt: skip
    response = api.post("/subscriptions", body)
    assert response.status_code == 200, response.get_json()


def test_a_record_per_topic_and_channel_with_given_and_withdrawn_events(api, newsletter, person):
    api.put("/recipients/cust-1", {"postal_address": {"lines": ["1 Main St"], "city": "Berlin", "country": "DE"}, "locale": "de"})
    api.post("/notices", {"key": "checkout", "text": "Schickt mir den Newsletter per SMS.", "language": "de"})
    opt_in(api, notice="checkout")
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": False}]})
    opt_in(api)
    api.patch("/recipients/cust-1/preferences", {"changes": [{"channel": "sms", "subscribed": False}]})  # channel stop
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]})

    records = api.get("/recipients/cust-1/consents").get_json()["consents"]
    assert [(r["purpose"], r["channel"]) for r in records] == [("newsletter", "email"), ("newsletter", "sms")]
    email, sms = records
    assert [e["type"] for e in sms["events"]] == ["given", "withdrawn", "given", "withdrawn"]
    assert sms["state"] == "withdrawn" and email["state"] == "withdrawn"
    assert (sms["pii_principal_id"], sms["controller"], sms["jurisdiction"], sms["language"]) == ("cust-1", "Acme", "DE", "de")
    assert sms["notice"]["text"] == "Schickt mir den Newsletter per SMS." and sms["notice"]["version"] == 1
    assert sms["withdrawal_method"].startswith("https://prefs.example.com/p/")
    given = sms["events"][0]
    assert (given["method"], given["source"], given["ip"], given["user_agent"]) == (
        "api",
        "checkout checkbox",
        "203.0.113.9",
        "UA/1",
    )
    assert sms["record_id"] != email["record_id"]
    assert api.get("/recipients/cust-1/consents").get_json()["consents"][1]["record_id"] == sms["record_id"]  # stable
    assert api.get("/recipients/nobody/consents").status_code == 404


def test_the_export_includes_the_records(api, newsletter, person):
    opt_in(api)
    export = api.get("/recipients/cust-1/export").get_json()
    [record] = export["consents"]
    assert record["purpose"] == "newsletter" and record["events"][0]["ip"] == "203.0.113.9"


def test_erasure_leaves_no_personal_data_in_the_records_sources(api, app, newsletter, person):
    opt_in(api)
    with app.app_context():
        db.session.add(ConsentRequest(recipient_id="cust-1", channel="email", topics=["newsletter"], address_hash="x",
                                      evidence={"ip": "203.0.113.9"}, expires_at=db.func.now()))  # fmt: skip
        db.session.commit()
    assert api.delete("/recipients/cust-1").status_code == 204
    assert api.get("/recipients/cust-1/consents").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsentRequest)) == 0
        for evidence in db.session.execute(select(ConsentEvent.evidence).where(ConsentEvent.recipient_id == "cust-1")).scalars():
            assert not evidence or set(evidence) <= {"collected_at"}


pytest_plugins = ["console_fixtures"]


def test_the_console_shows_each_consents_proof(console, api, newsletter, person):
    api.post("/notices", {"key": "checkout", "text": "Text me the newsletter."})
    opt_in(api, notice="checkout")
    page = console("viewer").get("/console/recipients/cust-1").get_data(as_text=True)
    assert 'id="consents"' in page and "Text me the newsletter." in page
    assert "203.0.113.9" in page and "UA/1" in page and "checkout checkbox" in page and "version 1" in page
    # Each event's time as the console writes every time: minutes in UTC, the exact moment in <time datetime>.
    consents = page[page.index('id="consents"') : page.index("</section>", page.index('id="consents"'))]
    assert re.search(r'<td data-label="When"><time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time></td>', consents)


def states(api, recipient_id: str = "cust-1") -> dict[tuple[str, str], tuple[str, list[str]]]:
    records = api.get(f"/recipients/{recipient_id}/consents").get_json()["consents"]
    return {(r["purpose"], r["channel"]): (r["state"], [e["type"] for e in r["events"]]) for r in records}


def test_a_stop_withdraws_and_its_lifting_gives_back_what_is_still_stored(api, client, newsletter, person):
    """Found by this round's review: the records kept saying "withdrawn" after a channel stop was lifted, and an
    SMS STOP left them "active", though the check said the opposite each time."""
    from test_sms import text

    opt_in(api)
    sms_stop = {"changes": [{"channel": "sms", "subscribed": False}]}
    assert api.patch("/recipients/cust-1/preferences", sms_stop).status_code == 200
    assert states(api)[("newsletter", "sms")] == ("withdrawn", ["given", "withdrawn"])
    resume = {"changes": [{"channel": "sms", "subscribed": True}]}
    assert api.patch("/recipients/cust-1/preferences", resume).status_code == 200
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    assert states(api)[("newsletter", "sms")] == ("active", ["given", "withdrawn", "given"])

    assert text(client, "STOP").status_code == 200
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "sms_stop"
    assert states(api)[("newsletter", "sms")] == ("withdrawn", ["given", "withdrawn", "given", "withdrawn"])
    assert text(client, "START").status_code == 200
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"
    assert states(api)[("newsletter", "sms")][0] == "active"
    # A stop still in force keeps the records withdrawn when another one is lifted.
    for change in ({"subscribed": False}, {"channel": "sms", "subscribed": False}, {"subscribed": True}):
        assert api.patch("/recipients/cust-1/preferences", {"changes": [change]}).status_code == 200
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] != "subscribed"
    assert states(api)[("newsletter", "sms")][0] == "withdrawn"


def test_an_imports_yes_and_no_are_records_too(api, runner, newsletter, tmp_path):
    """Found by this round's review: an import's opt-ins were missing from the records."""
    from test_import import write_csv

    rows = [{"id": "imp-1", "email": "imp1@example.com", "newsletter:email": "no"}]
    path = write_csv(tmp_path / "people.csv", rows, header=("id", "email", "newsletter:email"))
    assert runner.invoke(args=["recipients", "import", path]).exit_code == 0
    assert api.check("newsletter", "email", recipient_id="imp-1")["reason"] == "unsubscribed"
    assert states(api, "imp-1") == {("newsletter", "email"): ("withdrawn", ["withdrawn"])}
    rows[0]["newsletter:email"] = "yes"
    assert (
        runner.invoke(
            args=["recipients", "import", write_csv(tmp_path / "again.csv", rows, header=("id", "email", "newsletter:email"))]
        ).exit_code
        == 0
    )
    [record] = api.get("/recipients/imp-1/consents").get_json()["consents"]
    assert (record["state"], record["events"][-1]["method"], record["events"][-1]["source"]) == ("active", "import", "again.csv")


def test_the_state_follows_the_latest_change_not_an_earlier_collected_at(api, client, newsletter, person):
    """Found in review (session 9): an opt-in recorded after a one-click, with evidence collected the day before,
    sorted before the withdrawal by its `at`, and the record said withdrawn while the opt-in stood."""
    url = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": "email"}).get_json()["unsubscribe_url"]
    assert client.post(url.removeprefix("https://prefs.example.com"), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    opt_in = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}],
              "evidence": {"source": "crm sync", "collected_at": yesterday}}  # fmt: skip
    assert api.patch("/recipients/cust-1/preferences", opt_in).status_code == 200
    assert api.check("newsletter", "email", recipient_id="cust-1")["allowed"] is True
    [record] = [r for r in api.get("/recipients/cust-1/consents").get_json()["consents"] if r["channel"] == "email"]
    assert [e["type"] for e in record["events"]] == ["withdrawn", "given"]  # in the order they happened
    assert record["events"][-1]["at"] < record["events"][0]["at"]  # each `at` as collected
    assert record["state"] == "active"
