"""/s/<key>: a hosted subscribe form (SPEC §14). The visitor types an email address; the answer is one page,
the same whatever was typed (known, unknown, suppressed, malformed, limited, or a bot's honeypot), and the
address is mailed a confirmation link (services/forms.py: every topic on a form is a double opt-in).

Unlike the link pages, the form sets a session cookie: its CSRF token (Flask-WTF) is bound to the visitor's
browser, so another site cannot post signups from its visitors' browsers (and IPs). Limits: per IP, a 429
page; per address, silent (the page must not say that someone asked for this address lately).
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..extensions import limiter
from ..i18n import page_language
from ..models import SubscribeForm
from ..runtime import runtime
from ..services.forms import find_form, form_problem, notice_text, shown_version, submit_form
from . import bp
from .common import address_may_ask, topic_name

FORM_VIEWS_PER_IP = "120 per minute"
FORM_POSTS_PER_IP = "20 per hour"  # over it: the 429 page (one place signing up many addresses)
HONEYPOT = "website"  # hidden from people (and from screen readers); a bot that fills it is ignored


@bp.get("/s/<key>")
@limiter.limit(FORM_VIEWS_PER_IP)
def subscribe_form(key: str):
    form = _form(key)
    problem = form_problem(runtime(), form)
    if problem:
        return render_subscribe(form, unavailable=True), 503
    return render_subscribe(form, csrf_token=generate_csrf())


@bp.post("/s/<key>")
@limiter.limit(FORM_POSTS_PER_IP)
def submit_subscribe_form(key: str):
    """The same page whatever is typed. Nothing is stored or mailed for a filled honeypot, an address asked
    for too often, or one the service refuses (malformed, deactivated, erased id...)."""
    form = _form(key)
    deps = runtime()
    if form_problem(deps, form):
        return render_subscribe(form, unavailable=True), 503
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return render_subscribe(form, expired=True), 400
    typed = request.form.get("email", "")[:320]
    if not request.form.get(HONEYPOT) and address_may_ask(typed):
        agent = request.user_agent.string[:512] or None
        try:
            shown = shown_version(request.form.get("notice_version"))
            unit_of_work(lambda: submit_form(deps, form, typed, page_language(), request.remote_addr, agent, shown))
        except PrefsError:
            pass  # rolled back; the page must not tell
    return render_subscribe(form, sent=True)


def _form(key: str) -> SubscribeForm:
    form = find_form(key)
    if form is None:
        abort(404)
    return form


def render_subscribe(
    form: SubscribeForm, csrf_token: str | None = None, sent: bool = False, unavailable: bool = False, expired: bool = False
) -> str:
    rules = runtime().catalogue.get_many(list(form.topics))
    notice = notice_text(form)
    return render_template(
        "pages/subscribe.html",
        form=form,
        topics=[topic_name(rules[key]) if key in rules else key for key in form.topics],
        notice_paragraphs=[part.strip() for part in notice.text.split("\n\n") if part.strip()],
        notice_lang=notice.language,
        notice_version=notice.version,
        action=f"/s/{form.key}?lang={page_language()}",
        csrf_token=csrf_token,
        honeypot=HONEYPOT,
        sent=sent,
        unavailable=unavailable,
        expired=expired,
    )
