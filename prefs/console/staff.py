"""Admin pages for staff accounts: list, create, disable or enable, reset a password."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_user

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..models import StaffUser
from ..runtime import runtime
from ..services.staff import create_staff, get_staff, list_staff, reset_password, set_disabled
from . import bp
from .auth import requires
from .forms import PasswordResetForm, StaffForm, attach_errors
from .roles import ROLE_WORDS


def render_staff_list(form: StaffForm | None = None, status: int = 200, error: str | None = None):
    return render_template(
        "console/admin/staff.html",
        staff_members=list_staff(),
        form=form or StaffForm(formdata=None),
        error=error,
        role_words=ROLE_WORDS,
    ), status


def render_staff_member(member: StaffUser, form: PasswordResetForm | None = None, status: int = 200, error: str | None = None):
    return render_template(
        "console/admin/staff_member.html",
        member=member,
        form=form or PasswordResetForm(formdata=None),
        error=error,
        is_me=member.id == current_user.id,
        role_words=ROLE_WORDS,
    ), status


@bp.get("/admin/staff")
@requires("admin")
def staff_list():
    return render_staff_list()


@bp.post("/admin/staff")
@requires("admin")
def create_staff_member():
    form = StaffForm()
    if not form.validate():
        return render_staff_list(form, 422)
    hasher = runtime().password_hasher
    try:
        member = unit_of_work(
            lambda: create_staff(form.email.data, form.role.data, form.password.data, "staff", current_user.email, hasher=hasher)
        )
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_staff_list(form, error.status, error.message)
    flash(f"Staff account {member.email} created as {member.role}.", "success")
    return redirect(url_for("console.staff_list"), 303)


@bp.get("/admin/staff/<int:staff_id>")
@requires("admin")
def staff_member(staff_id: int):
    return render_staff_member(get_staff(staff_id))


@bp.post("/admin/staff/<int:staff_id>/password")
@requires("admin")
def reset_staff_password(staff_id: int):
    member = get_staff(staff_id)
    form = PasswordResetForm()
    if not form.validate():
        return render_staff_member(member, form, 422)
    hasher = runtime().password_hasher
    try:
        unit_of_work(lambda: reset_password(get_staff(staff_id), form.password.data, "staff", current_user.email, hasher=hasher))
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_staff_member(get_staff(staff_id), form, error.status, error.message)
    if staff_id == current_user.id:
        login_user(get_staff(staff_id))  # one's own password changed here: this session goes on, every other one ends
        flash("Password changed: your other sessions have ended.", "success")
    else:
        flash("Password reset: the account's open sessions have ended. Tell them the new password by another channel.", "success")
    return redirect(url_for("console.staff_member", staff_id=staff_id), 303)


def switch_account(staff_id: int, disabled: bool):
    member = get_staff(staff_id)
    if disabled and member.id == current_user.id:
        return render_staff_member(member, status=409, error="You cannot disable your own account: ask another admin.")
    changed = unit_of_work(lambda: set_disabled(get_staff(staff_id), disabled, "staff", current_user.email))
    if changed:
        flash("Account disabled: its sessions have ended." if disabled else "Account enabled.", "success")
    return redirect(url_for("console.staff_member", staff_id=staff_id), 303)


@bp.post("/admin/staff/<int:staff_id>/disable")
@requires("admin")
def disable_staff(staff_id: int):
    return switch_account(staff_id, True)


@bp.post("/admin/staff/<int:staff_id>/enable")
@requires("admin")
def enable_staff(staff_id: int):
    return switch_account(staff_id, False)
