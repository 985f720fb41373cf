"""Asking before a send: single checks, batches of any size, links."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import LiveServer
from support import RecordingTransport, unique, unique_phone

from prefs_client import (
    CheckResult,
    Invalid,
    ItemError,
    MandatoryTopic,
    NotFound,
    PrefsClient,
    PrefsError,
    TooLarge,
    Topic,
    UnknownTopic,
)


def test_a_check_answers_by_id_email_or_phone_and_follows_the_persons_choices(client: PrefsClient, newsletter: Topic) -> None:
    person, phone = unique(), unique_phone()
    client.put_recipient(person, email=f"{person}@example.com", phone=phone)

    by_id = client.check("newsletter", "email", recipient_id=person)
    assert by_id == CheckResult(allowed=True, reason="default", recipient_id=person, topic="newsletter", channel="email")
    assert client.check("newsletter", "email", email=f"  {person.upper()}@Example.COM ").recipient_id == person
    assert client.check("newsletter", "sms", phone=f"+1 {phone[2:5]} {phone[5:8]} {phone[8:]}") == CheckResult(
        False, "no_consent", person, "newsletter", "sms"
    )

    client.change_preferences(person, [{"topic": "newsletter", "channel": "email", "subscribed": False}])
    assert client.check("newsletter", "email", recipient_id=person).reason == "unsubscribed"
    assert client.check("billing", "email", recipient_id=person) == CheckResult(True, "mandatory", person, "billing", "email")
    stranger = unique("nobody")
    assert client.check("newsletter", "email", recipient_id=stranger) == CheckResult(
        False, "unknown_recipient", stranger, "newsletter", "email"
    )


def test_a_malformed_check_raises_invalid_and_an_unknown_topic_unknown_topic(client: PrefsClient) -> None:
    with pytest.raises(Invalid) as no_one:
        client.check("newsletter", "email")
    assert no_one.value.code == "invalid" and no_one.value.status == 422 and "_schema" in no_one.value.details
    with pytest.raises(UnknownTopic) as unknown:
        client.check("no-such-topic", "email", recipient_id="cust-1")
    assert isinstance(unknown.value, Invalid) and unknown.value.code == "unknown_topic"


def known_people(client: PrefsClient, count: int) -> list[dict[str, str]]:
    """People in different states, so that a batch's answers differ from item to item."""
    people = []
    for n in range(count):
        person = unique()
        email, phone = f"{person}@example.com", unique_phone()
        client.put_recipient(person, email=email, phone=phone)
        if n % 4 == 1:
            client.change_preferences(person, [{"topic": "newsletter", "channel": "email", "subscribed": False}])
        elif n % 4 == 2:
            client.change_preferences(person, [{"topic": "newsletter", "channel": "sms", "subscribed": True}])
        elif n % 4 == 3:
            client.deactivate(person)
        people.append({"id": person, "email": email, "phone": phone})
    return people


def batch_items(people: list[dict[str, str]], count: int) -> list[Any]:
    """`count` items of every kind, malformed ones included; unknown ids carry their position."""
    kinds: list[Callable[[int, dict[str, str]], Any]] = [
        lambda i, p: {"recipient_id": p["id"]},
        lambda i, p: {"recipient_id": f"unknown-{i}"},
        lambda i, p: {"email": p["email"].upper()},
        lambda i, p: {"phone": p["phone"], "channel": "sms"},
        lambda i, p: {"recipient_id": p["id"], "topic": "billing"},
        lambda i, p: {"email": f"unknown-{i}@example.com", "channel": "sms"},
        lambda i, p: {"recipient_id": p["id"], "email": p["email"]},  # two names: invalid
        lambda i, p: {"recipient_id": p["id"], "topic": "no-such-topic"},  # unknown_topic
        lambda i, p: {"recipient_id": f"unknown-{i}"},
        lambda i, p: "not an object",
        lambda i, p: {"recipient_id": p["id"], "channel": "post"},
    ]
    return [kinds[i % len(kinds)](i, people[i % len(people)]) for i in range(count)]


