"""Operating prefs under its production server (issue 18, acceptance 1 and 2): a real gunicorn with two workers,
JSON logs and metrics on, and a delivery worker sharing the metrics directory. After a scripted scenario the
scrape's counters moved by exactly what the scenario did, summed over both workers; every log line is JSON, the
request ids in them are the ones the responses carried, and no address, token or key is in them (S2)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_gunicorn_logs import ROOT, Server
from webhook_receiver import Receiver

pytestmark = pytest.mark.slow  # a real gunicorn and a real worker process

TOKEN = "metrics-token-0123456789"
EMAIL, PHONE = "Ann@Example.com", "+14155550123"  # the `person` fixture's


def scrape(server: Server) -> dict[tuple[str, frozenset], float]:
    status, body, _ = server.open("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def wait_for_both_workers(server: Server, log_path) -> None:
    """gunicorn answers as soon as one worker has loaded the app; on a busy machine the other may take seconds.
    Until the log shows requests answered by two processes, keep asking (in parallel, so both are asked)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: server.open("/healthz"), range(8)))
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        if len({line["pid"] for line in lines if line.get("logger") == "prefs.request"}) == 2:
            return
        time.sleep(0.2)
    raise AssertionError("the second gunicorn worker never answered")


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def test_a_scenario_under_two_gunicorn_workers_is_counted_and_logged_as_json(
    database_url, api, newsletter, person, receiver, tmp_path
):
    assert api.post("/webhooks", {"url": receiver.url(), "events": ["*"]}).status_code == 201
    key = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    settings = {
        "PREFS_LOG_FORMAT": "json",
        "PREFS_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "PREFS_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "PREFS_QUIET_HOURS": "",
    }
    server = Server(database_url, tmp_path / "gunicorn.log", workers=2, env=settings)
    answered_ids: list[str] = []
    given_ids: list[str] = []
    try:
        wait_for_both_workers(server, tmp_path / "gunicorn.log")
        before = scrape(server)

        def check(n: int) -> dict:
            who = [{"recipient_id": "cust-1"}, {"email": EMAIL}, {"phone": PHONE}, {"recipient_id": f"nobody-{n}"}][n % 4]
            topic, channel = [("newsletter", "email"), ("newsletter", "sms"), ("billing", "email"), ("newsletter", "email")][
                n % 4
            ]
            headers = {**key, "X-Request-Id": f"scenario-{n}"} if n % 2 else key
            body = json.dumps({**who, "topic": topic, "channel": channel}).encode()
            status, text, answer_headers = server.open("/api/v1/check", data=body, headers=headers)
            assert status == 200, text
            answered_ids.append(answer_headers["X-Request-Id"])
            if n % 2:
                given_ids.append(f"scenario-{n}")
                assert answer_headers["X-Request-Id"] == f"scenario-{n}"
            return json.loads(text)

        with ThreadPoolExecutor(6) as pool:  # concurrent, so both sync workers answer some
            answers = list(pool.map(check, range(120)))
        batch = {
            "topic": "newsletter",
            "channel": "email",
            "checks": [{"recipient_id": "cust-1"}, {"email": "nope"}, {"phone": PHONE}],
        }
        status, text, headers = server.open("/api/v1/check/batch", data=json.dumps(batch).encode(), headers=key)
        assert status == 200, text
        answers += json.loads(text)["results"]
        answered_ids.append(headers["X-Request-Id"])

        status, text, headers = server.open(
            "/api/v1/links", data=json.dumps({"recipient_id": "cust-1", "topic": "newsletter"}).encode(), headers=key
        )
        links = json.loads(text)
        answered_ids.append(headers["X-Request-Id"])
        unsubscribe = links["unsubscribe_url"].removeprefix("https://prefs.example.com")
        preferences = links["preferences_url"].removeprefix("https://prefs.example.com")
        for path, data in ((unsubscribe, None), (unsubscribe, b"List-Unsubscribe=One-Click"), (preferences, None)):
            status, _, headers = server.open(path, data=data)
            assert status == 200
            answered_ids.append(headers["X-Request-Id"])
        status, _, headers = server.open("/api/v1/recipients?" + urllib.parse.urlencode({"email": EMAIL}), headers=key)
        assert status == 200
        answered_ids.append(headers["X-Request-Id"])

        # The delivery worker, another process, counting into the same directory.
        worker = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--once"],
            cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
        after = scrape(server)
    finally:
        logged = server.stop()

    # 1. Counters, summed over both gunicorn workers (and the delivery worker).
    expected = Counter((answer.get("channel", "none"), answer["reason"]) for answer in answers)
    assert len(expected) >= 4
    for (channel, reason), n in expected.items():
        assert moved(before, after, "prefs_checks_total", channel=channel, reason=reason) == n, (channel, reason)
    assert moved(before, after, "prefs_http_requests_total", method="POST", route="/api/v1/check", status="200") == 120
    assert moved(before, after, "prefs_unsubscribes_total", via="one_click", changed="true") == 1
    assert len(receiver.received) == 1  # the unsubscribe (the person was created before the endpoint)
    assert moved(before, after, "prefs_deliveries_total", kind="webhook", result="delivered") == len(receiver.received)
    assert after[("prefs_outbox_depth", frozenset({("stage", "delivery")}))] == 0

    # 2. JSON logs: every line parses; the request lines carry the ids the responses did; two workers answered.
    lines = [line for line in (logged + worker.stderr + worker.stdout).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    requests = [record for record in records if record.get("logger") == "prefs.request"]
    assert {record["request_id"] for record in requests} >= set(answered_ids)
    assert set(given_ids) <= {record["request_id"] for record in requests}
    checks_by = {record["pid"] for record in requests if record["route"] == "/api/v1/check"}
    assert len(checks_by) == 2, checks_by
    assert all({"time", "level", "message", "pid"} <= record.keys() for record in records)
    assert {"route", "status", "duration_ms", "method"} <= requests[0].keys()

    # S2 over the whole log.
    tokens = [unsubscribe.rsplit("/", 1)[-1], preferences.rsplit("/", 1)[-1]]
    text = "\n".join(lines)
    for secret in [*tokens, EMAIL, EMAIL.lower(), urllib.parse.quote(EMAIL), PHONE, PHONE.lstrip("+"), api.key, TOKEN]:
        assert secret not in text, secret
    assert not re.search(r"[\w.+-]+(@|%40)[\w-]+\.[\w.]+", text, re.IGNORECASE), "an email address was logged"
    assert os.listdir(settings["PROMETHEUS_MULTIPROC_DIR"])  # the processes did count into files there
