"""Admin pages for outbound webhooks (SPEC §13): endpoints, their recent attempts, re-enable, rotate, replay.

The same things the JSON API does (prefs/api/webhooks.py), through the same service functions: the URL rules,
the event filter and the secret all stay in prefs/services/webhook_endpoints.py. A new or rotated secret is
only ever in the one response to the POST that made it (never in a flash message: those ride in the cookie).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import BooleanField, IntegerField, SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..models import WebhookEndpoint, utcnow
from ..runtime import runtime
from ..services.outbox import EVENT_TYPES
from ..services.webhook_endpoints import (
    MAX_DESCRIPTION,
    REPLAY_LIMIT,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    old_secrets_sign_until,
    recent_attempts,
    replay,
    rotate_secret,
    update_endpoint,
)
from . import bp
from .auth import requires
from .forms import ConsoleForm, attach_errors, strip

ALL_EVENTS = "*"
MAX_EVENT_ID = 2**63 - 1
ENDPOINT = "/admin/webhooks/<int:endpoint_id>"


def some_event_type(_form, field) -> None:
    if not field.data:
        raise ValidationError("Tick “All event types” or at least one event type.")


class WebhookForm(ConsoleForm):
    url = StringField(
        "URL", filters=[strip], validators=[DataRequired("Enter the URL the messages are posted to."), Length(max=2000)]
    )
    events = SelectMultipleField(
        "Event types",
        choices=[SelectChoice(ALL_EVENTS, "All event types")] + [SelectChoice(name) for name in EVENT_TYPES],
        validate_choice=True,
        validators=[some_event_type],
    )
    description = TextAreaField("Description (optional)", filters=[strip], validators=[Length(max=MAX_DESCRIPTION)])

    def fields(self) -> dict[str, Any]:
        """What the service takes: the same fields as the API's POST and PATCH."""
        return {"url": self.url.data, "events": list(self.events.data or []), "description": self.description.data or ""}


class ReplayForm(ConsoleForm):
    after = IntegerField(
        "Send again every event after this event id",
        validators=[InputRequired("Give an event id: 0 sends everything again."), NumberRange(min=0, max=MAX_EVENT_ID)],
    )


class DeleteForm(ConsoleForm):
    confirm = BooleanField(
        "Yes, delete this endpoint and every delivery still queued for it",
        validators=[DataRequired("Tick the box to confirm: nothing was deleted.")],
    )


def actor() -> tuple[str, str]:
    return "staff", current_user.email


# --- the list, and a new endpoint ----------------------------------------------------------------------
def render_endpoints(form: WebhookForm | None = None, status: int = 200, error: str | None = None):
    return render_template(
        "console/admin/webhooks.html",
        endpoints=list_endpoints(),
        form=form or WebhookForm(formdata=None, data={"events": [ALL_EVENTS]}),
        error=error,
        all_events=ALL_EVENTS,
    ), status


@bp.get("/admin/webhooks")
@requires("admin")
def webhooks():
    return render_endpoints()


@bp.post("/admin/webhooks")
@requires("admin")
def create_webhook():
    """Answers with the new endpoint's page and its secret, shown this once (201)."""
    form = WebhookForm()
    if not form.validate():
        return render_endpoints(form, 422)
    hosts = runtime().webhook_allow_hosts
    try:
        endpoint, secret = unit_of_work(lambda: create_endpoint(form.fields(), hosts, *actor()))
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_endpoints(form, error.status, error.message)
    return render_endpoint(endpoint, 201, new_secret=secret)


# --- one endpoint ---------------------------------------------------------------------------------------
def render_endpoint(
    endpoint: WebhookEndpoint,
    status: int = 200,
    *,
    edit_form: WebhookForm | None = None,
    replay_form: ReplayForm | None = None,
    delete_form: DeleteForm | None = None,
    error: str | None = None,
    error_section: str | None = None,
    new_secret: str | None = None,
    rotated: bool = False,
):
    """`error` is shown in `error_section` (edit, state, replay, delete), beside the form it is about."""
    if edit_form is None:
        shown = {"url": endpoint.url, "events": list(endpoint.events), "description": endpoint.description}
        edit_form = WebhookForm(formdata=None, data=shown)
    attempts = [{**attempt, "at": datetime.fromisoformat(attempt["at"])} for attempt in recent_attempts(endpoint.id)]
    return render_template(
        "console/admin/webhook.html",
        endpoint=endpoint,
        attempts=attempts,
        edit_form=edit_form,
        replay_form=replay_form or ReplayForm(formdata=None, data={"after": 0}),
        delete_form=delete_form or DeleteForm(formdata=None),
        error=error,
        error_section=error_section,
        new_secret=new_secret,
        rotated=rotated,
        old_secrets_until=old_secrets_sign_until(endpoint, utcnow()),
        all_events=ALL_EVENTS,
        replay_limit=REPLAY_LIMIT,
    ), status


