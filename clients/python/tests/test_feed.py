"""The change feed, read page by page until caught up."""

from __future__ import annotations

from urllib.parse import parse_qs

from conftest import LiveServer
from support import RecordingTransport, unique

from prefs_client import PrefsClient, Topic


def test_iter_events_follows_next_across_pages_until_an_empty_page(prefs_server: LiveServer, newsletter: Topic) -> None:
    transport = RecordingTransport()
    with PrefsClient(prefs_server.url, prefs_server.admin_key, transport=transport) as client:
        start = max((event["id"] for event in client.iter_events()), default=0)
        person = unique()
        client.put_recipient(person, email=f"{person}@example.com")
        for subscribed in (False, True, False, True):
            client.change_preferences(person, [{"topic": "newsletter", "channel": "email", "subscribed": subscribed}])
        client.deactivate(person)
        transport.requests.clear()

        events = list(client.iter_events(after=start, limit=2))

        assert [event["recipient_id"] for event in events] == [person] * 6
        assert [event["kind"] for event in events] == ["recipient_created"] + ["topic_choice"] * 4 + ["status_changed"]
        assert [event["after"] for event in events[1:5]] == [False, True, False, True]  # commit order
        afters = [parse_qs(request.url.query.decode())["after"] for request in transport.requests]
        assert afters == [[str(start)], [str(events[1]["id"])], [str(events[3]["id"])], [str(events[5]["id"])]]

        page = client.events(after=start, limit=1000)
        assert page.events == events and page.next == events[-1]["id"]
        caught_up = client.events(after=events[-1]["id"])
        assert caught_up.events == [] and caught_up.next is None
