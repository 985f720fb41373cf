"""Admin actions at the end of a person's data: the JSON export download and erasure (typed confirmation)."""

from __future__ import annotations

import json

from flask import Response, current_app, flash, redirect, url_for
from flask_login import current_user

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from ..services.admin_events import record_admin_event
from ..services.lifecycle import erase_recipient, export_recipient
from ..services.recipients import readable_recipient
from . import bp
from .auth import requires, staff_context
from .forms import EraseForm
from .recipients import render_recipient


@bp.post("/recipients/<recipient_id>/export")
@requires("admin")
def export(recipient_id: str):
    """A download (GDPR Art. 20). A POST, so that who took a copy of the person's data is on record."""

    def exported() -> dict:
        data = export_recipient(runtime(), recipient_id, current_app.config["PREFS_BRAND"].name)
        record_admin_event("staff", current_user.email, "recipient.exported", recipient_id, None)
        return data

    body = json.dumps(unit_of_work(exported), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="recipient-{recipient_id}.json"'},
    )


@bp.post("/recipients/<recipient_id>/erase")
@requires("admin")
def erase(recipient_id: str):
    person = readable_recipient(recipient_id)
    form = EraseForm()
    if form.validate() and form.confirm.data != recipient_id:
        form.confirm.errors = ["That is not this recipient's id: nothing was erased."]
    if form.errors:
        return render_recipient(person, 422, erase_form=form, error_section="erase")
    try:
        unit_of_work(lambda: erase_recipient(runtime().address_hash, recipient_id, staff_context(form.reason.data)))
    except PrefsError as error:
        return render_recipient(person, error.status, erase_form=form, error=error.message, error_section="erase")
    flash(f"Recipient {recipient_id} erased: personal data removed, addresses kept only as suppression hashes.", "success")
    return redirect(url_for("console.home"), 303)
