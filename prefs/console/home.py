"""The console's home: one search box (`q`) for an id, an email or a phone number; lifting a suppression;
the do-not-call list in force (when it was loaded, its as-of date).

The box posts and the results come back in the answer itself: an address typed in it is never in a URL (so
never in access logs, browser history or a Referer) nor in the session cookie. `GET /console/?q=…` also
works, for links and scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from ..services.dnc import list_in_force
from ..services.lookup import SearchResult, search
from ..services.suppressions import lift_address_suppression, liftable_by_consent
from . import bp
from .auth import requires
from .forms import LiftSuppressionForm
from .wording import SUPPRESSION_SOURCE_WORDS


@bp.get("/")
@requires("read")
def home():
    return render_results(request.args.get("q", ""))


@bp.post("/")
@requires("read")
def search_form():
    return render_results(request.form.get("q", ""))


def render_results(query: str):
    result = search(runtime(), query)
    form = LiftSuppressionForm(formdata=None, q=result.query) if result.suppression is not None else None
    return render_home(result, form)


def render_home(result: SearchResult, lift_form: LiftSuppressionForm | None, lift_error: str | None = None):
    liftable = result.suppression is not None and liftable_by_consent(result.suppression.source)
    return render_template(
        "console/home.html",
        result=result,
        lift_form=lift_form,
        lift_error=lift_error,
        liftable=liftable,
        suppression_sources=SUPPRESSION_SOURCE_WORDS,
        dnc_list=list_in_force(),
        today=datetime.now(UTC).date(),
    )


@bp.post("/suppressions/lift")
@requires("edit")
def lift_suppression():
    form = LiftSuppressionForm()
    result = search(runtime(), form.q.data or "")
    address = result.address
    if address is None or result.suppression is None:
        flash("There is no suppression to lift for that search.", "info")
        return redirect(url_for("console.home"), 303)
    evidence = form.evidence() if form.validate() else None  # both evidence fields are required on this form
    if evidence is None:
        return render_home(result, form), 422
    try:
        lifted = unit_of_work(
            lambda: lift_address_suppression(
                address.kind, address.value, address.hash, evidence, form.reason.data, current_user.email
            )
        )
    except PrefsError as error:
        return render_home(result, form, error.message), error.status
    if lifted:
        flash(f"The suppression is lifted: marketing may reach this {address.words} again.", "success")
    return redirect(url_for("console.home"), 303)
