"""Channel-generic behaviour, run over every channel of the registry (prefs/channels.py).

With PREFS_TEST_FIFTH_CHANNEL=1 (conftest.py) the registry holds a test-only fifth channel, and these tests
run over five: adding a channel is one entry in the registry (SPEC §11)."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import pytest
from test_sms import text

from prefs.channels import CHANNELS, KEYWORD_STOPPED, REGISTRY, channels_reaching
from prefs.services import forms
from prefs.tokens import mailto_reference, read_mailto_reference

PEOPLE = {"email": "eve@example.com", "phone": "+14155550123", "postal_address": {"lines": ["1 Main St"], "country": "US"}}


def test_the_registry_is_what_the_run_asked_for():
    assert len(CHANNELS) == (5 if os.environ.get("PREFS_TEST_FIFTH_CHANNEL") else 4)
    assert CHANNELS[:4] == ("email", "sms", "phone", "post")


def test_the_api_document_lists_every_channel(client):
    document = client.get("/api/v1/openapi.json").get_json()
    enums = [s.get("enum") for s in _walk(document) if isinstance(s, dict) and "enum" in s and "email" in s.get("enum", [])]
    enums = [tuple(value for value in enum if value is not None) for enum in enums]  # None: nullable
    # Narrower on purpose, and from the registry too: a subscribe form's channel (email only, SPEC §14) and the
    # channels an email address or a phone number is reached on (POST /subscriptions).
    reaching = {field: tuple(name for name in CHANNELS if name in channels_reaching(field)) for field in ("email", "phone")}
    narrower = {(forms.CHANNEL,), *reaching.values()}
    assert CHANNELS in enums and all(enum == CHANNELS or enum in narrower for enum in enums), enums
    subscribe = document["components"]["schemas"]["SubscriptionIn"]["anyOf"]
    assert [branch.get("properties", {}).get("channel", {}).get("enum") for branch in subscribe] == [
        None,
        list(reaching["email"]),
        list(reaching["phone"]),
    ]


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


@pytest.fixture
def everywhere(api):
    """A marketing topic and a mandatory one on every channel, on by default, and a person with every address."""
    defaults = dict.fromkeys(CHANNELS, True)
    assert (
        api.post("/topics", {"key": "all", "name": "All", "channels": list(CHANNELS), "default_subscribed": defaults}).status_code
        == 201
    )
    assert (
        api.post("/topics", {"key": "alerts", "name": "Alerts", "mandatory": True, "channels": list(CHANNELS)}).status_code == 201
    )
    assert api.put("/recipients/eve", PEOPLE).status_code == 201


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_is_decided_choice_by_choice(api, everywhere, channel):
    assert api.check("all", channel, recipient_id="eve")["reason"] == "default"
    api.put("/recipients/adam", {"email": "adam@example.com"})
    expected = "default" if REGISTRY[channel].address.field == "email" else "no_address"
    assert api.check("all", channel, recipient_id="adam")["reason"] == expected
    patch = api.patch("/recipients/eve/preferences", {"changes": [{"topic": "all", "channel": channel, "subscribed": False}]})
    assert patch.status_code == 200
    assert api.check("all", channel, recipient_id="eve")["reason"] == "unsubscribed"
    api.patch("/recipients/eve/preferences", {"changes": [{"channel": channel, "subscribed": False}]})
    assert api.check("all", channel, recipient_id="eve")["reason"] == "channel_unsubscribed"
    assert api.check("alerts", channel, recipient_id="eve")["reason"] == "mandatory"
    others = [c for c in CHANNELS if c != channel]
    assert all(api.check("all", other, recipient_id="eve")["reason"] == "default" for other in others)


def test_the_matrix_shows_every_channel_with_its_masked_address(api, everywhere):
    matrix = api.get("/recipients/eve/preferences").get_json()
    assert tuple(matrix["channels"]) == CHANNELS
    for channel, state in matrix["channels"].items():
        address = REGISTRY[channel].address
        assert state["address"] == address.mask(api.get("/recipients/eve").get_json()[address.field])
        assert ("sms_stop" in state) == (channel in KEYWORD_STOPPED)
    assert tuple(next(t for t in matrix["topics"] if t["key"] == "all")["channels"]) == CHANNELS


def test_a_stop_keyword_stops_exactly_the_keyword_channels(api, client, everywhere):
    text(client, "STOP")
    for channel in CHANNELS:
        reason = api.check("alerts", channel, recipient_id="eve")["reason"]
        assert reason == ("sms_stop" if channel in KEYWORD_STOPPED else "mandatory"), channel


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_links_one_click_stops_its_own_channel(api, client, everywhere, channel):
    links = api.post("/links", {"recipient_id": "eve", "channel": channel, "topic": "all"}).get_json()
    assert client.post(urlparse(links["unsubscribe_url"]).path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    for other in CHANNELS:
        assert api.check("all", other, recipient_id="eve")["reason"] == ("unsubscribed" if other == channel else "default")
    page = client.get(urlparse(links["preferences_url"]).path).get_data(as_text=True)
    assert all(f'name="*:{other}"' in page for other in CHANNELS)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_mailto_reference_keeps_its_channel(channel):
    reference = mailto_reference("k", 42, 7, channel, now=86400 * 20000)
    target = read_mailto_reference(["k"], reference, 365, now=86400 * 20001)
    assert (target.recipient_pk, target.topic_id, target.channel) == (42, 7, channel)
    assert len(f"unsubscribe+{reference}") <= 64
