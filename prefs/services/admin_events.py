"""Admin events: who changed an API key, topic or staff account, and how."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AdminEvent


def record_admin_event(actor: str, actor_id: str | None, action: str, target: str, details: dict[str, Any] | None) -> AdminEvent:
    event = AdminEvent(actor=actor, actor_id=actor_id, action=action, target=target, details=details)
    db.session.add(event)
    return event