def single_answer(client: PrefsClient, item: dict[str, str]) -> CheckResult:
    """The item asked alone, the batch's defaults filled in; a refusal as the batch words it."""
    who = {name: item[name] for name in ("recipient_id", "email", "phone") if name in item}
    try:
        return client.check(item.get("topic", "newsletter"), item.get("channel", "email"), **who)
    except PrefsError as error:
        return CheckResult.invalid(error.code, error.message)


@pytest.mark.slow
def test_25000_checks_go_in_three_requests_and_answer_as_single_checks_do(prefs_server: LiveServer, newsletter: Topic) -> None:
    transport = RecordingTransport()
    with PrefsClient(prefs_server.url, prefs_server.admin_key, transport=transport) as client:
        people = known_people(client, 12)
        items = batch_items(people, 25_000)
        transport.requests.clear()

        results = client.check_batch(items, topic="newsletter", channel="email")

        sent = [json.loads(request.content) for request in transport.requests]
        assert [len(body["checks"]) for body in sent] == [10_000, 10_000, 5_000]
        assert [item for body in sent for item in body["checks"]] == items
        assert all(body["topic"] == "newsletter" and body["channel"] == "email" for body in sent)
        assert len(results) == 25_000
        for position, (item, result) in enumerate(zip(items, results, strict=True)):  # in input order
            if isinstance(item, dict) and item.get("recipient_id", "").startswith("unknown-"):
                assert result.recipient_id == f"unknown-{position}" and result.reason == "unknown_recipient"
        assert {result.reason for result in results} >= {
            "default",
            "unsubscribed",
            "subscribed",
            "deactivated",
            "mandatory",
            "invalid",
        }

        sample = range(0, 25_000, 97)
        for position in sample:
            item = items[position]
            if isinstance(item, dict):
                expected = single_answer(client, item)
                got = results[position]
                assert got == expected or (got.error and expected.error and got.error.code == expected.error.code), (
                    position,
                    item,
                )
            else:
                assert results[position] == CheckResult(
                    False, "invalid", error=ItemError("invalid", "A check item must be a JSON object.")
                )


def test_an_empty_batch_sends_nothing_and_items_json_cannot_carry_are_answered_invalid(prefs_server: LiveServer) -> None:
    transport = RecordingTransport()
    with PrefsClient(prefs_server.url, prefs_server.admin_key, transport=transport) as client:
        assert client.check_batch([]) == []
        assert transport.requests == []

        person = unique()
        results = client.check_batch(
            [{"recipient_id": person}, {"recipient_id": object()}, {"recipient_id": float("nan")}, {"recipient_id": person}],
            topic="billing",
            channel="email",
        )
    assert [result.reason for result in results] == ["unknown_recipient", "invalid", "invalid", "unknown_recipient"]
    assert results[1].error is not None and results[1].error.code == "invalid"
    assert [len(json.loads(request.content)["checks"]) for request in transport.requests] == [2]


def test_a_malformed_top_level_topic_fails_the_whole_batch(client: PrefsClient) -> None:
    with pytest.raises(Invalid) as refused:
        client.check_batch([{"recipient_id": "cust-1"}], topic="Not A Key", channel="email")
    assert "topic" in refused.value.details


def test_a_batch_the_server_finds_too_large_is_split_until_it_fits(start_server: Callable[..., LiveServer]) -> None:
    small = start_server(PREFS_MAX_BODY_BYTES="2000")  # far below 10,000 items
    transport = RecordingTransport()
    items = [{"recipient_id": f"unknown-{n:04d}"} for n in range(100)]  # about 3,000 bytes
    with PrefsClient(small.url, small.admin_key, transport=transport) as client:
        results = client.check_batch(items, topic="billing", channel="email")
        assert [result.recipient_id for result in results] == [item["recipient_id"] for item in items]
        assert [len(json.loads(request.content)["checks"]) for request in transport.requests] == [100, 50, 50]
        with pytest.raises(TooLarge):  # one item alone over the limit cannot be split
            client.check_batch([{"email": "x" * 2100 + "@example.com"}], topic="billing", channel="email")


