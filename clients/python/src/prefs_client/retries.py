"""When to try a call again, and how long to wait first.

Only calls that are safe to repeat are retried (reads, PUT, DELETE, and the checks and links, which change
nothing), on 429, 503 and connection failures; a POST or PATCH that changes state is never sent twice by this
client, because the first one may have been applied.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  # tries after the first
    backoff: float = 0.5  # seconds before the first retry when the server names no wait; doubles each time
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a Retry-After longer than this is not waited for: the error is raised at once
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number `attempt` (0 for the first retry), so that
        many clients refused at once do not come back at once."""
        return self.rng.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date, RFC 9110 §10.2.3); None when
    absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
