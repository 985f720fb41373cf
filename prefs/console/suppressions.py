"""Lifting a suppression from the console: an address no recipient holds, with the person's consent evidence."""

from __future__ import annotations

from collections.abc import Mapping

from ..models import Suppression
from ..services.admin_events import record_admin_event
from ..services.suppressions import SMS_STOP, lift_by_consent
from .lookup import Address, suppression_target

SOURCE_WORDS = {
    "erasure": "left by an erasure",
    "import": "imported from another system",
    "sms_stop": "a STOP text from this number",
}


def can_lift(suppression: Suppression) -> bool:
    """Carriers require that a STOP text is lifted only by a START text from the same number."""
    return suppression.source != SMS_STOP


def lift_address_suppression(address: Address, evidence: Mapping[str, str], reason: str, staff_email: str) -> bool:
    """Lift it and record an admin event (the hash's prefix, never the address). Returns whether one was lifted.

    Raises PrefsError(sms_stop) for a number that texted STOP: carriers require that only START lifts that.
    """
    digest = address.hash
    if not lift_by_consent([digest]):  # raises PrefsError(sms_stop) for a number that texted STOP
        return False
    details = {"kind": address.kind, **evidence, "reason": reason}
    record_admin_event("staff", staff_email, "suppression.lifted", suppression_target(digest), details)
    return True