def back_to(endpoint_id: int):
    return redirect(url_for("console.webhook", endpoint_id=endpoint_id), 303)


@bp.get(ENDPOINT)
@requires("admin")
def webhook(endpoint_id: int):
    return render_endpoint(get_endpoint(endpoint_id))


@bp.post(ENDPOINT)
@requires("admin")
def edit_webhook(endpoint_id: int):
    form = WebhookForm()
    if not form.validate():
        return render_endpoint(get_endpoint(endpoint_id), 422, edit_form=form, error_section="edit")
    hosts = runtime().webhook_allow_hosts
    try:
        unit_of_work(lambda: update_endpoint(endpoint_id, form.fields(), hosts, *actor()))
    except PrefsError as error:
        if error.code == "not_found":
            raise
        attach_errors(form, error.details)
        return render_endpoint(get_endpoint(endpoint_id), error.status, edit_form=form, error=error.message, error_section="edit")
    flash("Endpoint saved.", "success")
    return back_to(endpoint_id)


def set_enabled(endpoint_id: int, enabled: bool, done: str):
    unit_of_work(lambda: update_endpoint(endpoint_id, {"enabled": enabled}, runtime().webhook_allow_hosts, *actor()))
    flash(done, "success")
    return back_to(endpoint_id)


@bp.post(ENDPOINT + "/disable")
@requires("admin")
def disable_webhook(endpoint_id: int):
    return set_enabled(endpoint_id, False, "Endpoint disabled: nothing more is sent to it until it is enabled again.")


@bp.post(ENDPOINT + "/enable")
@requires("admin")
def enable_webhook(endpoint_id: int):
    return set_enabled(endpoint_id, True, "Endpoint enabled: its failure record is cleared and new messages go to it.")


@bp.post(ENDPOINT + "/rotate")
@requires("admin")
def rotate_webhook_secret(endpoint_id: int):
    """Answers with the endpoint's page and the new secret, shown this once."""
    secret = unit_of_work(lambda: rotate_secret(endpoint_id, *actor()))
    return render_endpoint(get_endpoint(endpoint_id), new_secret=secret, rotated=True)


@bp.post(ENDPOINT + "/replay")
@requires("admin")
def replay_webhook(endpoint_id: int):
    form = ReplayForm()
    if not form.validate():
        return render_endpoint(get_endpoint(endpoint_id), 422, replay_form=form, error_section="replay")
    after = int(form.after.data or 0)  # InputRequired: there is a number
    try:
        result = unit_of_work(lambda: replay(endpoint_id, after, *actor()))
    except PrefsError as error:
        if error.code == "not_found":
            raise
        attach_errors(form, error.details)
        return render_endpoint(
            get_endpoint(endpoint_id), error.status, replay_form=form, error=error.message, error_section="replay"
        )
    if result["queued"] == 0:
        flash(f"No event after {after} is one this endpoint wants: nothing was queued.", "info")
    else:
        flash(
            f"{result['queued']} messages queued again (events up to {result['last_event_id']}), with their first webhook-id.",
            "success",
        )
    return back_to(endpoint_id)


@bp.post(ENDPOINT + "/delete")
@requires("admin")
def delete_webhook(endpoint_id: int):
    endpoint = get_endpoint(endpoint_id)
    form = DeleteForm()
    if not form.validate():
        return render_endpoint(endpoint, 422, delete_form=form, error_section="delete")
    url = endpoint.url
    unit_of_work(lambda: delete_endpoint(endpoint_id, *actor()))
    flash(f"Endpoint {url} deleted, with its queued deliveries.", "success")
    return redirect(url_for("console.webhooks"), 303)
