"""What every recipient page shares: headers, rate limits, error pages, the link's target, words for what a
link stops, the evidence a click leaves, and the brand in every template."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, render_template, request
from limits import parse as parse_limit

from ..addresses import lookup_email
from ..brand import Brand
from ..channels import REGISTRY
from ..decision import TopicRule
from ..errors import PrefsError
from ..extensions import limiter
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from ..i18n import page_language
from ..models import Recipient
from ..outages import end_failed_transaction
from ..runtime import runtime
from ..services.events import Actor, ChangeContext
from ..services.mail import mail_enabled
from ..services.recipients import RecipientRow
from ..tokens import LinkTarget, TokenExpired, TokenInvalid
from . import bp

TOKEN_PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
CSP = "default-src 'none'; style-src 'self'; img-src 'self'{logo}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
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


def brand() -> Brand:
    return current_app.config["PREFS_BRAND"]


@bp.app_context_processor
def brand_context() -> dict[str, object]:
    return {"brand": brand()}


def is_token_page() -> bool:  # /c/<token>: a double opt-in's confirmation (pages/confirm.py)
    return request.path.startswith(("/u/", "/p/", "/c/")) or request.path == "/p"


def is_form_page() -> bool:  # /s/<key>: a hosted subscribe form (pages/forms.py); its CSRF token must not be cached
    return request.path.startswith("/s/")


@bp.after_app_request
def token_page_headers(response: Response) -> Response:
    """On every /u, /p, /c and /s response, errors and 404s included: tokens must not leak, be cached or be
    indexed, and no other site may frame the page."""
    if is_token_page() or is_form_page():
        response.headers.update(TOKEN_PAGE_HEADERS)
        origin = brand().logo_origin
        response.headers["Content-Security-Policy"] = CSP.format(logo=f" {origin}" if origin else "")
    return response


@bp.get("/brand.css")
def brand_stylesheet():
    """The brand's colour as the pages' accent: a stylesheet of this host, since the pages' CSP allows no
    inline style."""
    css = f":root {{ --accent: {brand().color}; }}\n"
    return Response(css, mimetype="text/css", headers={"Cache-Control": "public, max-age=300"})


# --- error pages ----------------------------------------------------------------------------------------
ERROR_PAGES = {
    400: (
        _l("This link doesn't work"),
        _l("The link may have been cut short or changed. Try the link in the email again, or use the one in a newer message."),
    ),
    404: (
        _l("We can't find these preferences"),
        _l("There is nothing to change through this link any more. If you still get messages, use the link in the newest one."),
    ),
    429: (_l("Too many tries"), _l("This link was used many times in a short while. Wait a minute, then try again.")),
}
FORM_TOO_MANY = _l("Many signups came from your network in a short while. Wait an hour, then try again.")


@bp.errorhandler(TokenInvalid)
def bad_token(_error):
    return error_page(400)


@bp.errorhandler(TokenExpired)
def expired_token(_error):
    """An expired link cannot show or change preferences, but the person can ask for a fresh one."""
    mail_on = mail_enabled(runtime())
    return render_template("pages/expired.html", link_request_url=link_request_url(), mail_on=mail_on), 410


@bp.errorhandler(400)
def not_a_page_form(_error):
    return error_page(400)


@bp.errorhandler(429)
def too_many(_error):
    if is_form_page():
        return render_template("pages/message.html", title=ERROR_PAGES[429][0], message=FORM_TOO_MANY), 429
    return error_page(429)


@bp.errorhandler(PrefsError)
def refused(error: PrefsError):
    end_failed_transaction()
    if error.code in ("not_found", "erased"):
        return error_page(404)
    # The service's message is written for the API, in English; other languages get the gist.
    message = (
        error.message if page_language() == "en" else _("Nothing was changed. Reload the page, check your choices and try again.")
    )
    return render_template("pages/message.html", title=_("We couldn't do that"), message=message), error.status


def error_page(status: int):
    title, message = ERROR_PAGES[status]
    return render_template("pages/message.html", title=title, message=message), status


# --- silent per-address limits ("email me my link", hosted forms) ----------------------------------------
def _address_key(typed: str) -> str:
    """The typed address, canonical and hashed with the service's keyed address hash: the same address however
    it is spelled, never stored plain (nor as a plain digest anyone could match against a list of addresses)."""
    try:
        canonical = lookup_email(typed)
    except PrefsError:
        canonical = typed.strip().lower()
    return runtime().address_hash("email", canonical)


# The mails anyone typing an address on a public page ("email me my link", a hosted form) may have sent to it:
# one budget for both pages, or each page would add its own mails to a stranger's inbox.
MAILS_PER_ADDRESS = "3 per hour"
_MAILS_PER_ADDRESS = parse_limit(MAILS_PER_ADDRESS)


def address_may_ask(typed: str) -> bool:
    """Counts one request for a mail to this address; False past MAILS_PER_ADDRESS. The page must not tell: a
    429 here would say "someone asked for this address lately", so the caller answers as ever and sends nothing."""
    if not limiter.enabled:
        return True
    try:
        return limiter.limiter.hit(_MAILS_PER_ADDRESS, "mail-to-address", _address_key(typed))
    except Exception:  # the limiter's storage failing lets a request through, as RATELIMIT_SWALLOW_ERRORS does
        return True


def link_request_url() -> str:
    return f"/p?lang={page_language()}"


# --- links ----------------------------------------------------------------------------------------------
def verified(purpose: str, token: str, *, expired_too: bool = False) -> LinkTarget:
    """The link's target. Raises TokenInvalid (a topic the catalogue never had means a forged payload) or
    TokenExpired; with `expired_too`, a genuine expired link's target is returned (an unsubscribe is never
    refused, SPEC §16)."""
    return verified_and_expired(purpose, token, expired_too=expired_too)[0]


def verified_and_expired(purpose: str, token: str, *, expired_too: bool = False) -> tuple[LinkTarget, bool]:
    """verified(), and whether the link is past its lifetime (then it does nothing more than unsubscribe)."""
    expired = False
    try:
        target = runtime().signer.verify(purpose, token)
    except TokenExpired as error:
        if not expired_too or not isinstance(error.target, LinkTarget):
            raise
        target, expired = error.target, True
    if target.topic is not None and runtime().catalogue.get(target.topic) is None:
        raise TokenInvalid
    return target, expired


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


# --- words ----------------------------------------------------------------------------------------------
# A channel in words, inside "Newsletter by …" and "all marketing by …"; a channel added to the registry
# without words here shows its registry words until translated.
CHANNEL_WORDS = {
    "email": _l("email"),
    "sms": _l("text message"),
    "phone": _l("phone call"),
    "post": _l("post"),
}
CHANNEL_TITLES = {
    "email": _l("Email"),
    "sms": _l("Text messages"),
    "phone": _l("Phone calls"),
    "post": _l("Post"),
}


def channel_words(channel: str) -> str:
    return str(CHANNEL_WORDS.get(channel) or REGISTRY[channel].words)


def channel_title(channel: str) -> str:
    return str(CHANNEL_TITLES.get(channel) or REGISTRY[channel].words.capitalize())


def topic_name(rule: TopicRule) -> str:
    """The topic's name in the page's language when an admin gave one (API `names`), else its name."""
    return rule.names.get(page_language(), rule.name) if rule.names else rule.name


def topic_description(rule: TopicRule) -> str:
    return rule.descriptions.get(page_language(), rule.description) if rule.descriptions else rule.description


def what_stops(target: LinkTarget) -> str:
    """In words: 'Newsletter by email' or 'all marketing by text message'."""
    words = channel_words(target.channel)
    if target.topic:
        rule = runtime().catalogue.get(target.topic)
        return _("%(topic)s by %(channel)s", topic=topic_name(rule) if rule else target.topic, channel=words)
    return _("all marketing by %(channel)s", channel=words)
