"""Issue 6, acceptance 3: the batch path and the single check give the same answer for every item (issue 15: rule
6a too, with addresses a provider reported dead); issue 16, acceptance 2: so do 10,000 texts asked about at given
moments (quiet hours, the do-not-call list), and the batch still runs one state query per chunk of 1,000 look-ups."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from provider_signing import PROVIDER_SETTINGS, post_sendgrid, sendgrid_event
from twilio.request_validator import RequestValidator

from prefs.channels import CHANNELS
from prefs.db import driver
from prefs.db.statements import CACHE_GENERATIONS
from prefs.services.states import CHUNK

# The rows compared here do not depend on the hour (issue 6's test asks without `at`, so "now" moves between the
# batch and its single checks): quiet hours are off for it and on for the test of `at` below. The mail providers'
# webhooks are on, so hard bounces can make addresses undeliverable.
QUIET_HOURS_OFF = pytest.mark.parametrize("settings_override", [{"PREFS_QUIET_HOURS": "", **PROVIDER_SETTINGS}])


def stop_texts(client, number: str) -> None:
    form = {"From": number, "To": "+15005550006", "Body": "STOP"}
    signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
    client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature})


@pytest.mark.slow  # 10,000 random items
@QUIET_HOURS_OFF
def test_batch_equals_single_checks_on_10000_random_items(api, client, newsletter):
    rng = random.Random(2026)
    api.post(
        "/topics",
        {
            "key": "offers",
            "name": "Offers",
            "channels": ["email", "sms", "post"],
            "default_subscribed": {"email": True, "post": True},
        },
    )
    api.post("/topics", {"key": "old", "name": "Old", "channels": ["email"]})
    api.delete("/topics/old")
    people = []
    for n in range(60):
        body = {"email": f"p{n}@example.com" if n % 5 else None, "phone": f"+1415555{n:04d}" if n % 3 else None}
        if n % 4 == 0:
            body["postal_address"] = {"lines": ["1 Main St"], "country": "US"}
        api.put(f"/recipients/p{n}", body)
        people.append(n)
        changes = [
            {
                "subscribed": rng.random() < 0.5,
                **rng.choice([{"topic": "newsletter", "channel": "email"}, {"topic": "offers"}, {"channel": "post"}, {}]),
            }
        ]
        api.patch(f"/recipients/p{n}/preferences", {"changes": changes})
        if n % 7 == 0:
            api.post(f"/recipients/p{n}/deactivate")
        if n % 11 == 0 and n % 3:
            stop_texts(client, f"+1415555{n:04d}")
        if n % 9 == 4:  # a hard bounce: undeliverable (rule 6a), whatever else holds
            post_sendgrid(client, [sendgrid_event("bounce", f"p{n}@example.com", type="bounce", status="5.1.1")])
        if n % 13 == 0:
            api.delete(f"/recipients/p{n}")
    # Hard bounces of addresses nobody holds: suppressed, and undeliverable for whoever gets them.
    post_sendgrid(client, [sendgrid_event("bounce", f"p{n}@example.com", type="bounce") for n in (61, 62)])
    items = []
    for _ in range(10_000):
        n = rng.randint(0, 70)  # some strangers
        who = rng.choice(["recipient_id", "email", "phone"])
        value = {"recipient_id": f"p{n}", "email": f"P{n}@Example.com", "phone": f"+1415555{n:04d}"}[who]
        items.append(
            {
                who: value,
                "topic": rng.choice(["newsletter", "offers", "old", "billing", "service"]),
                "channel": rng.choice(CHANNELS),
            }
        )

    batch = api.post("/check/batch", {"checks": items}).get_json()["results"]
    assert len(batch) == len(items)
    reasons = set()
    for item, from_batch in zip(items, batch, strict=True):
        single = api.post("/check", item).get_json()
        assert single == from_batch, (item, single, from_batch)
        reasons.add(single["reason"])
    # The sample reaches most of the rule, so the comparison means something.
    assert len(reasons) >= 10 and "undeliverable" in reasons, reasons


# Numbers in one zone and in several, in the order of their n (n % len): New York, Los Angeles, Honolulu, Alaska
# (two zones), an Australian mobile (eight, Cocos to Lord Howe), a Sydney landline, a UK mobile, a Russian
# mobile (sixteen), São Paulo.
NUMBERS = ["+1212555{:04d}", "+1415555{:04d}", "+1808555{:04d}", "+1907555{:04d}", "+614123{:05d}", "+6129876{:04d}",
           "+447911{:06d}", "+7916123{:04d}", "+5511987{:06d}"]  # fmt: skip
ZONES = ["America/Chicago", "Europe/Paris", "Asia/Kolkata", "Australia/Perth"]
EVIDENCE = {"collected_at": "2026-11-01T10:00:00Z", "source": "signed form"}


@pytest.mark.slow  # 10,000 random items, each asked twice
@pytest.mark.parametrize("settings_override", [{"PREFS_QUIET_HOURS": "21:00-08:00"}])
def test_batch_of_10000_texts_with_at_equals_single_checks(api, client, runner, newsletter, tmp_path):
    rng = random.Random(1617)
    assert api.post("/topics", {"key": "calls", "name": "Calls", "channels": ["sms", "phone"]}).status_code == 201
    listed = []
    for n in range(90):
        phone = NUMBERS[n % len(NUMBERS)].format(n)
        body = {"phone": phone if n % 10 else None, "email": f"t{n}@example.com"}
        if n % 4 == 0:
            body["time_zone"] = rng.choice(ZONES)
        api.put(f"/recipients/t{n}", body)
        for topic in ("newsletter", "calls"):
            if rng.random() < 0.7:
                change = {"topic": topic, "channel": "sms", "subscribed": rng.random() < 0.85}
                evidence = {"evidence": EVIDENCE} if rng.random() < 0.4 else {}
                api.patch(f"/recipients/t{n}/preferences", {"changes": [change], **evidence})
        if n % 6 == 0:
            api.patch(f"/recipients/t{n}/preferences", {"changes": [{"channel": "sms", "subscribed": False}]})
        if n % 17 == 0 and n % 10:
            stop_texts(client, phone)
        if n % 19 == 0:
            api.post(f"/recipients/t{n}/deactivate")
        if n % 2 and n % 10:
            listed.append(phone if n % 3 else phone.removeprefix("+1") if phone.startswith("+1") else phone)
    path = tmp_path / "dnc.txt"
    path.write_text("\n".join(listed) + "\n")
    today = datetime.now(UTC).date()
    result = runner.invoke(args=["dnc", "import", str(path), "--as-of", (today - timedelta(days=20)).isoformat()])
    assert result.exit_code == 0, result.output

    # Moments over the next three weeks, at any minute of the day, written with various offsets: past the list's
    # 31st day they are asked about after it went stale.
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    offsets = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=10))]

    def moment() -> str:
        text = (start + timedelta(minutes=rng.randrange(21 * 24 * 60))).astimezone(rng.choice(offsets)).isoformat()
        return text.replace("+00:00", "Z") if rng.random() < 0.5 else text

    default_at = moment()
    items = []
    for _ in range(10_000):
        n = rng.randint(0, 95)  # some strangers
        who = rng.choice(["recipient_id", "phone"])
        item = {"recipient_id": f"t{n}"} if who == "recipient_id" else {"phone": NUMBERS[n % len(NUMBERS)].format(n)}
        item["topic"] = rng.choice(["newsletter", "calls", "billing"])
        if rng.random() < 0.8:
            item["at"] = moment()
        items.append(item)

    batch = api.post("/check/batch", {"checks": items, "channel": "sms", "at": default_at}).get_json()["results"]
    assert len(batch) == len(items)
    reasons = set()
    for item, from_batch in zip(items, batch, strict=True):
        single = api.post("/check", {"at": default_at, **item, "channel": "sms"}).get_json()
        assert single == from_batch, (item, single, from_batch)
        reasons.add(single["reason"])
    # The sample reaches the new rows and the old around them.
    assert {"quiet_hours", "do_not_call", "dnc_list_stale", "subscribed", "mandatory", "sms_stop"} <= reasons, reasons


@pytest.mark.parametrize("settings_override", [{"PREFS_QUIET_HOURS": "21:00-08:00"}])
def test_the_batch_runs_one_state_query_per_chunk_of_look_ups(api, newsletter, monkeypatch):
    """Time zone, do-not-call and evidence facts come from the state query itself: no query per item or per person."""
    for n in range(30):
        api.put(f"/recipients/c{n}", {"phone": f"+1212555{n:04d}", "time_zone": "Europe/Paris" if n % 2 else None})
    executed: list[str] = []

    class CountingCursor:
        def __init__(self, cursor) -> None:
            self._cursor = cursor

        def execute(self, statement, *args):
            if statement != CACHE_GENERATIONS:  # the caches' look every half second (db/generations.py), not per chunk
                executed.append(statement)
            return self._cursor.execute(statement, *args)

        def __getattr__(self, name):
            return getattr(self._cursor, name)

    original = driver.DriverSql.cursor
    monkeypatch.setattr(driver.DriverSql, "cursor", property(lambda self: CountingCursor(original.fget(self))))
    ids = [f"c{n}" for n in range(2 * CHUNK + 1)]  # three chunks of look-ups by id (c30 on are nobody)
    items = [{"recipient_id": recipient_id, "at": "2026-12-01T12:00:00-05:00"} for recipient_id in ids * 4]
    results = api.post("/check/batch", {"checks": items, "topic": "newsletter", "channel": "sms"}).get_json()["results"]
    assert {r["reason"] for r in results} == {"no_consent", "unknown_recipient"}
    assert len(executed) == 3, executed
