"""Rate limits: per link on the recipient pages, never per address for good links; webhook secrets;
shared by every worker through Redis when PREFS_RATELIMIT_STORAGE_URL is set."""

from __future__ import annotations

import socket
import uuid

import pytest
from conftest import BASE_SETTINGS
from twilio.request_validator import RequestValidator

from prefs import create_app
from prefs.extensions import db


def link(api, recipient_id="cust-1", topic="newsletter") -> str:
    return (
        api.post("/links", {"recipient_id": recipient_id, "topic": topic})
        .get_json()["unsubscribe_url"]
        .removeprefix("https://prefs.example.com")
    )


def test_one_link_is_limited_others_are_not(api, client, newsletter, person):
    url = link(api)
    for _ in range(30):
        assert client.get(url).status_code == 200
    response = client.get(url)
    assert response.status_code == 429 and b"Too many tries" in response.data
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(link(api, "cust-1", None)).status_code == 200  # another link of the same person


@pytest.mark.slow  # 320 recipients and links
def test_many_good_one_click_posts_from_one_address_are_never_limited(api, client, newsletter):
    urls = []
    for n in range(320):  # more than the per-address budget for bad links
        api.put(f"/recipients/bulk-{n}", {"email": f"bulk{n}@example.com"})
        urls.append(link(api, f"bulk-{n}"))
    for url in urls:
        assert (
            client.post(url, data={"List-Unsubscribe": "One-Click"}, environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code
            == 200
        )


def test_an_address_sending_bad_links_is_limited(client):
    statuses = [client.get(f"/u/forged-{n}", environ_base={"REMOTE_ADDR": "192.0.2.66"}).status_code for n in range(301)]
    assert statuses[:300] == [400] * 300 and statuses[300] == 429
    assert client.get("/u/forged-x", environ_base={"REMOTE_ADDR": "192.0.2.67"}).status_code == 400  # another address


def test_webhook_secret_guessing_is_limited_but_sms_never_is(client, person):
    statuses = [
        client.post("/webhooks/email", data={"to": "x"}, headers={"X-Prefs-Webhook-Secret": f"guess-{n}"}).status_code
        for n in range(21)
    ]
    assert statuses[:20] == [403] * 20 and statuses[20] == 429
    for _ in range(60):
        assert (
            client.post(
                "/webhooks/sms", data={"From": "+14155550123", "Body": "HELP"}, headers={"X-Twilio-Signature": "bad"}
            ).status_code
            == 403
        )
    form = {"From": "+14155550123", "To": "+15005550006", "Body": "STOP"}
    signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
    assert client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_up(), reason="needs Redis at 127.0.0.1:6379 (PREFS_RATELIMIT_STORAGE_URL)")
def test_limits_are_shared_by_every_worker_through_redis(database_url, api, newsletter, person):
    prefix = f"prefs-test-{uuid.uuid4().hex}"
    settings = {
        **BASE_SETTINGS,
        "PREFS_DATABASE_URL": database_url,
        "PREFS_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/15",
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    workers = [create_app(settings), create_app(settings)]
    try:
        url = link(api)
        statuses = [workers[n % 2].test_client().get(url).status_code for n in range(31)]
        assert statuses[:30] == [200] * 30 and statuses[30] == 429
    finally:
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()


def test_the_mail_provider_is_never_locked_out_by_someone_guessing_the_secret(client):
    for n in range(25):
        client.post("/webhooks/email", data={"to": "x"}, headers={"X-Prefs-Webhook-Secret": f"guess-{n}"})
    response = client.post("/webhooks/email", data={"to": "x"}, headers={"X-Prefs-Webhook-Secret": "test-email-webhook-secret"})
    assert response.status_code == 200


@pytest.mark.skipif(not redis_up(), reason="needs Redis at 127.0.0.1:6379 (PREFS_RATELIMIT_STORAGE_URL)")
def test_redis_keeps_a_hash_of_the_link_never_its_token(database_url, api, newsletter, person):
    """Whoever can read Redis must not find working links there."""
    import hashlib

    import redis

    settings = {**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/15"}
    worker = create_app(settings)
    try:
        api.put("/recipients/redis-keys", {"email": "keys@example.com"})
        url = link(api, "redis-keys")  # a link no other test opened: Redis outlives a test
        token = url.rsplit("/", 1)[-1]
        assert worker.test_client().get(url).status_code == 200
    finally:
        with worker.app_context():
            db.engine.dispose()
    keys = [key.decode() for key in redis.Redis.from_url("redis://127.0.0.1:6379/15").keys("*link:*")]
    assert not [key for key in keys if token in key]
    assert [key for key in keys if hashlib.sha256(token.encode()).hexdigest() in key]
