"""Webhook endpoints through the admin API, and messages the real worker delivers to a loopback receiver,
verified the way a receiver verifies them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import LiveServer
from prefs.cli.worker import Worker
from prefs.runtime import runtime
from support import ScriptedServer, scripted_server, unique

from prefs_client import NotFound, PrefsClient, Topic, WebhookVerificationError, verify_webhook


@pytest.fixture
def receiver() -> Iterator[ScriptedServer]:
    with scripted_server() as server:  # answers 204 to everything
        yield server


def deliver(server: LiveServer) -> int:
    """One `flask worker --once` pass."""
    with server.app.app_context():
        worker = Worker(runtime(), seed=1)
        try:
            return worker.drain()
        finally:
            worker.close()


def test_endpoints_are_managed_and_their_messages_verify(
    client: PrefsClient, prefs_server: LiveServer, receiver: ScriptedServer, newsletter: Topic
) -> None:
    endpoint = client.create_webhook(receiver.url + "/hooks/prefs", events=["recipient.created"], description="crm")
    secret, endpoint_id = endpoint["secret"], endpoint["id"]
    assert secret.startswith("whsec_") and endpoint["enabled"] and endpoint["events"] == ["recipient.created"]
    listed = next(webhook for webhook in client.list_webhooks() if webhook["id"] == endpoint_id)
    assert "secret" not in listed and listed == client.get_webhook(endpoint_id)
    changed = client.update_webhook(endpoint_id, events=["*"], description="CRM sync")
    assert (changed["events"], changed["description"]) == (["*"], "CRM sync")

    person = unique()
    client.put_recipient(person, email=f"{person}@example.com")
    client.change_preferences(person, [{"topic": "newsletter", "channel": "email", "subscribed": False}])
    assert deliver(prefs_server) > 0

    messages = [verify_webhook(secret, request.body, request.headers) for request in receiver.received]
    assert [message["type"] for message in messages] == ["recipient.created", "preference.updated"]
    feed = {event["id"]: event for event in client.iter_events()}
    assert all(message["data"] == feed[message["data"]["id"]] for message in messages)
    assert {request.path for request in receiver.received} == {"/hooks/prefs"}

    first = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        verify_webhook("whsec_" + "QUJD" * 8, first.body, first.headers)  # another secret
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, first.body.replace(person.encode(), b"someone-else"), first.headers)
    with pytest.raises(WebhookVerificationError, match="headers"):
        verify_webhook(secret, first.body, {k: v for k, v in first.headers.items() if k != "webhook-signature"})
    with pytest.raises(ValueError, match="webhook secret"):
        verify_webhook([], first.body, first.headers)

    # A rotation: the old secret keeps signing beside the new one.
    new_secret = client.rotate_webhook_secret(endpoint_id)
    assert new_secret.startswith("whsec_") and new_secret != secret
    client.deactivate(person)
    deliver(prefs_server)
    rotated = receiver.received[-1]
    assert len(rotated.headers["webhook-signature"].split(" ")) == 2
    for secrets in (new_secret, secret, ["whsec_" + "QUJD" * 8, new_secret]):
        assert verify_webhook(secrets, rotated.body, rotated.headers)["type"] == "recipient.deactivated"

    attempts = client.webhook_deliveries(endpoint_id)
    assert [(a["type"], a["status_code"], a["delivery_status"]) for a in attempts] == [
        ("recipient.deactivated", 204, "delivered"),
        ("preference.updated", 204, "delivered"),
        ("recipient.created", 204, "delivered"),
    ]
    assert [a["message_id"] for a in reversed(attempts)] == [r.headers["webhook-id"] for r in receiver.received]

    # Replay sends the events again, with their first webhook-ids.
    first_event_id = messages[0]["data"]["id"]
    assert client.replay_webhook(endpoint_id, after=first_event_id - 1)["queued"] == 3
    deliver(prefs_server)
    assert [r.headers["webhook-id"] for r in receiver.received[3:]] == [r.headers["webhook-id"] for r in receiver.received[:3]]

    assert client.update_webhook(endpoint_id, enabled=False)["enabled"] is False
    client.delete_webhook(endpoint_id)
    with pytest.raises(NotFound):
        client.get_webhook(endpoint_id)


def test_a_retried_delete_that_finds_the_endpoint_gone_is_done_and_a_first_404_is_not(
    prefs_server: LiveServer, receiver: ScriptedServer
) -> None:
    """The first DELETE's answer lost, the retry's 404 raised NotFound although the endpoint was gone (found in
    review). The endpoint is deleted first here, then the proxy drops the first try and passes on the retry."""
    from support import DROP

    with PrefsClient(prefs_server.url, prefs_server.admin_key) as direct:
        endpoint = direct.create_webhook(receiver.url + "/hook")
        direct.delete_webhook(endpoint["id"])  # done: its answer is what the client below never sees
        with (
            scripted_server(prefs_server.url, DROP) as proxy,
            PrefsClient(proxy.url, prefs_server.admin_key, backoff=0) as client,
        ):
            client.delete_webhook(endpoint["id"])
            assert [request.method for request in proxy.received] == ["DELETE", "DELETE"]
        with pytest.raises(NotFound):
            direct.delete_webhook(endpoint["id"])
