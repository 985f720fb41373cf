"""In-process copy of the topic catalogue, shared by every request of a worker.

Another worker or machine may change a topic at any time: the copy is dropped within half a second of a
change committed anywhere (db/generations.py), reloaded when older than PREFS_CACHE_TTL_SECONDS (at most 5 s,
SPEC §8) as a fallback, and on a miss, which makes a new topic usable at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from sqlalchemy import select

from .db.generations import TOPICS, CacheGenerations
from .decision import TopicRule
from .extensions import db
from .models import Topic


def topic_rule(topic: Topic) -> TopicRule:
    channels = frozenset(topic.channels)
    return TopicRule(
        key=topic.key,
        name=topic.name,
        mandatory=topic.mandatory,
        channels=channels,
        default_on=frozenset(c for c, on in (topic.default_subscribed or {}).items() if on and c in channels),
        archived=topic.archived,
        description=topic.description or "",
        id=topic.id,
        names=dict(topic.names or {}),
        descriptions=dict(topic.descriptions or {}),
        confirmation=topic.confirmation or "single",
    )


class TopicCatalogue:
    def __init__(self, ttl_seconds: float, generations: CacheGenerations | None = None) -> None:
        self._ttl = ttl_seconds
        self._rules: dict[str, TopicRule] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()  # one reload at a time
        # Counts invalidations; a reload that saw one during its read does not stamp its copy fresh.
        self._epoch = 0
        self._stamp_lock = threading.Lock()
        self._generations = generations or CacheGenerations()
        self._generations.watch(TOPICS, self.invalidate)

    def all(self) -> dict[str, TopicRule]:
        self._generations.poll()
        if time.monotonic() - self._loaded_at > self._ttl:
            self._reload()
        return self._rules

    def get(self, key: str) -> TopicRule | None:
        rule = self.all().get(key)
        if rule is None:
            rule = self._reload().get(key)
        return rule

    def get_many(self, keys: Iterable[str]) -> dict[str, TopicRule]:
        """Rules for the keys that exist; reloads at most once, whatever the number of misses."""
        rules = self.all()
        if any(key not in rules for key in keys):
            rules = self._reload()
        return rules

    def invalidate(self) -> None:
        with self._stamp_lock:
            self._epoch += 1
            self._loaded_at = float("-inf")

    def _reload(self) -> dict[str, TopicRule]:
        """Read the catalogue. On a threaded server another request may see a change and invalidate while this
        read is under way, and the read may predate that change: the copy is then used but not stamped fresh,
        so the next request reads again (else it would stand until the TTL, past P7's second)."""
        with self._lock:
            epoch = self._epoch
            topics = db.session.execute(select(Topic)).scalars().all()
            self._rules = rules = {topic.key: topic_rule(topic) for topic in topics}
            with self._stamp_lock:
                if self._epoch == epoch:
                    self._loaded_at = time.monotonic()
            return rules
