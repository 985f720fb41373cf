"""Issue 6, acceptance 3: the batch path and the single check give the same answer for every item."""

from __future__ import annotations

import random

import pytest
from twilio.request_validator import RequestValidator

from prefs.channels import CHANNELS


@pytest.mark.slow  # 10,000 random items
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
            form = {"From": f"+1415555{n:04d}", "To": "+15005550006", "Body": "STOP"}
            signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
            client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature})
        if n % 13 == 0:
            api.delete(f"/recipients/p{n}")
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
    assert len(reasons) >= 10, reasons
