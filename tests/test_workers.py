"""Two app instances on one database stand for two workers (or machines): caches must notice each other."""

from __future__ import annotations

import time

import pytest
from conftest import BASE_SETTINGS, ApiClient

from prefs import create_app
from prefs.extensions import db

TTL = 0.3


@pytest.fixture
def worker_b(database_url, api):
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url, "PREFS_CACHE_TTL_SECONDS": str(TTL)})
    yield ApiClient(app.test_client(), api.key)
    with app.app_context():
        db.engine.dispose()


def test_topics_and_keys_changed_on_one_worker_reach_the_other(api, worker_b, person, make_key):
    assert worker_b.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"  # warms B's caches

    # A new topic works on the very next request elsewhere (reload on a miss).
    api.post("/topics", {"key": "offers", "name": "Offers", "channels": ["email"], "default_subscribed": {"email": True}})
    assert worker_b.check("offers", "email", recipient_id="cust-1")["reason"] == "default"

    # A change or revocation takes effect within the TTL (at most 5 s in production settings).
    check_key = make_key("revoke-me", "check")
    assert (
        worker_b.post("/check", {"recipient_id": "cust-1", "topic": "offers", "channel": "email"}, key=check_key).status_code
        == 200
    )
    api.delete("/topics/offers")
    api.client.application.test_cli_runner().invoke(args=["keys", "revoke", "revoke-me"])
    time.sleep(TTL * 1.5)
    assert worker_b.check("offers", "email", recipient_id="cust-1")["reason"] == "topic_archived"
    assert (
        worker_b.post("/check", {"recipient_id": "cust-1", "topic": "billing", "channel": "email"}, key=check_key).status_code
        == 401
    )