def test_include_links_puts_links_on_allowed_marketing_email_results(client: PrefsClient, newsletter: Topic) -> None:
    person = unique()
    client.put_recipient(person, email=f"{person}@example.com")
    marketing, mandatory = client.check_batch(
        [{"recipient_id": person, "message_id": "campaign-7"}, {"recipient_id": person, "topic": "billing"}],
        topic="newsletter",
        channel="email",
        include_links=True,
    )
    assert marketing.allowed and marketing.links is not None
    assert marketing.links.headers["List-Unsubscribe"] == f"<{marketing.links.unsubscribe_url}>"
    assert mandatory.allowed and mandatory.links is None


def test_links_give_urls_and_the_headers_to_paste(client: PrefsClient, newsletter: Topic) -> None:
    person = unique()
    client.put_recipient(person, email=f"{person}@example.com")
    links = client.links(person, topic="newsletter", message_id="campaign-7-" + person)
    assert links.unsubscribe_url.startswith("https://prefs.example.com/u/")
    assert links.preferences_url.startswith("https://prefs.example.com/p/")
    assert links.headers == {
        "List-Unsubscribe": f"<{links.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert client.links(person).unsubscribe_url != links.unsubscribe_url  # all marketing, not the topic

    with pytest.raises(MandatoryTopic):
        client.links(person, topic="billing")
    with pytest.raises(NotFound):
        client.links(unique("nobody"), topic="newsletter")


def test_a_check_and_a_batch_ask_about_a_scheduled_send(prefs_server: LiveServer, newsletter: Topic) -> None:
    """`at` could not be sent (found by this round's review): a mailer could ask only about now (SPEC §17)."""
    from datetime import UTC, datetime

    from support import RecordingTransport

    person = unique()
    later = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    transport = RecordingTransport()
    with PrefsClient(prefs_server.url, prefs_server.admin_key, transport=transport) as client:
        client.put_recipient(person, email=f"{person}@example.com")
        assert client.check("newsletter", "email", recipient_id=person, at=later).reason == "default"
        assert client.check("newsletter", "email", recipient_id=person, at="2030-01-02T03:04:05-06:00").allowed
        [batch] = client.check_batch([{"recipient_id": person}], topic="newsletter", channel="email", at=later)
        assert batch.reason == "default"
        with pytest.raises(Invalid):
            client.check("newsletter", "email", recipient_id=person, at="tomorrow")
    sent = [
        json.loads(request.content) for request in transport.requests if request.url.path.endswith(("/check", "/check/batch"))
    ]
    assert [body.get("at") for body in sent] == [
        "2030-01-02T03:04:05+00:00",
        "2030-01-02T03:04:05-06:00",
        "2030-01-02T03:04:05+00:00",
        "tomorrow",
    ]


def test_a_batch_item_s_own_at_goes_as_text_and_a_naive_one_names_no_moment(prefs_server: LiveServer, newsletter: Topic) -> None:
    """An item's own datetime `at` could not be encoded, and the item was refused locally (a billing message
    included: found in review). It is sent as ISO text now; a datetime without a time zone names no moment."""
    from datetime import UTC, datetime

    person = unique()
    with PrefsClient(prefs_server.url, prefs_server.admin_key) as client:
        client.put_recipient(person, email=f"{person}@example.com")
        aware, naive = client.check_batch(
            [
                {"recipient_id": person, "topic": "billing", "at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)},
                {"recipient_id": person, "topic": "billing", "at": datetime(2030, 1, 2, 3, 4, 5)},
            ],
            channel="email",
        )
        assert aware.allowed and aware.reason == "mandatory"
        assert naive.reason == "invalid" and "time zone" in str(naive.error)
        with pytest.raises(ValueError, match="time zone"):
            client.check("billing", "email", recipient_id=person, at=datetime(2030, 1, 2))
