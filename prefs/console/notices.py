"""Admin pages for notices (SPEC §14): the wording people see when they consent, kept versioned. Saving new
text makes the next version; old versions are shown, never edited."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..languages import LANGUAGES, NATIVE_NAMES
from ..services.notices import MAX_TEXT, list_notices, notice_versions, save_notice
from . import bp
from .auth import requires
from .forms import ConsoleForm, attach_errors, strip


class NoticeForm(ConsoleForm):
    key = StringField("Key", filters=[strip], validators=[DataRequired("Give the notice a key."), Length(max=64)])
    text = TextAreaField("Wording", filters=[strip], validators=[DataRequired("Write the wording."), Length(max=MAX_TEXT)])
    language = SelectField(
        "Language",
        choices=[SelectChoice("", "—")] + [SelectChoice(tag, f"{NATIVE_NAMES[tag]} ({tag})") for tag in LANGUAGES],
        validate_choice=True,
    )


def render_notices(form: NoticeForm | None = None, status: int = 200, error: str | None = None):
    return render_template(
        "console/admin/notices.html", notices=list_notices(), form=form or NoticeForm(formdata=None), error=error
    ), status


@bp.get("/admin/notices")
@requires("admin")
def notices():
    return render_notices()


@bp.post("/admin/notices")
@requires("admin")
def save_notice_view():
    form = NoticeForm()
    if not form.validate():
        return render_notices(form, 422)
    try:
        notice, made = unit_of_work(
            lambda: save_notice(form.key.data, form.text.data, form.language.data or None, "staff", current_user.email)
        )
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_notices(form, error.status, error.message)
    flash(
        f"Notice {notice.key}: version {notice.version} saved." if made else f"Notice {notice.key}: the text is unchanged.",
        "success",
    )
    return redirect(url_for("console.notice_page", key=notice.key), 303)


@bp.get("/admin/notices/<key>")
@requires("admin")
def notice_page(key: str):
    versions = notice_versions(key)
    form = NoticeForm(formdata=None, data={"key": key, "text": versions[0].text, "language": versions[0].language or ""})
    return render_template("console/admin/notice.html", key=key, versions=versions, form=form)
