"""R2: concurrent writers to one recipient (API PATCH, one-click, preference center, SMS keywords, console):
no lost update, one event per real change, no 5xx.

How a lost update would show: two writers read the same stored value and both write, so two events
carry the same `before`. The events of each (topic, channel) must instead form one chain, each `before`
equal to the previous `after`, ending at what is stored. Runs on SQLite and PostgreSQL alike; the
PostgreSQL pass is the one that exercises row locks.
"""

from __future__ import annotations

import random
import re
import threading
from collections import defaultdict

import pytest
from twilio.request_validator import RequestValidator

pytest_plugins = ["console_fixtures"]
pytestmark = pytest.mark.slow  # threads racing
WRITERS, ROUNDS = 6, 20


def test_concurrent_writers_to_one_person_lose_nothing(app, api, newsletter, person, console):
    key = api.key
    links = {
        channel: api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "channel": channel}).get_json()
        for channel in ("email", "sms")
    }
    statuses: list[int] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        client = app.test_client()
        for _ in range(ROUNDS):
            kind = rng.choice(["patch", "patch", "one_click", "undo", "preference_center", "sms"])
            channel = rng.choice(["email", "sms"])
            if kind == "patch":
                change = rng.choice(
                    [{"topic": "newsletter", "channel": channel}, {"channel": "email"}, {"topic": "newsletter"}, {}]
                )
                if change.get("channel") == "sms" or (change.get("topic") and not change.get("channel")):
                    change = {"topic": "newsletter", "channel": "email"}  # an SMS opt-in may meet an SMS stop: 422 by design
                body = {"changes": [{**change, "subscribed": rng.random() < 0.5}]}
                response = client.patch(
                    "/api/v1/recipients/cust-1/preferences", json=body, headers={"Authorization": f"Bearer {key}"}
                )
            elif kind in ("one_click", "undo"):
                path = links[channel]["unsubscribe_url"].removeprefix("https://prefs.example.com")
                response = client.post(path + ("/undo" if kind == "undo" else ""), data={"List-Unsubscribe": "One-Click"})
            elif kind == "preference_center":
                path = links["email"]["preferences_url"].removeprefix("https://prefs.example.com")
                boxes = {name: "on" for name in ("newsletter:email", "*:email", "*:phone") if rng.random() < 0.5}
                shown = re.findall(r'name="shown" value="([^"]+)"', client.get(path).get_data(as_text=True))
                response = client.post(path, data={**boxes, "shown": shown})
            else:
                form = {"From": "+14155550123", "To": "+15005550006", "Body": rng.choice(["STOP", "START"])}
                signature = RequestValidator("test-twilio-token").compute_signature(
                    "https://prefs.example.com/webhooks/sms", form
                )
                response = client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature})
            with lock:
                statuses.append(response.status_code)

    agent = console("agent")

    def staff_writer() -> None:
        """A support agent ticking and unticking newsletter by email in the console, with a reason."""
        rng = random.Random(99)
        for _ in range(ROUNDS):
            page = "/console/recipients/cust-1"
            response = agent.submit(page, page + "/choices", {"newsletter:email": rng.random() < 0.5, "reason": "caller asked"})
            with lock:
                statuses.append(200 if response.status_code in (200, 303) else response.status_code)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)] + [threading.Thread(target=staff_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(statuses) == (WRITERS + 1) * ROUNDS
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert set(statuses) <= {200}, sorted(set(statuses))

    events = api.get("/recipients/cust-1/events?limit=1000").get_json()["events"][::-1]  # oldest first
    chains: dict[tuple, list] = defaultdict(list)
    for event in events:
        if event["kind"] in ("topic_choice", "channel_stop", "all_marketing", "sms_stop"):
            chains[(event["kind"], event["topic"], event["channel"])].append(event)
    assert chains, "the writers changed nothing at all"
    assert {"console", "api", "one_click", "keyword:STOP"} <= {event["via"] for event in events}, (
        "every kind of writer got through"
    )
    for key_, chain in chains.items():
        initial = False if key_[0] == "sms_stop" else None
        previous = initial
        for event in chain:
            assert event["before"] == previous, (key_, [(e["id"], e["before"], e["after"], e["via"]) for e in chain])
            # An event is a real change: of the value, or an opt-in stored again because evidence of consent came
            # with it (a page's opt-in of a box another writer had just ticked; SPEC §17's choices.with_evidence).
            evidence_came = event["after"] is True and {"collected_at", "source"} <= set(event["evidence"] or {})
            assert event["before"] != event["after"] or evidence_came, event
            previous = event["after"]

    matrix = api.get("/recipients/cust-1/preferences").get_json()
    last = {key_: chain[-1]["after"] for key_, chain in chains.items()}
    cell = last.get(("topic_choice", "newsletter", "email"))
    if cell is not None:
        assert matrix["topics"][-1]["channels"]["email"]["choice"] == cell
    if ("sms_stop", None, "sms") in last:
        assert matrix["channels"]["sms"]["sms_stop"] == last[("sms_stop", None, "sms")]
    if ("channel_stop", None, "email") in last:
        assert matrix["channels"]["email"]["stopped"] == (last[("channel_stop", None, "email")] is False)
