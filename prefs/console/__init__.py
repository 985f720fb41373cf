"""The support console under /console: staff sign in, find a person, see why, change it with a reason.

Modules: auth (sign-in, roles on views), home (search, suppressions), recipients (a person's page),
lifecycle (export, erasure), admin (topics, API keys, admin events), staff (accounts), insights (the
dashboard of opt-outs, with CSV downloads), cli (`staff`).
Pure helpers: roles, wording, matrix, contact, lookup, history, forms. Staff accounts: services/staff.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..channels import CHANNEL_WORDS
from ..errors import PrefsError
from ..outages import end_failed_transaction, is_outage, outage_answer
from .forms import LoginForm
from .roles import allows
from .wording import detail_words

bp = Blueprint("console", __name__, url_prefix="/console")

CONSOLE_HEADERS = {
    "Cache-Control": "no-store",  # pages hold personal data, and a new API key is shown once
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Same origin only: CSRFProtect checks the Referer on HTTPS, and searches must not leak to other sites.
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
ERROR_PAGES = {
    400: ("That form can't be used", "It may have expired or come from another site. Go back, reload the page and try again."),
    403: ("Your role can't do that", "Ask an admin if you need to do this."),
    404: ("Not found", "There is nothing here. Search again from the console's home."),
    429: ("Too many attempts", "Wait a minute, then try again."),
}


@bp.after_app_request
def console_headers(response: Response) -> Response:
    if request.path.startswith("/console"):
        response.headers.update(CONSOLE_HEADERS)
    return response


@bp.before_request
def refuse_nul() -> Response | None:
    """No stored text can hold a NUL (PostgreSQL refuses it): answer 400 before anything reads the input."""
    values = [*request.args.values(), *request.form.values()]
    if any("\x00" in value for value in values):
        return error_page(400)
    return None


@bp.context_processor
def console_globals() -> dict:
    user = current_user if current_user.is_authenticated else None
    return {"staff": user, "can": lambda permission: user is not None and allows(user.role, permission)}


@bp.app_template_filter("console_moment")
def console_moment(text: str) -> datetime:
    """An ISO 8601 time as the API writes it (a consent record's events), for the `when` macro."""
    return datetime.fromisoformat(text)


@bp.app_template_filter("console_time")
def console_time(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("console_value")
def console_value(value: object) -> str:
    return detail_words(value)


@bp.app_template_filter("console_channel")
def console_channel(channel: str) -> str:
    return CHANNEL_WORDS.get(channel, channel).capitalize()


@bp.app_template_filter("console_iso")
def console_iso(moment: datetime) -> str:
    return utc(moment).isoformat()


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def error_page(status: int, message: str | None = None):
    title, text = ERROR_PAGES.get(status, ("Something went wrong", "Nothing was changed."))
    return page_despite_outage(status, "console/message.html", title=title, message=message or text)


def page_despite_outage(status: int, template: str, **context):
    """A page for an error handler. It names who is signed in (console_globals), a query: reached before any
    other query (a form's stale CSRF token, a rate limit) while the database is out of reach, the outage's 503
    is the answer, where an error raised in an error handler would be a 500 (found in review, session 9)."""
    try:
        page = render_template(template, **context)
    except Exception as error:
        if not is_outage(error):
            raise
        return outage_answer(error)
    return page, status


@bp.errorhandler(CSRFError)
def csrf_refused(_error: CSRFError):
    end_failed_transaction()
    return error_page(400)


@bp.errorhandler(PrefsError)
def refused(error: PrefsError):
    """A refusal no view caught: its message on a page, never a 500."""
    end_failed_transaction()
    if error.code in ("not_found", "erased"):
        return error_page(404, error.message)
    return error_page(error.status, error.message)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    end_failed_transaction()
    if error.code == 429:
        return page_despite_outage(
            429, "console/login.html", form=LoginForm(formdata=None), error=ERROR_PAGES[429][1], title=ERROR_PAGES[429][0]
        )
    if error.code in ERROR_PAGES:
        return error_page(error.code)
    return error


from . import admin, auth, home, insights, lifecycle, notices, recipients, signup_forms, staff, webhooks  # noqa: E402,F401  (register the views on bp)
