"""When a person can have consented: the one rule for consent evidence dates, used by the API and the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Nothing this service records predates it by decades; an earlier date is a typo or a placeholder (1970-01-01).
EARLIEST_CONSENT = datetime(1990, 1, 1, tzinfo=UTC)
# A client's clock may run a little ahead of ours; more than this is a date that has not happened yet.
CLOCK_SKEW = timedelta(minutes=5)


def consent_time_problem(collected_at: datetime, now: datetime | None = None) -> str | None:
    """Why `collected_at` cannot be when the person consented, or None when it can. A naive time is UTC."""
    if collected_at.tzinfo is None:
        collected_at = collected_at.replace(tzinfo=UTC)
    if collected_at > (now or datetime.now(UTC)) + CLOCK_SKEW:
        return "Consent cannot have been given in the future."
    if collected_at < EARLIEST_CONSENT:
        return f"Consent cannot have been given before {EARLIEST_CONSENT.year}."
    return None
