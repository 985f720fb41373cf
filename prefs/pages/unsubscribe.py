"""/u: the confirmation page, the RFC 8058 one-click POST (and the page's button), and undo."""

from __future__ import annotations

import logging

from flask import render_template, request

from ..db.transactions import fast_write, unit_of_work
from ..i18n import page_language, use_recipient_locale
from ..metrics import count_unsubscribe
from ..runtime import runtime
from ..services.recipients import readable_recipient
from ..services.states import recipient_state
from ..services.unsubscribe import stop_in_force, undo_unsubscribe, unsubscribe
from ..tokens import PREFERENCES, UNSUBSCRIBE, LinkTarget
from . import bp
from .common import channel_words, evidence, limited, link_context, masked_address, verified, verified_and_expired, what_stops

log = logging.getLogger(__name__)


def preferences_url_for(target: LinkTarget) -> str:
    return f"/p/{runtime().signer.sign(PREFERENCES, target)}?lang={page_language()}"


@bp.get("/u/<token>")
@limited
def confirm_unsubscribe(token: str):
    """Asks before stopping; says so instead when a stop already keeps this marketing away (SPEC §16)."""
    target = verified(UNSUBSCRIBE, token)
    recipient = readable_recipient(target.recipient_id)
    use_recipient_locale(recipient.locale)
    already = stop_in_force(runtime().catalogue, target, recipient_state(recipient.id))
    return render_template(
        "pages/unsubscribe.html",
        what=what_stops(target),
        address=masked_address(recipient, target.channel),
        already=already,
        whole_channel=target.topic is None,  # "you stopped all marketing by email, so you do not get all marketing by email"
        channel=channel_words(target.channel),
        token=token,
        preferences_url=preferences_url_for(target),
    )


@bp.post("/u/<token>")
def do_unsubscribe(token: str):
    """RFC 8058 one-click (body List-Unsubscribe=One-Click) or the confirmation page's button.

    Answers 200 with the page, never a redirect: a mail provider's POST must see success at once. A link
    past its lifetime still unsubscribes (its signature is checked all the same): an unsubscribe is never
    refused (SPEC §16). The page's language comes from `?lang=` (the confirmation page's form carries it)
    or the browser: the one-click path reads nothing more than it must.
    """
    target, expired = verified_and_expired(UNSUBSCRIBE, token, expired_too=True)
    via = "one_click" if request.form.get("List-Unsubscribe") == "One-Click" else "confirm_page"
    context = link_context(via, target, evidence(target))
    recipient, changed = fast_write(lambda: unsubscribe(runtime().catalogue, target, context))
    count_unsubscribe(via, changed)
    # Never the token or the person: only what happened, for operators counting unsubscribes.
    log.info("unsubscribe via %s: topic=%s channel=%s changed=%s", via, target.topic or "*", target.channel, changed)
    return render_template(
        "pages/unsubscribed.html",
        what=what_stops(target),
        address=masked_address(recipient, target.channel),
        token=token,
        can_undo=not expired,  # undo through an expired link is refused (410): it is not offered
        preferences_url=preferences_url_for(target),
    )


@bp.post("/u/<token>/undo")
@limited
def undo(token: str):
    target = verified(UNSUBSCRIBE, token)
    context = link_context("undo", target, evidence(target))
    recipient, changed = unit_of_work(lambda: undo_unsubscribe(target, context))
    return render_template(
        "pages/undone.html",
        what=what_stops(target),
        changed=changed,
        address=masked_address(recipient, target.channel),
        preferences_url=preferences_url_for(target),
    )
