"""Retries: calls that are safe to repeat come back after 429, 503 and a dropped connection, as Retry-After
says; a POST or PATCH that changes state is sent once, whatever happens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import LiveServer
from support import DROP, error_answer, scripted_server, unique

from prefs_client import ConnectionFailed, PrefsClient, RateLimited, Topic, Unavailable
from prefs_client.retries import parse_retry_after

UNAVAILABLE_NOW = error_answer(503, "unavailable", retry_after="0")


def test_a_check_and_a_put_are_sent_again_after_a_503(prefs_server: LiveServer) -> None:
    person = unique()
    with scripted_server(prefs_server.url, UNAVAILABLE_NOW) as proxy, PrefsClient(proxy.url, prefs_server.admin_key) as client:
        assert client.check("billing", "email", recipient_id=person).reason == "unknown_recipient"
        assert [request.path for request in proxy.received] == ["/api/v1/check"] * 2

        proxy.script.append(UNAVAILABLE_NOW)
        assert client.put_recipient(person, email=f"{person}@example.com")["id"] == person
        assert [request.method for request in proxy.received[2:]] == ["PUT", "PUT"]


def test_a_batch_and_a_read_are_sent_again_after_a_429(prefs_server: LiveServer) -> None:
    limited = error_answer(429, "rate_limited", retry_after="0")
    with scripted_server(prefs_server.url, limited, limited) as proxy, PrefsClient(proxy.url, prefs_server.admin_key) as client:
        assert [r.reason for r in client.check_batch([{"recipient_id": "a"}], topic="billing", channel="email")] == [
            "unknown_recipient"
        ]
        assert any(topic["key"] == "billing" for topic in client.topics())
    assert len(proxy.received) == 4


def test_a_patch_is_never_sent_twice(prefs_server: LiveServer, newsletter: Topic) -> None:
    person = unique()
    with PrefsClient(prefs_server.url, prefs_server.admin_key) as direct:
        direct.put_recipient(person, email=f"{person}@example.com")
        before = direct.preferences(person)
    with scripted_server(prefs_server.url, UNAVAILABLE_NOW) as proxy, PrefsClient(proxy.url, prefs_server.admin_key) as client:
        with pytest.raises(Unavailable) as refused:
            client.change_preferences(person, [{"topic": "newsletter", "channel": "email", "subscribed": False}])
        assert refused.value.retry_after == 0 and refused.value.status == 503
        assert [request.method for request in proxy.received] == ["PATCH"]
        assert client.preferences(person) == before


def test_a_dropped_connection_is_retried_for_a_read_and_not_for_a_change(prefs_server: LiveServer) -> None:
    person = unique()
    with (
        scripted_server(prefs_server.url, DROP, DROP) as proxy,
        PrefsClient(proxy.url, prefs_server.admin_key, backoff=0) as client,
    ):
        assert client.topics()
        assert len(proxy.received) == 3

        client.put_recipient(person, email=f"{person}@example.com")
        proxy.script.append(DROP)
        with pytest.raises(ConnectionFailed) as dropped:
            client.deactivate(person)
        assert dropped.value.status is None and "may or may not" in dropped.value.message
        assert [request.method for request in proxy.received[4:]] == ["POST"]


def test_retries_end_after_the_number_given_and_a_long_retry_after_is_not_waited_for(prefs_server: LiveServer) -> None:
    with scripted_server(prefs_server.url, *[UNAVAILABLE_NOW] * 4) as proxy:
        with PrefsClient(proxy.url, prefs_server.admin_key, retries=2) as client, pytest.raises(Unavailable):
            client.topics()
        assert len(proxy.received) == 3

    later = error_answer(429, "rate_limited", retry_after="120")
    with scripted_server(prefs_server.url, later) as proxy:
        with PrefsClient(proxy.url, prefs_server.admin_key, max_retry_after=60) as client, pytest.raises(RateLimited) as refused:
            client.topics()
        assert refused.value.retry_after == 120 and len(proxy.received) == 1

    with scripted_server(prefs_server.url, *[UNAVAILABLE_NOW] * 2) as proxy:
        with PrefsClient(proxy.url, prefs_server.admin_key, retries=0) as client, pytest.raises(Unavailable):
            client.topics()
        assert len(proxy.received) == 1


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:45 GMT", now) == 45.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now) == 0.0  # in the past: at once
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
