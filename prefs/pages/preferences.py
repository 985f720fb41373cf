"""/p: the preference center, and /p without a link: "email me my link"."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, request

from ..db.transactions import unit_of_work
from ..extensions import limiter
from ..i18n import gettext as _
from ..i18n import page_language, use_recipient_locale
from ..models import Recipient
from ..runtime import runtime
from ..services.audience import opted_out_of_sale, set_do_not_sell
from ..services.link_requests import link_mailer, request_preference_link
from ..services.mail import mail_enabled
from ..services.preference_form import Box, PreferenceForm, build_form, changes_from_form, parse_shown
from ..services.preferences import (
    LINK_CANNOT_LIFT,
    LINK_NO_EXPRESS_CONSENT,
    LINK_OTHER_CHANNEL,
    apply_preference_changes,
    link_opt_in_limits,
)
from ..services.recipients import RecipientRow, readable_recipient, writable_recipient
from ..services.states import recipient_state
from ..services.suppressions import SMS_STOP
from ..tokens import PREFERENCES, LinkTarget
from . import bp
from .common import (
    address_may_ask,
    channel_title,
    channel_words,
    evidence,
    limited,
    link_context,
    link_request_url,
    masked_address,
    topic_description,
    topic_name,
    verified,
)

DO_NOT_SELL_BOX = "do_not_sell"


@bp.get("/p/<token>")
@limited
def preference_center(token: str):
    """Shows the boxes; changes nothing, except that a browser sending Global Privacy Control (`Sec-GPC: 1`)
    has its "do not sell or share" opt-out recorded, once (SPEC §16): the law treats the signal as the
    person's own request, and it is not something a mail scanner sends."""
    target = verified(PREFERENCES, token)
    recipient = readable_recipient(target.recipient_id)
    use_recipient_locale(recipient.locale)
    notice = None
    if request.headers.get("Sec-GPC", "").strip() == "1" and recipient.status == "active":
        context = link_context("gpc", target, evidence(target, signal="Sec-GPC: 1"))
        if unit_of_work(lambda: set_do_not_sell(recipient.id, True, context)):
            notice = _(
                "Your browser asked us not to sell or share your personal information (Global Privacy Control). We have recorded that."
            )
    return render_preferences(target, recipient, token, notice)


@bp.post("/p/<token>")
@limited
def save_preferences(token: str):
    """Saves what the person changed from the page they were shown. A POST without the page's `shown` fields
    is not a page's (an empty POST would read as every box unticked): 400, nothing changed (SPEC §16)."""
    target = verified(PREFERENCES, token)
    shown = parse_shown(request.form.getlist("shown"))
    if not shown:
        abort(400)
    # An opt-in made here is the person's own, so it may lift a suppression of their address (SPEC §2).
    consent = evidence(target, source="preference_center", collected_at=datetime.now(UTC).isoformat())
    context = link_context("preference_center", target, consent)

    def save() -> tuple[RecipientRow, int]:
        recipient = writable_recipient(target.recipient_id)
        form = preference_form(target, recipient)
        changes = changes_from_form(form, request.form, shown)
        written = apply_preference_changes(runtime().catalogue, recipient, changes, context) if changes else 0
        wanted = DO_NOT_SELL_BOX in request.form
        if DO_NOT_SELL_BOX in shown and shown[DO_NOT_SELL_BOX] != wanted and not do_not_sell_locked(recipient):
            written += set_do_not_sell(recipient.id, wanted, context)
        return recipient, written

    recipient, written = unit_of_work(save)
    if written:
        notice, kind = _("Your choices are saved."), "saved"
    else:
        notice, kind = _("Nothing changed: your choices were already as shown."), "info"
    return render_preferences(target, recipient, token, notice, kind)


def do_not_sell_locked(recipient: Recipient | RecipientRow) -> bool:
    """The "do not sell or share" box is shown locked, and a save leaves it, while the account is deactivated."""
    return recipient.status != "active"


def preference_form(target: LinkTarget, recipient: Recipient | RecipientRow) -> PreferenceForm:
    state = recipient_state(recipient.id)
    limits = link_opt_in_limits(target, recipient, state)
    return build_form(runtime().catalogue.all().values(), state, limits, decided_at=datetime.now(UTC))


def limit_sentence(reason: str, channel: str, address: str | None) -> str:
    """Why this link cannot switch a channel on (services.preferences.link_opt_in_limits); switching off
    still works."""
    words = channel_words(channel)
    if reason == LINK_OTHER_CHANNEL:
        return _(
            "%(channels)s can be switched on only from a link we sent you by %(channel)s.",
            channels=channel_title(channel),
            channel=words,
        )
    if reason == LINK_CANNOT_LIFT:
        return _(
            "To hear from us by %(channel)s again, use the link in the newest message we sent to %(address)s.",
            channel=words,
            address=address or "",
        )
    if reason == LINK_NO_EXPRESS_CONSENT:
        return _(
            "This number is on the do-not-call list: %(channels)s can be switched on only from a link we sent to this number.",
            channels=channel_title(channel),
        )
    if reason == SMS_STOP:
        return _("This number replied STOP to our texts. Text START to it to hear from us by %(channel)s again.", channel=words)
    return ""


def render_preferences(
    target: LinkTarget, recipient: Recipient | RecipientRow, token: str, notice: str | None = None, kind: str = "info"
):
    form = preference_form(target, recipient)
    addresses = {channel: masked_address(recipient, channel) for channel in form.channels}
    do_not_sell = Box(DO_NOT_SELL_BOX, "", opted_out_of_sale(recipient.pk), do_not_sell_locked(recipient), "deactivated")
    return render_template(
        "pages/preferences.html",
        form=form,
        addresses=addresses,
        channel_words=channel_words,
        channel_title=channel_title,
        action=f"/p/{token}?lang={page_language()}",
        notice=notice,
        notice_kind=kind,
        limit_sentence=limit_sentence,
        do_not_sell=do_not_sell,
        row_name=lambda row: _rule_text(row.key, topic_name, row.name),
        row_description=lambda row: _rule_text(row.key, topic_description, row.description),
    )


def _rule_text(key: str, translate, fallback: str) -> str:
    rule = runtime().catalogue.get(key)
    return translate(rule) if rule else fallback


# --- "email me my link" (SPEC §14) ----------------------------------------------------------------------
LINK_REQUESTS_PER_IP = "10 per hour"  # over it: the 429 page (one place trying many addresses)


@bp.get("/p")
def link_request_form():
    return render_template("pages/link_request.html", action=link_request_url(), sent=False, mail_on=mail_enabled(runtime()))


@bp.post("/p")
@limiter.limit(LINK_REQUESTS_PER_IP)
def request_link():
    """The same page whatever is typed: known, unknown, suppressed, malformed, or asked for too often."""
    typed = request.form.get("email", "")[:320]
    deps = runtime()
    may_ask = address_may_ask(typed)
    mailer = link_mailer(deps) if may_ask else None  # no mailer: nothing looked up or sent
    unit_of_work(lambda: request_preference_link(deps, mailer, typed, page_language()))
    return render_template("pages/link_request.html", action=link_request_url(), sent=True, mail_on=mail_enabled(deps))
