"""Webhook endpoints (SPEC §13): where signed event messages go, which types each wants, their secrets.

The URL rules (https only, no loopback/private/link-local/metadata address unless the host is allowed) are
checked here when an endpoint is saved and again by the HTTP client on every connect (prefs/outbound).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..db.driver import DriverSql
from ..db.ids import fits_int_id
from ..db.statements import INSERT_DELIVERY
from ..errors import PrefsError, invalid
from ..extensions import db
from ..models import ConsentEvent, Delivery, DeliveryAttempt, WebhookEndpoint, utcnow
from ..outbound.netguard import ForbiddenDestination, check_url
from .admin_events import record_admin_event
from .outbox import EVENT_TYPES, webhook_type

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)  # the old secret keeps signing beside the new one this long
MAX_OLD_SECRETS = 10
MAX_DESCRIPTION = 500
REPLAY_LIMIT = 10_000  # events queued by one replay call; call again with the last id for more


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_secrets(secret: str, previous: Sequence[Mapping[str, str]] | None, now: datetime) -> list[str]:
    """The secrets that sign a message sent at `now`: the current one, and each one rotated out within 24 h
    (a second rotation does not cut the first one's 24 h short, SPEC §13)."""
    return [secret, *(entry["secret"] for entry in previous or () if _signs_until(entry) > now)]


def old_secrets_sign_until(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """Until when a secret rotated out still signs beside the current one (None: none does)."""
    return max((until for entry in endpoint.previous_secrets or () if (until := _signs_until(entry)) > now), default=None)


def _signs_until(entry: Mapping[str, str]) -> datetime:
    return _aware(datetime.fromisoformat(entry["until"]))


def endpoint_to_dict(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The API's view of an endpoint: never its secret."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _iso(endpoint.failing_since),
        "created_at": _iso(endpoint.created_at),
        "updated_at": _iso(endpoint.updated_at),
    }


def list_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """Raises PrefsError(not_found)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id) if fits_int_id(endpoint_id) else None
    if endpoint is None:
        raise PrefsError("not_found", "No such webhook endpoint.")
    return endpoint


def create_endpoint(
    fields: Mapping[str, Any], allow_hosts: frozenset[str], actor: str, actor_id: str | None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, enabled; returns it and its secret (shown only now). Raises PrefsError(invalid)."""
    url = checked_url(fields.get("url"), allow_hosts)
    events = checked_events(fields.get("events", ["*"]))
    description = checked_description(fields.get("description", ""))
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url, events=events, description=description, enabled=True, secret=secret)
    db.session.add(endpoint)
    db.session.flush()
    record_admin_event(actor, actor_id, "webhook.created", str(endpoint.id), {"url": url, "events": events})
    return endpoint, secret


def update_endpoint(
    endpoint_id: int, fields: Mapping[str, Any], allow_hosts: frozenset[str], actor: str, actor_id: str | None
) -> WebhookEndpoint:
    """Change url, events, description or enabled. Re-enabling clears the failure record. Raises PrefsError."""
    endpoint = get_endpoint(endpoint_id)
    changes: dict[str, Any] = {}
    if "url" in fields:
        changes["url"] = checked_url(fields["url"], allow_hosts)
    if "events" in fields:
        changes["events"] = checked_events(fields["events"])
    if "description" in fields:
        changes["description"] = checked_description(fields["description"])
    if "enabled" in fields:
        if not isinstance(fields["enabled"], bool):
            raise invalid("enabled", "true or false.")
        changes["enabled"] = fields["enabled"]
    changes = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
    if not changes:
        return endpoint
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if changes.get("enabled") is True:
        endpoint.disabled_reason, endpoint.failing_since = None, None
    elif changes.get("enabled") is False:
        endpoint.disabled_reason = "disabled by an administrator"
    record_admin_event(actor, actor_id, "webhook.updated", str(endpoint.id), changes)
    return endpoint


def delete_endpoint(endpoint_id: int, actor: str, actor_id: str | None) -> None:
    """Remove the endpoint with its deliveries. Raises PrefsError(not_found)."""
    endpoint = get_endpoint(endpoint_id)
    db.session.delete(endpoint)
    record_admin_event(actor, actor_id, "webhook.deleted", str(endpoint_id), {"url": endpoint.url})


def rotate_secret(endpoint_id: int, actor: str, actor_id: str | None, now: datetime | None = None) -> str:
    """A new secret; the old one keeps signing beside it for 24 h. Returns the new secret (shown only now)."""
    endpoint = get_endpoint(endpoint_id)
    now = now or utcnow()
    still_signing = [entry for entry in endpoint.previous_secrets or () if _signs_until(entry) > now]
    rotated_out = {"secret": endpoint.secret, "until": (now + ROTATION_OVERLAP).isoformat()}
    # At most MAX_OLD_SECRETS sign beside the current one (every one is a signature on every message): past
    # that, many rotations within a day end the oldest one's overlap early.
    endpoint.previous_secrets = [*still_signing, rotated_out][-MAX_OLD_SECRETS:]
    endpoint.secret = new_secret()
    record_admin_event(actor, actor_id, "webhook.secret_rotated", str(endpoint.id), None)
    return endpoint.secret


def recent_attempts(endpoint_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The endpoint's latest attempts, newest first: event, time, HTTP status, error."""
    get_endpoint(endpoint_id)
    rows = db.session.execute(
        select(DeliveryAttempt, Delivery)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(DeliveryAttempt.endpoint_id == endpoint_id)
        .order_by(DeliveryAttempt.id.desc())
        .limit(limit)
    )
    return [
        {
            "message_id": delivery.message_id,
            "type": delivery.type,
            "event_id": delivery.event_id,
            "at": _iso(attempt.at),
            "status_code": attempt.status_code,
            "error": attempt.error,
            "duration_ms": attempt.duration_ms,
            "delivery_status": delivery.status,
            "attempt": delivery.attempts,
        }
        for attempt, delivery in rows
    ]


def replay(endpoint_id: int, after: int, actor: str, actor_id: str | None) -> dict[str, Any]:
    """Send again every consent event with id > `after` that the endpoint wants (at most REPLAY_LIMIT per
    call), with the webhook-id it had the first time. Returns {queued, last_event_id}."""
    endpoint = get_endpoint(endpoint_id)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise invalid("after", "An event id: a whole number, 0 or more.")
    wanted = set(endpoint.events)
    events = db.session.execute(
        select(
            ConsentEvent.id,
            ConsentEvent.kind,
            ConsentEvent.before,
            ConsentEvent.after,
            ConsentEvent.recipient_id,
            ConsentEvent.at,
        )
        .where(ConsentEvent.id > after)
        .order_by(ConsentEvent.id)
        .limit(REPLAY_LIMIT)
    ).all()
    sql = DriverSql()
    now = sql.time(utcnow())
    rows = []
    for event_id, kind, before, after_value, recipient_id, at in events:
        type_ = webhook_type(kind, before, after_value)
        if type_ is not None and ("*" in wanted or type_ in wanted):
            rows.append((endpoint.id, message_id(event_id), type_, event_id, recipient_id, None, sql.time(at), now, now))
    sql.many(INSERT_DELIVERY, rows)
    last = events[-1][0] if events else after
    record_admin_event(actor, actor_id, "webhook.replayed", str(endpoint.id), {"after": after, "queued": len(rows)})
    return {"queued": len(rows), "last_event_id": last}


def message_id(event_id: int | None) -> str:
    """webhook-id: one per event (so a replay keeps it); for a message that is not an event, a new random one
    each time it is called, once per outbox message, and kept with its deliveries through every retry. Not the
    outbox row's id: that row is deleted once fanned out, and SQLite gives the highest id out again, so two
    messages would share it and a receiver would drop the second as a retry of the first."""
    return f"evt_{event_id}" if event_id is not None else f"msg_{uuid.uuid4().hex}"


def wants(events: Sequence[str], type_: str) -> bool:
    return "*" in events or type_ in events


def checked_url(url: Any, allow_hosts: frozenset[str]) -> str:
    if not isinstance(url, str) or not url.strip():
        raise invalid("url", "An https:// URL.")
    try:
        check_url(url.strip(), allow_hosts)
    except ForbiddenDestination as error:
        raise invalid("url", str(error)) from None
    return url.strip()


def checked_events(events: Any) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(name, str) for name in events):
        raise invalid("events", 'A list of event types, or ["*"] for all.')
    unknown = sorted(set(events) - {"*", *EVENT_TYPES})
    if unknown:
        raise invalid("events", f"Unknown event types: {', '.join(unknown)}.")
    return ["*"] if "*" in events else [name for name in EVENT_TYPES if name in events]


def checked_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise invalid("description", f"Text of at most {MAX_DESCRIPTION} characters.")
    return description


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _aware(moment).isoformat()
