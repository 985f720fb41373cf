"""Recipient pages: /u (unsubscribe: confirm, one-click, undo) and /p (preference center).

A GET never changes anything (mail scanners open every link). These pages set no cookie and need no
JavaScript; every response carries the headers of SPEC §5.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request

from ..channels import CHANNEL_WORDS, REGISTRY
from ..db.transactions import fast_write, unit_of_work
from ..decision import ANY, RecipientState
from ..errors import PrefsError
from ..extensions import db, limiter
from ..metrics import count_unsubscribe
from ..models import Recipient
from ..runtime import runtime
from ..services.events import Actor, ChangeContext
from ..services.preference_form import PreferenceForm, build_form, changes_from_form, parse_shown
from ..services.preferences import LINK_CANNOT_LIFT, LINK_OTHER_CHANNEL, apply_preference_changes, link_opt_in_limits
from ..services.recipients import RecipientRow, readable_recipient, writable_recipient
from ..services.states import recipient_state
from ..services.suppressions import SMS_STOP
from ..services.unsubscribe import undo_unsubscribe, unsubscribe
from ..tokens import PREFERENCES, UNSUBSCRIBE, LinkTarget, TokenExpired, TokenInvalid

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)

TOKEN_PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
# Rate limits (SPEC §10): a mail provider may POST millions of one-click unsubscribes from a handful of
# addresses, so /u and /p are limited per link (token), never per address; an address is limited only by
# the bad or expired links it sends, which real traffic does not do. The one-click POST itself carries no
# limit at all: a 429 there is a lost unsubscribe, a forged token fails its signature before any query, and
# a repeated POST is one short transaction that changes nothing.
PER_LINK_LIMIT = "30 per minute"
BAD_LINKS_PER_ADDRESS_LIMIT = "300 per minute"


def _token_key() -> str:
    """A hash of the link's token: the token itself (a working link) never reaches Redis or a log line."""
    token = str((request.view_args or {}).get("token", ""))
    return "link:" + hashlib.sha256(token.encode()).hexdigest()


def _bad_link(response: Response) -> bool:
    return response.status_code in (400, 410)


def limited(view):
    view = limiter.limit(BAD_LINKS_PER_ADDRESS_LIMIT, deduct_when=_bad_link)(view)
    return limiter.limit(PER_LINK_LIMIT, key_func=_token_key)(view)


ERROR_PAGES = {
    400: (
        "This link doesn't work",
        "The link may have been cut short or changed. Try the link in the email again, or use the one in a newer message.",
    ),
    404: (
        "We can't find these preferences",
        "There is nothing to change through this link any more. If you still get messages, use the link in the newest one.",
    ),
    429: ("Too many tries", "This link was used many times in a short while. Wait a minute, then try again."),
    410: (
        "This link has expired",
        "Links stop working after a while to keep your preferences safe. Use the link in a more recent message.",
    ),
}


@bp.after_app_request
def token_page_headers(response: Response) -> Response:
    """On every /u and /p response, errors and 404s included: tokens must not leak or be indexed."""
    if request.path.startswith(("/u/", "/p/")):
        response.headers.update(TOKEN_PAGE_HEADERS)
    return response


@bp.errorhandler(TokenInvalid)
def bad_token(_error):
    return error_page(400)


@bp.errorhandler(TokenExpired)
def expired_token(_error):
    return error_page(410)


@bp.errorhandler(429)
def too_many(_error):
    return error_page(429)


@bp.errorhandler(PrefsError)
def refused(error: PrefsError):
    db.session.rollback()
    if error.code in ("not_found", "erased"):
        return error_page(404)
    return render_template("pages/message.html", title="We couldn't do that", message=error.message), error.status


def error_page(status: int):
    title, message = ERROR_PAGES[status]
    return render_template("pages/message.html", title=title, message=message), status


def verified(purpose: str, token: str) -> LinkTarget:
    """The link's target. Raises TokenInvalid for a topic the catalogue never had (a forged payload)."""
    target = runtime().signer.verify(purpose, token)
    if target.topic is not None and runtime().catalogue.get(target.topic) is None:
        raise TokenInvalid
    return target


def evidence(target: LinkTarget, **extra) -> dict:
    """What the consent record keeps about a click: the message it came from, which API key handed out
    the link, IP and browser."""
    values = {
        "message_id": target.message_id,
        "link_minted_by": target.minted_by,
        "ip": request.remote_addr,
        "user_agent": request.user_agent.string[:512] or None,
        **extra,
    }
    return {name: value for name, value in values.items() if value}


def link_context(via: str, target: LinkTarget, consent: dict) -> ChangeContext:
    """A change made by the person through a link: the link limits what it may switch on."""
    return ChangeContext(Actor("recipient", None, via), None, consent, target)


