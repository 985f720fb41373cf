"""Recipients and their preferences: the life of one person, as a mailer's system drives it."""

from __future__ import annotations

import pytest
from support import unique, unique_phone

from prefs_client import AddressInUse, Erased, MandatoryTopic, NotFound, PrefsClient, Topic

EVIDENCE = {"collected_at": "2026-01-15T10:00:00Z", "source": "signup form"}


def test_a_recipients_life_from_creation_to_erasure(client: PrefsClient, newsletter: Topic) -> None:
    person, phone = unique(), unique_phone()
    created = client.put_recipient(person, email=f"{person}@Example.com", phone=phone, locale="en_GB")
    assert (created["id"], created["email"], created["phone"], created["locale"], created["status"]) == (
        person,
        f"{person}@example.com",
        phone,
        "en-GB",
        "active",
    )
    # PUT merges: fields left out stay, None clears.
    updated = client.put_recipient(person, locale=None, postal_address={"lines": ["1 Main St"], "country": "us"})
    assert updated["email"] == f"{person}@example.com" and updated["locale"] is None
    assert updated["postal_address"] is not None and updated["postal_address"]["country"] == "US"

    found = client.get_recipient(person)
    assert found["id"] == person and found["preferences"]["recipient_id"] == person
    assert [r["id"] for r in client.find_recipients(email=f" {person.upper()}@EXAMPLE.COM")] == [person]
    assert [r["id"] for r in client.find_recipients(phone=phone)] == [person]
    assert client.find_recipients(email=f"{unique('nobody')}@example.com") == []

    assert client.deactivate(person, reason="account closed")["status"] == "deactivated"
    assert client.check("billing", "email", recipient_id=person).reason == "deactivated"
    assert client.reactivate(person)["status"] == "active"
    assert client.check("billing", "email", recipient_id=person).reason == "mandatory"

    exported = client.export(person)
    assert exported["recipient"]["email"] == f"{person}@example.com"
    assert {event["kind"] for event in exported["events"]} >= {"recipient_created", "status_changed"}

    client.erase(person, reason="asked by email")
    client.erase(person)  # erasing again is no error
    with pytest.raises(NotFound):
        client.get_recipient(person)
    with pytest.raises(Erased) as tombstone:
        client.put_recipient(person, email=f"{person}@example.com")
    assert tombstone.value.status == 409 and tombstone.value.code == "erased"
    # The address stays suppressed: a stranger's check of it is refused.
    assert client.check("newsletter", "email", email=f"{person}@example.com").reason == "suppressed"


def test_an_address_held_by_someone_else_is_address_in_use(client: PrefsClient) -> None:
    first, second = unique(), unique()
    client.put_recipient(first, email=f"{first}@example.com")
    with pytest.raises(AddressInUse) as clash:
        client.put_recipient(second, email=f"{first}@example.com")
    assert clash.value.code == "address_in_use" and clash.value.status == 409


def test_preferences_change_all_or_nothing_and_show_in_the_matrix(client: PrefsClient, newsletter: Topic) -> None:
    person = unique()
    client.put_recipient(person, email=f"{person}@example.com", phone=unique_phone())
    matrix = client.preferences(person)
    newsletter_cells = next(topic for topic in matrix["topics"] if topic["key"] == "newsletter")["channels"]
    assert newsletter_cells["email"]["reason"] == "default" and newsletter_cells["sms"]["reason"] == "no_consent"

    changed = client.change_preferences(
        person,
        [{"topic": "newsletter", "channel": "sms", "subscribed": True}, {"channel": "email", "subscribed": False}],
        evidence=EVIDENCE,
        reason="asked by phone",
    )
    cells = next(topic for topic in changed["topics"] if topic["key"] == "newsletter")["channels"]
    assert cells["sms"] == {"allowed": True, "reason": "subscribed", "choice": True}
    assert cells["email"]["reason"] == "channel_unsubscribed" and changed["channels"]["email"]["stopped"] is True

    with pytest.raises(MandatoryTopic):  # all or nothing: the first change is not kept either
        client.change_preferences(person, [{"channel": "email", "subscribed": True}, {"topic": "billing", "subscribed": False}])
    assert client.preferences(person) == changed

    history = list(client.iter_history(person, limit=1))
    assert [event["kind"] for event in history][:2] == ["channel_stop", "topic_choice"]  # newest first
    assert history[-1]["kind"] == "recipient_created"
    assert history[1]["evidence"] == EVIDENCE and history[1]["reason"] == "asked by phone"


def test_the_audience_check_undeliverable_clearing_and_sync_receipts(client: PrefsClient, newsletter: Topic) -> None:
    person = unique()
    client.put_recipient(person, email=f"{person}@example.com")
    assert client.check_audience(recipient_id=person) == {"allowed": True, "reason": "no_opt_out", "recipient_id": person}
    assert client.check_audience(email=f"{person}@EXAMPLE.com")["recipient_id"] == person
    nobody = client.check_audience(email=f"{unique('nobody')}@example.com")
    assert (nobody["allowed"], nobody["reason"]) == (False, "unknown_recipient")

    # Nothing was marked undeliverable: clearing changes nothing and answers the matrix.
    matrix = client.clear_undeliverable(person, reason="the customer says the mailbox works")
    assert matrix["recipient_id"] == person
    assert client.check("billing", "email", recipient_id=person).reason == "mandatory"
    # No mail provider is configured on this server: no receipts, and an unknown person is not found.
    assert client.sync_receipts(person) == {"recipient_id": person, "targets": {}}
    with pytest.raises(NotFound):
        client.sync_receipts(unique("nobody"))


def test_a_recipients_time_zone_is_set_and_cleared(client: PrefsClient) -> None:
    """The client could not send it (found by this round's review), though PUT takes it (SPEC §17)."""
    person = unique()
    assert (
        client.put_recipient(person, email=f"{person}@example.com", time_zone="America/Chicago")["time_zone"] == "America/Chicago"
    )
    assert client.get_recipient(person)["time_zone"] == "America/Chicago"
    assert client.put_recipient(person, locale="en")["time_zone"] == "America/Chicago"  # left out: it stays
    assert client.put_recipient(person, time_zone=None)["time_zone"] is None
