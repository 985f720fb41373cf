"""Subscribing a person with evidence (POST /subscriptions): single opt-ins stored at once; a double opt-in topic
on a server without outbound email is refused as `mail_off`, and nothing is stored."""

from __future__ import annotations

import pytest
from conftest import LiveServer
from support import unique

from prefs_client import Invalid, NotFound, PrefsClient, Topic, UnknownTopic

EVIDENCE = {"source": "footer signup form", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}


def test_a_new_address_is_subscribed_at_once_to_a_single_opt_in_topic(client: PrefsClient, newsletter: Topic) -> None:
    address = f"{unique('new')}@example.com"
    done = client.subscribe(["newsletter"], EVIDENCE, email=address, locale="de")
    assert done["created"] is True and done["recipient_id"].startswith("sub-")
    assert (done["subscribed"], done["pending"], done["expires_at"]) == (["newsletter"], [], None)
    assert client.check("newsletter", "email", email=address).reason == "subscribed"
    [found] = client.find_recipients(email=address)
    assert found["id"] == done["recipient_id"] and found["locale"] == "de"
    again = client.subscribe(["newsletter"], EVIDENCE, recipient_id=done["recipient_id"])
    assert again["created"] is False


def test_refusals_raise_and_store_nothing(client: PrefsClient, newsletter: Topic) -> None:
    address = f"{unique('no')}@example.com"
    with pytest.raises(UnknownTopic):
        client.subscribe(["no-such-topic"], EVIDENCE, email=address)
    with pytest.raises(NotFound):
        client.subscribe(["newsletter"], EVIDENCE, recipient_id=unique("nobody"))
    with pytest.raises(Invalid) as missing_source:
        client.subscribe(["newsletter"], {"ip": "203.0.113.7"}, email=address)
    assert missing_source.value.code == "invalid"
    assert client.find_recipients(email=address) == []


def test_a_double_opt_in_topic_without_outbound_email_is_mail_off(client: PrefsClient, prefs_server: LiveServer) -> None:
    key = unique("letters").lower()
    topic = {"key": key, "name": "Letters", "channels": ["email"], "confirmation": "double"}  # (create_topic has no confirmation)
    made = prefs_server.app.test_client().post(
        "/api/v1/topics", json=topic, headers={"Authorization": f"Bearer {prefs_server.admin_key}"}
    )
    assert made.status_code == 201, made.get_json()
    address = f"{unique('dbl')}@example.com"
    with pytest.raises(Invalid) as refused:
        client.subscribe([key], EVIDENCE, email=address)
    assert refused.value.code == "mail_off" and refused.value.status == 422
    assert client.find_recipients(email=address) == []
