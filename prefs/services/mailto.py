"""RFC 2369 mailto unsubscribes: a mail to unsubscribe+REF@… acts like the one-click POST of its link."""

from __future__ import annotations

from email.utils import getaddresses

from sqlalchemy import select

from ..deps import Deps
from ..extensions import db
from ..models import Recipient, Topic
from ..tokens import LinkTarget, MailtoTarget, TokenExpired, TokenInvalid, read_mailto_reference
from .events import Actor, ChangeContext
from .unsubscribe import unsubscribe


def reference_in(to_field: str, mailto_address: str) -> str | None:
    """The REF of the first `local+REF@domain` in a To header that matches our address."""
    local, _, domain = mailto_address.lower().partition("@")
    for _name, address in getaddresses([to_field]):
        address_local, _, address_domain = address.lower().partition("@")
        prefix, plus, reference = address_local.partition("+")
        if plus and prefix == local and address_domain == domain and reference:
            return reference
    return None


def target_of(deps: Deps, reference: str) -> LinkTarget | None:
    """What the reference unsubscribes from; None when it is unknown or forged. A genuine reference past the
    links' lifetime still unsubscribes, as its link's one-click POST does (SPEC §16: never refused)."""
    try:
        found = read_mailto_reference(deps.secret_keys, reference, deps.link_max_age_days)
    except TokenInvalid:
        return None
    except TokenExpired as expired:
        if not isinstance(expired.target, MailtoTarget):
            return None
        found = expired.target
    recipient_id = db.session.execute(select(Recipient.id).where(Recipient.pk == found.recipient_pk)).scalar_one_or_none()
    if recipient_id is None:
        return None
    topic = None
    if found.topic_id is not None:
        topic = db.session.execute(select(Topic.key).where(Topic.id == found.topic_id)).scalar_one_or_none()
        if topic is None:
            return None
    return LinkTarget(recipient_id, found.channel, topic)


def mailto_unsubscribe(deps: Deps, to_field: str) -> bool:
    """Apply the unsubscribe a mail asks for; returns whether it named a valid reference.

    Raises PrefsError only for an erased person (the caller answers 2xx anyway).
    """
    mailto_address = deps.unsubscribe_mailto
    reference = reference_in(to_field, mailto_address) if mailto_address else None
    target = target_of(deps, reference) if reference else None
    if target is None:
        return False
    # The reference is its link's, so the change is that link's, as its one-click POST's is (a topic since
    # taken off the channel keeps the person's no: services/preferences.plan_changes).
    unsubscribe(deps.catalogue, target, ChangeContext(Actor("email", None, "mailto"), None, {"source": "mailto"}, target))
    return True
