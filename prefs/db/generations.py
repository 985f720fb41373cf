"""Cache coherence across processes and nodes (SPEC §18, P7): each cache of a table that rarely changes (the
topic catalogue, API keys) has a generation number in `cache_generations`. A change bumps it in its own
transaction; every process reads the generations at most every COHERENCE_SECONDS and drops the caches whose
number moved. So a topic archived or a key revoked on one node is honoured everywhere within about half a
second, through any connection pooler (LISTEN/NOTIFY would not pass pgbouncer's transaction mode), at the cost
of one primary-key read per process per half second. The caches' TTL (PREFS_CACHE_TTL_SECONDS) stays as the
fallback.

An UPDATE of one row, not a max(id) of an event table: concurrent bumps queue on the row lock, so a reader can
never see a later change committed and miss an earlier one still in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .driver import DriverSql
from .statements import BUMP_CACHE_GENERATION, CACHE_GENERATIONS

COHERENCE_SECONDS = 0.5
TOPICS = "topics"
API_KEYS = "api_keys"


def bump(name: str) -> None:
    """In the transaction of the change: every process drops its cache `name` once this commits."""
    DriverSql().execute(BUMP_CACHE_GENERATION, (name,))


class CacheGenerations:
    """One per process: polled by each cache before it answers, calls back the caches whose table changed."""

    def __init__(self, every_seconds: float = COHERENCE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every_seconds
        self.clock = clock  # tests step it instead of sleeping
        self._checked_at = float("-inf")
        self._seen: dict[str, int] = {}
        self._on_change: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def watch(self, name: str, invalidate: Callable[[], None]) -> None:
        self._on_change.setdefault(name, []).append(invalidate)

    def poll(self) -> None:
        """Cheap when not due (a clock read); when due, one small query."""
        if self.clock() - self._checked_at < self._every:
            return
        with self._lock:
            if self.clock() - self._checked_at < self._every:  # another thread just did it
                return
            current = {name: int(generation) for name, generation in DriverSql().rows(CACHE_GENERATIONS)}
            self._checked_at = self.clock()
            first = not self._seen
            changed = [name for name, generation in current.items() if self._seen.get(name) != generation]
            self._seen = current
        if first:
            return  # the caches were filled from the database just as it is; nothing to drop
        for name in changed:
            for invalidate in self._on_change.get(name, ()):
                invalidate()
