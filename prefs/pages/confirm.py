"""/c: a double opt-in's confirmation link (SPEC §14). The GET shows what the person is asked to confirm and
changes nothing (mail scanners open every link); the page's button POSTs the confirmation. Like the other
token pages it sets no cookie: the signed link is what a forged POST lacks, and the POST must carry the
page's `confirm` field. An expired, used or no longer valid link gets a friendly page and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, request

from ..db.transactions import unit_of_work
from ..decision import decide
from ..i18n import page_language, use_recipient_locale
from ..runtime import runtime
from ..services.states import recipient_state
from ..services.subscriptions import CONFIRMATION_DAYS, CONFIRMED, PENDING, Confirmation, confirm_subscription, read_confirmation
from ..tokens import PREFERENCES, LinkTarget
from . import bp
from .common import limited, topic_name

# A dead link is gone for good (410), as an expired preference link is; pending and confirmed ones are 200.
STATUS = {PENDING: 200, CONFIRMED: 200}


@bp.get("/c/<token>")
@limited
def confirm_page(token: str):
    return render_confirmation(token, read_confirmation(runtime(), token))


@bp.post("/c/<token>")
@limited
def confirm(token: str):
    if request.form.get("confirm") != "yes":  # not the page's form
        abort(400)
    agent = request.user_agent.string[:512] or None
    done = unit_of_work(lambda: confirm_subscription(runtime(), token, request.remote_addr, agent))
    return render_confirmation(token, done)


def render_confirmation(token: str, shown: Confirmation):
    use_recipient_locale(shown.language)
    rules = runtime().catalogue.get_many(shown.topics)
    keys = list(shown.topics)
    held_back: list[str] = []
    if shown.state == CONFIRMED and shown.recipient_id:
        # Truthful (SPEC §16): what the person gets now. A topic archived since is gone from the page (as from
        # the confirmation itself); one a stop holds back (all marketing, the channel, the address, or an
        # unsubscribe since) is listed apart, not under "you get these".
        keys = [key for key in keys if key in rules and not rules[key].archived and shown.channel in rules[key].channels]
        state = recipient_state(shown.recipient_id)
        now = datetime.now(UTC)
        held = {key for key in keys if not decide(rules[key], shown.channel, state, at=now, quiet_hours=None).allowed}
        held_back = [topic_name(rules[key]) for key in keys if key in held]
        keys = [key for key in keys if key not in held]
    names = [topic_name(rules[key]) if key in rules else key for key in keys]
    preferences_url = None
    # Only the answer to the POST that confirms: a used link, opened again (by a mail scanner too), must not
    # hand out a fresh preference link for as long as it is kept.
    if shown.state == CONFIRMED and shown.changed and shown.recipient_id:
        target = LinkTarget(shown.recipient_id, shown.channel)
        preferences_url = f"/p/{runtime().signer.sign(PREFERENCES, target)}?lang={page_language()}"
    page = render_template(
        "pages/confirm.html",
        state=shown.state,
        changed=shown.changed,
        topics=names,
        held_back=held_back,
        address=shown.address,
        token=token,
        days=CONFIRMATION_DAYS,
        preferences_url=preferences_url,
    )
    return page, STATUS.get(shown.state, 410)
