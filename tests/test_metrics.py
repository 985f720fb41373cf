"""GET /metrics (prefs/metrics.py) in one process: who may read it, and that each counter moves by what the
requests made it do. tests/test_metrics_gunicorn.py proves the sums over several gunicorn workers."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import ON_POSTGRES
from prometheus_client.parser import text_string_to_metric_families
from test_webhooks import add_endpoint, deliver
from webhook_receiver import Receiver

from prefs.db.driver import fast_paths_engine
from prefs.extensions import db
from prefs.logs import request_id_for
from prefs.metrics import forget_dead_processes

TOKEN = "metrics-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings_override():
    return {"PREFS_METRICS_TOKEN": TOKEN}


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_need_the_token_and_are_absent_without_the_setting(app, client, database_url):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # not as a bearer token
    assert client.get("/metrics", headers=AUTH).status_code == 200

    from conftest import BASE_SETTINGS

    from prefs import create_app

    without = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})
    assert without.test_client().get("/metrics", headers=AUTH).status_code == 404


def test_checks_are_counted_by_channel_and_reason_single_and_batch(app, api, client, newsletter, person):
    before = scrape(client)
    answers = [
        api.check("newsletter", "email", recipient_id="cust-1"),  # default
        api.check("newsletter", "sms", recipient_id="cust-1"),  # no_consent
        api.check("billing", "email", recipient_id="cust-1"),  # mandatory
        api.check("newsletter", "email", email="nobody@example.com"),  # unknown_recipient
    ]
    batch = api.post(
        "/check/batch",
        {
            "topic": "newsletter",
            "channel": "email",
            "checks": [
                {"recipient_id": "cust-1"},
                {"recipient_id": "cust-2"},
                {"email": "not an address"},
                {"recipient_id": "cust-1"},
            ],
        },
    )
    assert batch.status_code == 200
    answers += batch.get_json()["results"]
    after = scrape(client)

    expected = Counter((answer.get("channel", "none"), answer["reason"]) for answer in answers)
    assert expected[("none", "invalid")] == 1 and expected[("email", "default")] == 3  # the scenario is what it says
    for (channel, reason), n in expected.items():
        assert moved(before, after, "prefs_checks_total", channel=channel, reason=reason) == n, (channel, reason)
    assert moved(before, after, "prefs_http_requests_total", method="POST", route="/api/v1/check", status="200") == 4
    assert moved(before, after, "prefs_http_request_duration_seconds_count", method="POST", route="/api/v1/check/batch") == 1


def test_one_clicks_rate_limits_and_unmatched_routes_are_counted(app, api, client, newsletter, person):
    links = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter"}).get_json()
    unsubscribe = links["unsubscribe_url"].removeprefix("https://prefs.example.com")
    before = scrape(client)
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # already out
    assert client.post(unsubscribe).status_code == 200  # the confirmation page's button
    statuses = [
        client.post("/webhooks/email", data={"to": "x"}, headers={"X-Prefs-Webhook-Secret": f"guess-{n}"}).status_code
        for n in range(25)
    ]
    assert client.get("/no/such/page/ann@example.com").status_code == 404
    after = scrape(client)

    assert moved(before, after, "prefs_unsubscribes_total", via="one_click", changed="true") == 1
    assert moved(before, after, "prefs_unsubscribes_total", via="one_click", changed="false") == 1
    assert moved(before, after, "prefs_unsubscribes_total", via="confirm_page", changed="false") == 1
    assert moved(before, after, "prefs_rate_limited_total", route="/webhooks/email") == statuses.count(429) > 0
    assert moved(before, after, "prefs_http_requests_total", method="POST", route="/u/<token>", status="200") == 3
    assert moved(before, after, "prefs_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any("ann@example.com" in str(labels) or "/u/ey" in str(labels) for _, labels in after), "a URL became a label"


def test_outbox_depth_and_age_then_deliveries_by_result(app, api, client, newsletter, person, receiver):
    deliver(app)  # the person's creation: fanned out to no endpoint, gone
    assert scrape(client)[("prefs_outbox_depth", frozenset({("stage", "outbox")}))] == 0
    add_endpoint(api, receiver)
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]})
    waiting = scrape(client)
    assert waiting[("prefs_database_up", frozenset())] == 1
    assert waiting[("prefs_outbox_depth", frozenset({("stage", "outbox")}))] == 1
    assert waiting[("prefs_outbox_oldest_age_seconds", frozenset({("stage", "outbox")}))] >= 0

    delivered = deliver(app)
    after = scrape(client)
    assert delivered >= 2 and len(receiver.received) == 1  # one fanned out, one delivered
    assert moved(waiting, after, "prefs_deliveries_total", kind="webhook", result="delivered") == 1
    assert after[("prefs_outbox_depth", frozenset({("stage", "outbox")}))] == 0
    assert after[("prefs_outbox_depth", frozenset({("stage", "delivery")}))] == 0

    # A receiver that fails: the attempt is counted as a retry, and the delivery waits, ageing.
    receiver.answer = lambda request: (500, {})
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]})
    deliver(app)
    failing = scrape(client)
    assert moved(after, failing, "prefs_deliveries_total", kind="webhook", result="retry") == 1
    assert failing[("prefs_outbox_depth", frozenset({("stage", "delivery")}))] == 1
    assert failing[("prefs_outbox_oldest_age_seconds", frozenset({("stage", "delivery")}))] >= 0


def test_database_pool_use_is_reported_per_pool(app, client, api, newsletter, person):
    """Each pool reports its use and capacity under its own `pool` label, so one running dry shows as dry. The
    fast paths' own pool (PostgreSQL: the check, the one-click, the import) counts its capacity from its first
    use, once: a process that never checks (the delivery worker) adds no capacity nobody asks for."""
    before = scrape(client)
    for pool in ("sessions", "fast_paths") if ON_POSTGRES else ("sessions",):  # SQLite: the fast paths use the sessions'
        assert before[("prefs_db_pool_connections_in_use", frozenset({("pool", pool)}))] >= 0
    assert before[("prefs_db_pool_capacity", frozenset({("pool", "sessions")}))] > 0
    api.check("newsletter", "email", recipient_id="cust-1")  # the fast paths' first use in this app
    api.check("newsletter", "sms", recipient_id="cust-1")
    after = scrape(client)
    with app.app_context():
        pool = fast_paths_engine(db.engine).pool
        own_pool = fast_paths_engine(db.engine) is not db.engine
        size = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    assert moved(before, after, "prefs_db_pool_capacity", pool="fast_paths") == (size if own_pool else 0)
    assert own_pool is ON_POSTGRES


def test_the_request_id_is_the_callers_when_plain_else_a_new_one(app, client):
    given = client.get("/healthz", headers={"X-Request-Id": "req-7f3a.trace:1"})
    assert given.headers["X-Request-Id"] == "req-7f3a.trace:1"
    made = client.get("/healthz")
    other = client.get("/healthz")
    assert len(made.headers["X-Request-Id"]) == 32 and made.headers["X-Request-Id"] != other.headers["X-Request-Id"]
    for unfit in ("ann@example.com", "x" * 129, "two words", ""):
        answer = client.get("/healthz", headers={"X-Request-Id": unfit}).headers["X-Request-Id"]
        assert answer != unfit and len(answer) == 32
    assert request_id_for("a" * 128) == "a" * 128


def test_only_dead_processes_value_files_are_forgotten(tmp_path):
    for name in ("counter_100.db", "histogram_100.db", "counter_200.db", "gauge_livesum_200.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    removed = forget_dead_processes(str(tmp_path), lambda pid: pid == 200)
    assert sorted(removed) == ["counter_100.db", "histogram_100.db"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_200.db", "gauge_livesum_200.db", "notes.txt"]


def test_a_forked_process_makes_its_own_request_ids():
    """gunicorn forks its workers: each must make ids of its own, never its parent's sequence."""
    import os

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        os.write(write_end, request_id_for(None).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 64).decode()
    parent = request_id_for(None)
    assert len(child) == len(parent) == 32 and child[:16] != parent[:16]
