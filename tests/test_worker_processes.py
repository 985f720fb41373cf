"""The delivery worker as real processes (SPEC §12, R6): `flask --app app worker` killed with -9 mid-delivery
loses nothing and keeps each recipient's order; two workers on PostgreSQL never deliver one message at the
same time. The receiver runs in a process of its own (bench/receiver.py); bench/webhooks.py holds the runs
and their larger forms. On PostgreSQL the runs use a database of their own beside the suite's
(`<suite database>_workers`), because they empty the database they are given.
"""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ON_POSTGRES, TEST_DATABASE_URL, requires_postgres

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import webhooks  # noqa: E402

pytestmark = pytest.mark.slow  # real worker processes, killed

RECIPIENTS, EVENTS_EACH = 400, 5
MESSAGES = RECIPIENTS * EVENTS_EACH


def worker_database(tmp_path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'workers.sqlite3'}"
    server, _, name = TEST_DATABASE_URL.rpartition("/")
    return f"{server}/{name}_workers"  # created when missing, emptied by each run


def test_a_worker_killed_with_sigkill_mid_delivery_loses_nothing_and_keeps_each_recipients_order(tmp_path):
    outcome = webhooks.run_kills(worker_database(tmp_path), RECIPIENTS, EVENTS_EACH, kills=1, delay_ms=3, together=True)
    verdict = outcome.verdict
    assert verdict.expected == MESSAGES
    assert 0 < outcome.arrived_at_kills[0] < MESSAGES  # killed part-way, with a delivery in flight
    assert verdict.arrivals > verdict.distinct  # what was in flight arrived again after the restart, same webhook-id
    assert verdict.missing == [] and verdict.unexpected == [] and verdict.failed == 0
    assert verdict.out_of_order == []  # each recipient's first arrivals follow the event ids


@requires_postgres
def test_two_workers_on_postgresql_never_deliver_one_message_twice_at_once(tmp_path):
    outcome = webhooks.run_two_workers(worker_database(tmp_path), RECIPIENTS, EVENTS_EACH, delay_ms=3, together=True)
    verdict = outcome.verdict
    assert verdict.overlapping == []
    assert verdict.expected == MESSAGES and verdict.missing == [] and verdict.unexpected == [] and verdict.failed == 0
    assert verdict.out_of_order == []
    assert outcome.by_worker["worker 1"] > 0 and outcome.by_worker["worker 2"] > 0  # both had deliveries in flight
