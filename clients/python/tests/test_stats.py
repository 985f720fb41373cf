"""Insights: a campaign's unsubscribes counted, once the service's worker has folded them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import LiveServer
from support import RecordingTransport, unique

from prefs_client import Invalid, PrefsClient, Topic


def test_stats_counts_a_campaigns_one_click_unsubscribes(prefs_server: LiveServer, newsletter: Topic) -> None:
    campaign, other = unique("campaign"), unique("campaign")  # the tests share one database: campaigns of our own
    with PrefsClient(prefs_server.url, prefs_server.admin_key) as client:
        for campaign_of_the_link in (campaign, campaign, other):
            person = unique()
            client.put_recipient(person, email=f"{person}@example.com")
            path = urlsplit(client.links(person, topic="newsletter", message_id=campaign_of_the_link).unsubscribe_url).path
            one_click = httpx.post(prefs_server.url + path, data={"List-Unsubscribe": "One-Click"})
            assert one_click.status_code == 200
        assert prefs_server.app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0

        by_campaign = client.stats("message_id", order_by="opt_outs")
        row = next(row for row in by_campaign["rows"] if row["key"] == {"message_id": campaign})
        assert (row["opt_outs"], row["opt_ins"]) == (2, 0)
        assert by_campaign["truncated"] is False and by_campaign["group_by"] == ["message_id"]
        assert by_campaign["totals"]["opt_outs"] >= 3
        assert next(row for row in by_campaign["rows"] if row["key"] == {"message_id": other})["opt_outs"] == 1

        top = client.stats(["message_id"], order_by="opt_outs", limit=1)
        assert len(top["rows"]) == 1 and top["truncated"] is True  # at least our two campaigns

        today = datetime.now(UTC).date()
        by_day = client.stats(("day", "channel"), start=today, end=today.isoformat())
        assert (by_day["from"], by_day["to"]) == (today.isoformat(), today.isoformat())
        email_today = next(row for row in by_day["rows"] if row["key"] == {"day": today.isoformat(), "channel": "email"})
        assert email_today["opt_outs"] >= 3


def test_stats_sends_only_what_was_given(prefs_server: LiveServer) -> None:
    transport = RecordingTransport()
    with PrefsClient(prefs_server.url, prefs_server.admin_key, transport=transport) as client:
        client.stats()
        client.stats(["topic", "channel"], start="2026-11-01", order_by="opt_outs", limit=5)
    sent = [parse_qs(request.url.query.decode()) for request in transport.requests]
    assert sent == [
        {"group_by": ["day"]},
        {"group_by": ["topic,channel"], "from": ["2026-11-01"], "order_by": ["opt_outs"], "limit": ["5"]},
    ]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"group_by": "campaign"}, "invalid_group_by"),
        ({"group_by": ["day", "day"]}, "invalid_group_by"),
        ({"start": "2026-11-02", "end": "2026-11-01"}, "invalid_range"),
    ],
)
def test_a_question_the_service_refuses_raises_invalid_with_its_code(
    prefs_server: LiveServer, arguments: dict[str, Any], code: str
) -> None:
    with PrefsClient(prefs_server.url, prefs_server.admin_key) as client, pytest.raises(Invalid) as refused:
        client.stats(**arguments)
    assert refused.value.code == code and refused.value.status == 422
