"""Who may do what in the console (SPEC §7). Pure: no Flask, so the rule is testable and readable in one place.

The roles an account may hold are services/staff.py's ROLES, each a key here."""

from __future__ import annotations

# read: find people, see their matrix and history. edit: change a person's choices, contact data and
# status, lift a suppression (always with a reason). admin: topics, API keys, staff accounts, admin events,
# export and erasure.
PERMISSIONS_BY_ROLE: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "agent": frozenset({"read", "edit"}),
    "admin": frozenset({"read", "edit", "admin"}),
}

ROLE_WORDS = {
    "viewer": "Viewer: finds people and reads their choices and history; changes nothing.",
    "agent": "Agent: also changes a person's choices, contact data and status, with a reason.",
    "admin": "Admin: also manages topics, API keys and staff accounts, sees admin events, exports and erases.",
}


def allows(role: str | None, permission: str) -> bool:
    """Whether `role` grants `permission`; an unknown role grants nothing."""
    return permission in PERMISSIONS_BY_ROLE.get(role or "", frozenset())
