"""Admin pages for hosted subscribe forms (SPEC §14): list, create, edit and delete the forms served at
/s/<key> (services/forms.py holds the rules; the API's /api/v1/forms is the same)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from ..services.forms import (
    CHANNEL,
    MAX_THANKS,
    MAX_TITLE,
    create_form,
    delete_form,
    form_to_dict,
    get_form,
    list_forms,
    update_form,
)
from ..services.notices import list_notices
from ..services.topics import list_topics
from . import bp
from .auth import requires
from .forms import ConsoleForm, attach_errors, strip


class SignupFormEditForm(ConsoleForm):
    title = StringField("Heading", filters=[strip], validators=[DataRequired("Give the form a heading."), Length(max=MAX_TITLE)])
    topics = SelectMultipleField("Topics (by email; each person confirms a mailed link)", validate_choice=True)
    notice = SelectField("Notice (its current wording is shown and kept as evidence)", validate_choice=True)
    thanks = TextAreaField("Thank-you text (optional)", filters=[strip], validators=[Length(max=MAX_THANKS)])

    def offer_choices(self) -> SignupFormEditForm:
        """Topics a form may hold (live, not mandatory, sent by email) and the notices there are."""
        self.topics.choices = [
            SelectChoice(topic.key, f"{topic.name} ({topic.key})")
            for topic in list_topics()
            if not topic.archived and not topic.mandatory and CHANNEL in topic.channels
        ]
        self.notice.choices = [SelectChoice("", "—")] + [SelectChoice(notice.key) for notice, _count in list_notices()]
        return self


class SignupFormCreateForm(SignupFormEditForm):
    key = StringField(
        "Key (its page is /s/<key>)", filters=[strip], validators=[DataRequired("Give the form a key."), Length(max=64)]
    )


def _fields(form: SignupFormEditForm) -> dict:
    return {
        "title": form.title.data,
        "topics": form.topics.data or [],
        "notice": form.notice.data,
        "thanks": form.thanks.data or "",
    }


def render_forms(form: SignupFormCreateForm | None = None, status: int = 200, error: str | None = None):
    shown = [form_to_dict(item, runtime().base_url) for item in list_forms()]
    form = form or SignupFormCreateForm(formdata=None)
    return render_template("console/admin/signup_forms.html", forms=shown, form=form.offer_choices(), error=error), status


@bp.get("/admin/forms")
@requires("admin")
def signup_forms():
    return render_forms()


@bp.post("/admin/forms")
@requires("admin")
def create_signup_form():
    form = SignupFormCreateForm().offer_choices()
    if not form.validate():
        return render_forms(form, 422)
    fields = {"key": form.key.data, **_fields(form)}
    try:
        made = unit_of_work(lambda: create_form(runtime(), fields, "staff", current_user.email), conflict="already_exists")
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_forms(form, error.status, error.message)
    flash(f"Form {made.key} created: its page is {form_to_dict(made, runtime().base_url)['url']}.", "success")
    return redirect(url_for("console.signup_form", key=made.key), 303)


def render_form(key: str, form: SignupFormEditForm | None = None, status: int = 200, error: str | None = None):
    shown = form_to_dict(get_form(key), runtime().base_url)
    if form is None:
        form = SignupFormEditForm(formdata=None, data=shown)
    return render_template("console/admin/signup_form.html", shown=shown, form=form.offer_choices(), error=error), status


@bp.get("/admin/forms/<key>")
@requires("admin")
def signup_form(key: str):
    return render_form(key)


@bp.post("/admin/forms/<key>")
@requires("admin")
def edit_signup_form(key: str):
    get_form(key)
    form = SignupFormEditForm().offer_choices()
    if not form.validate():
        return render_form(key, form, 422)
    try:
        unit_of_work(lambda: update_form(runtime(), key, _fields(form), "staff", current_user.email))
    except PrefsError as error:
        if error.code == "not_found":
            raise
        attach_errors(form, error.details)
        return render_form(key, form, error.status, error.message)
    flash(f"Form {key} saved.", "success")
    return redirect(url_for("console.signup_form", key=key), 303)


@bp.post("/admin/forms/<key>/delete")
@requires("admin")
def delete_signup_form(key: str):
    unit_of_work(lambda: delete_form(key, "staff", current_user.email))
    flash(f"Form {key} deleted: its page is gone.", "success")
    return redirect(url_for("console.signup_forms"), 303)
