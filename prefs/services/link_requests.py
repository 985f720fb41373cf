"""The "email me my link" request (SPEC §14, §16): a person whose link expired, or who has none at hand, types an email
address and gets a fresh preference-center link, if and only if the address is a known, active recipient's
and may be mailed.

Nothing here may tell the one who typed whether the address is known: the page answers the same whatever
is typed (the caller renders it without looking at anything this returns), nothing is logged or recorded
about the address, and an address we would not mail is simply not mailed. Without mail configured
(services/mail.py) the wing hands in no `LinkMailer`, and nothing is looked up at all.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select

from ..addresses import lookup_email
from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..languages import DEFAULT, match
from ..models import Recipient
from ..tokens import PREFERENCES, LinkTarget
from .mail import mail_enabled, queue_mail
from .provider_events import undeliverable_mark
from .suppressions import suppression_sources


class LinkMailer(Protocol):
    """Sends one preference link by email (through the outbox, in the person's language)."""

    def send_preference_link(self, recipient_id: str, email: str, url: str, locale: str | None) -> None: ...


class OutboxLinkMailer:
    """The `LinkMailer` of a service with mail configured: the "preference_link" message through the outbox,
    in the transaction that looked the address up, ordered with the person's other messages."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def send_preference_link(self, recipient_id: str, email: str, url: str, locale: str | None) -> None:
        queue_mail(self.deps, "preference_link", email, locale or DEFAULT, {"url": url}, ordering_key=recipient_id)


def link_mailer(deps: Deps) -> LinkMailer | None:
    """The mailer to hand `request_preference_link`, or None when mail is off (nothing is then looked up)."""
    return OutboxLinkMailer(deps) if mail_enabled(deps) else None


def request_preference_link(deps: Deps, mailer: LinkMailer | None, typed: str, language: str) -> None:
    """Mail a fresh preference link when `typed` is the address of an active recipient whose address is
    neither suppressed nor reported dead; otherwise do nothing. Never raises for what was typed.

    `language` is the page's, for a person without a stored locale.
    """
    if mailer is None:
        return
    try:
        email = lookup_email(typed)
    except PrefsError:
        return
    recipient = db.session.execute(select(Recipient).where(Recipient.email == email)).scalar_one_or_none()
    if recipient is None or recipient.status != "active" or recipient.email_hash is None:
        return
    if suppression_sources([recipient.email_hash]):
        return
    if undeliverable_mark(recipient.email_hash) is not None:  # rule 6a: a provider reported it dead
        return
    token = deps.signer.sign(PREFERENCES, LinkTarget(recipient.id, "email", minted_by="email-me-my-link"))
    # The stored locale when there are pages and mails in it, else the page's (a stored "ja" made it English).
    mailer.send_preference_link(recipient.id, email, f"{deps.base_url}/p/{token}", match(recipient.locale) or language)
