"""A person's page: contact data, what they get and why, changes with a reason, history, status."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..channels import CHANNEL_WORDS, CHANNELS
from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..models import Recipient
from ..runtime import runtime
from ..services.consent_records import consent_records
from ..services.preference_form import build_form, changes_from_form, lift_changes, liftable_kinds, parse_shown
from ..services.preferences import apply_preference_changes, preference_matrix
from ..services.provider_events import PROVIDER_NAMES, clear_undeliverable, undeliverable_mark
from ..services.provider_sync import sync_receipts
from ..services.recipients import readable_recipient, set_status, upsert_recipient, writable_recipient
from ..services.states import recipient_state
from . import bp
from .auth import requires, staff_context
from .contact import SHOWN_PREFIX, contact_changes, contact_values, field_errors, shown_values
from .forms import ChoicesForm, ClearUndeliverableForm, ContactForm, EraseForm, StatusForm
from .history import consent_history, parse_before
from .matrix import (
    ADDRESS_WORDS,
    LIFT_FIELD,
    MANDATORY_WHY,
    SMS_STOP_WHY,
    Toggle,
    matrix_rows,
    reasons_in,
    toggle,
)
from .roles import allows


def stored_contact(recipient: Recipient) -> dict[str, str]:
    return contact_values(recipient.email, recipient.phone, recipient.postal_address, recipient.locale, recipient.time_zone)


def render_recipient(recipient: Recipient, status: int = 200, **forms):
    """The page; after a refusal, `forms` carries the refused form, what was submitted and the error."""
    state = recipient_state(recipient.id)
    form = build_form(runtime().catalogue.all().values(), state)
    submitted = forms.get("submitted")
    shown = forms.get("shown")
    rows = matrix_rows(preference_matrix(runtime(), recipient), form, submitted, shown)
    channel_toggles: list[Toggle] = [toggle(box, submitted, shown) for box in form.channel_boxes]
    current_contact = stored_contact(recipient)
    context = {
        "recipient": recipient,
        "rows": rows,
        "legend": reasons_in(rows),
        "channels": CHANNELS,
        "channel_words": CHANNEL_WORDS,
        "channel_toggles": channel_toggles,
        "stop_all": toggle(form.stop_all, submitted, shown),
        "lift_options": [(kind, ADDRESS_WORDS[kind]) for kind in liftable_kinds(state)],
        "lift_requested": set(submitted.getlist(LIFT_FIELD)) if submitted is not None else set(),
        "sms_stopped": state.sms_stopped,
        "mandatory_why": MANDATORY_WHY,
        "sms_stop_why": SMS_STOP_WHY,
        "choices_form": forms.get("choices_form") or ChoicesForm(formdata=None),
        "contact_form": forms.get("contact_form") or ContactForm(formdata=None, data=current_contact),
        "contact_shown": forms.get("contact_shown") or current_contact,
        "status_form": forms.get("status_form") or StatusForm(formdata=None),
        "undeliverable": undeliverable_mark(recipient.email_hash),
        "provider_names": PROVIDER_NAMES,
        "sync_receipts": sync_receipts(recipient.id),  # the mail providers' suppression lists (SPEC §15)
        "undeliverable_form": forms.get("undeliverable_form") or ClearUndeliverableForm(formdata=None),
        "erase_form": forms.get("erase_form") or EraseForm(formdata=None),
        "is_admin": allows(current_user.role, "admin"),
        "history": consent_history(recipient.id, parse_before(request.args.get("before"))),
        # Proof of each consent (SPEC §14): notice text, times, method, source, IP, confirmation.
        "consents": consent_records(runtime(), recipient, current_app.config["PREFS_BRAND"].name),
        "can_edit": allows(current_user.role, "edit"),
        "shown_prefix": SHOWN_PREFIX,
        "error": forms.get("error"),
        "error_section": forms.get("error_section"),
    }
    return render_template("console/recipient.html", **context), status


def back_to(recipient_id: str, section: str):
    return redirect(url_for("console.recipient", recipient_id=recipient_id, _anchor=section), 303)


@bp.get("/recipients/<recipient_id>")
@requires("read")
def recipient(recipient_id: str):
    return render_recipient(readable_recipient(recipient_id))


@bp.post("/recipients/<recipient_id>/choices")
@requires("edit")
def save_choices(recipient_id: str):
    """One form of topic:channel boxes; only boxes changed from what the page showed are written."""
    person = readable_recipient(recipient_id)
    form = ChoicesForm()
    shown = parse_shown(request.form.getlist("shown"))

    def refused(status: int, error: str | None = None):
        return render_recipient(
            person, status, choices_form=form, submitted=request.form, shown=shown, error=error, error_section="choices"
        )

    lifts = request.form.getlist(LIFT_FIELD)
    valid = form.validate()
    if lifts and valid and form.evidence() is None:
        for name in ("collected_at", "source"):
            if not form[name].data:
                form[name].errors = ["Needed to lift a suppression: only the person's consent lifts one."]
        valid = False
    if not valid:
        return refused(422)
    context = staff_context(form.reason.data, form.evidence())

    def save() -> int:
        locked = writable_recipient(recipient_id)
        boxes = build_form(runtime().catalogue.all().values(), recipient_state(recipient_id))
        changes = changes_from_form(boxes, request.form, shown) + lift_changes(lifts, boxes, request.form)
        return apply_preference_changes(runtime().catalogue, locked, changes, context) if changes else 0

    try:
        written = unit_of_work(save)
    except PrefsError as error:
        return refused(error.status, error.message)
    if written:
        flash(f"Saved: {written} change{'s' if written != 1 else ''} recorded.", "success")
    else:
        flash("Nothing changed: the boxes were as the page showed them.", "info")
    return back_to(recipient_id, "choices")


@bp.post("/recipients/<recipient_id>/contact")
@requires("edit")
def save_contact(recipient_id: str):
    person = readable_recipient(recipient_id)
    form = ContactForm()
    shown = shown_values(request.form, stored_contact(person))

    def refused(status: int, error: str | None = None):
        return render_recipient(person, status, contact_form=form, contact_shown=shown, error=error, error_section="contact")

    if not form.validate():
        return refused(422)
    given = contact_changes(form.data, shown)
    if not given:
        flash("Nothing changed: the contact data was as the page showed it.", "info")
        return back_to(recipient_id, "contact")
    try:
        unit_of_work(lambda: upsert_recipient(runtime(), recipient_id, given, staff_context(form.reason.data)))
    except PrefsError as error:
        for name, messages in field_errors(error.details).items():
            if name in form:
                form[name].errors = messages
        return refused(error.status, error.message)
    flash("Contact data saved.", "success")
    return back_to(recipient_id, "contact")


@bp.post("/recipients/<recipient_id>/undeliverable/clear")
@requires("edit")
def clear_undeliverable_mark(recipient_id: str):
    """The email address works again (the person says so, or a test message arrived): rule 6a stops applying."""
    person = readable_recipient(recipient_id)
    form = ClearUndeliverableForm()
    if not form.validate():
        return render_recipient(person, 422, undeliverable_form=form, error_section="undeliverable")
    try:
        cleared = unit_of_work(lambda: clear_undeliverable(recipient_id, staff_context(form.reason.data)))
    except PrefsError as error:
        return render_recipient(person, error.status, undeliverable_form=form, error=error.message, error_section="undeliverable")
    if cleared:
        flash("The email address is no longer marked undeliverable: emails go to it again.", "success")
    else:
        flash("Nothing changed: the email address was not marked undeliverable.", "info")
    return back_to(recipient_id, "contact")


def change_status(recipient_id: str, status: str, done: str):
    person = readable_recipient(recipient_id)
    form = StatusForm()
    if not form.validate():
        return render_recipient(person, 422, status_form=form, error_section="status")
    try:
        changed = unit_of_work(lambda: set_status(writable_recipient(recipient_id), status, staff_context(form.reason.data)))
    except PrefsError as error:
        return render_recipient(person, error.status, status_form=form, error=error.message, error_section="status")
    flash(done if changed else "Nothing changed: the account was already so.", "success" if changed else "info")
    return back_to(recipient_id, "status")


@bp.post("/recipients/<recipient_id>/deactivate")
@requires("edit")
def deactivate(recipient_id: str):
    return change_status(recipient_id, "deactivated", "Account deactivated: nothing is sent to this person any more.")


@bp.post("/recipients/<recipient_id>/reactivate")
@requires("edit")
def reactivate(recipient_id: str):
    return change_status(recipient_id, "active", "Account reactivated: their stored choices apply again.")
