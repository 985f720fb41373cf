"""The delivery worker's loop (Worker.run_until) in a thread, for tests that watch what it does meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prefs.cli.worker import Worker
from prefs.runtime import runtime


@contextmanager
def worker_running(app) -> Iterator[threading.Event]:
    """Runs the worker on `app` until the block ends (or sets the event it yields); then stops it and fails the
    test if it raised or did not stop."""
    stop, failures = threading.Event(), []

    def run() -> None:
        with app.app_context():
            worker = Worker(runtime())
            try:
                worker.run_until(stop)
            except Exception as error:  # what the test must not see
                failures.append(error)
            finally:
                worker.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=40)
    assert not thread.is_alive() and failures == []