def masked_address(recipient: Recipient | RecipientRow, channel: str) -> str | None:
    address = REGISTRY[channel].address
    return address.mask(getattr(recipient, address.field))


def what_stops(target: LinkTarget) -> str:
    """In words: 'Newsletter emails' or 'all marketing by text message'."""
    words = REGISTRY[target.channel].words
    if target.topic:
        rule = runtime().catalogue.get(target.topic)
        return f"{rule.name if rule else target.topic} by {words}"
    return f"all marketing by {words}"


def is_stopped(state: RecipientState, target: LinkTarget) -> bool:
    return state.choices.get((target.topic or ANY, target.channel)) is False


def preferences_url_for(target: LinkTarget) -> str:
    return f"/p/{runtime().signer.sign(PREFERENCES, target)}"


# --- /u: unsubscribe ------------------------------------------------------------------------------------
@bp.get("/u/<token>")
@limited
def confirm_unsubscribe(token: str):
    target = verified(UNSUBSCRIBE, token)
    recipient = readable_recipient(target.recipient_id)
    return render_template(
        "pages/unsubscribe.html",
        what=what_stops(target),
        address=masked_address(recipient, target.channel),
        already=is_stopped(recipient_state(recipient.id), target),
        token=token,
        preferences_url=preferences_url_for(target),
    )


@bp.post("/u/<token>")
def do_unsubscribe(token: str):
    """RFC 8058 one-click (body List-Unsubscribe=One-Click) or the confirmation page's button.

    Answers 200 with the page, never a redirect: a mail provider's POST must see success at once.
    """
    target = verified(UNSUBSCRIBE, token)
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


# --- /p: preference center ------------------------------------------------------------------------------
@bp.get("/p/<token>")
@limited
def preference_center(token: str):
    target = verified(PREFERENCES, token)
    return render_preferences(target, readable_recipient(target.recipient_id), token)


@bp.post("/p/<token>")
@limited
def save_preferences(token: str):
    target = verified(PREFERENCES, token)
    shown = parse_shown(request.form.getlist("shown"))
    # An opt-in made here is the person's own, so it may lift a suppression of their address (SPEC §2).
    consent = evidence(target, source="preference_center", collected_at=datetime.now(UTC).isoformat())
    context = link_context("preference_center", target, consent)

    def save() -> tuple[RecipientRow, int]:
        recipient = writable_recipient(target.recipient_id)
        form = preference_form(target, recipient)
        changes = changes_from_form(form, request.form, shown)
        return recipient, apply_preference_changes(runtime().catalogue, recipient, changes, context) if changes else 0

    recipient, written = unit_of_work(save)
    notice = "Your choices are saved." if written else "Nothing changed: your choices were already as shown."
    return render_preferences(target, recipient, token, notice)


# Why a box is locked (the form names the reason; these say it to the person).
MANDATORY_WHY = "Always on while your account is open: we must be able to reach you about your account and bills."
SMS_STOP_WHY = "You replied STOP to our texts. Text START to the same number to get texts again."
# Why this link cannot switch a channel on (services.preferences.link_opt_in_limits); switching off still works.
LINK_LIMIT_WHY = {
    LINK_OTHER_CHANNEL: "{Plural} can be switched on only from a link we sent you by {words}.",
    LINK_CANNOT_LIFT: "To get {plural} from us again, use the link in the newest message we sent to {address}.",
    SMS_STOP: "This number replied STOP to our texts. Text START to it to hear from us by {words} again.",
}


def limit_sentence(reason: str, channel: str, address: str | None) -> str:
    entry = REGISTRY[channel]
    return LINK_LIMIT_WHY[reason].format(
        words=entry.words, plural=entry.plural, Plural=entry.plural.capitalize(), address=address or "you"
    )


def preference_form(target: LinkTarget, recipient: Recipient | RecipientRow) -> PreferenceForm:
    state = recipient_state(recipient.id)
    return build_form(runtime().catalogue.all().values(), state, link_opt_in_limits(target, recipient, state))


def render_preferences(target: LinkTarget, recipient: Recipient | RecipientRow, token: str, notice: str | None = None):
    form = preference_form(target, recipient)
    addresses = {channel: masked_address(recipient, channel) for channel in form.channels}
    return render_template(
        "pages/preferences.html",
        form=form,
        addresses=addresses,
        channel_words=CHANNEL_WORDS,
        token=token,
        notice=notice,
        limit_sentence=limit_sentence,
        mandatory_why=MANDATORY_WHY,
        sms_stop_why=SMS_STOP_WHY,
    )


# --- / --------------------------------------------------------------------------------------------------
@bp.get("/")
def home():
    """Names the service and points integrators to the API reference."""
    return render_template("pages/home.html")
