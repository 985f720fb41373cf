"""Staff sign-in and sign-out, the role check on every console view, and who a console change is by."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import suppress
from urllib.parse import urlsplit

from flask import abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from limits import parse

from ..db.transactions import unit_of_work
from ..extensions import limiter, login_manager
from ..models import StaffUser
from ..runtime import runtime
from ..services.events import Actor, ChangeContext
from ..services.staff import authenticate, end_sessions, get_staff, record_sign_in, staff_for_session
from . import bp
from .forms import LoginForm
from .roles import allows

FAILED_SIGN_IN = "Wrong email or password."
# Failed attempts per client address (SPEC §7); successful sign-ins do not count. Exact across workers
# when PREFS_RATELIMIT_STORAGE_URL points at Redis.
FAILED_SIGN_IN_LIMIT = "10 per minute"
SIGN_IN_ITEM = parse(FAILED_SIGN_IN_LIMIT)

login_manager.login_view = "console.login"
login_manager.login_message = "Sign in to use the console."
login_manager.login_message_category = "info"


def requires(permission: str) -> Callable:
    """Sign-in, then `permission` (read, edit, admin) for the staff member's role; else 403.

    The permission is kept on the view (`required_permission`) for the role-matrix test.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not allows(current_user.role, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


def staff_context(reason: str, evidence: dict | None = None) -> ChangeContext:
    """Consent events from the console name the staff member's email as actor id (SPEC §7)."""
    return ChangeContext(Actor("staff", current_user.email, "console"), reason, evidence)


@login_manager.user_loader
def load_staff_user(session_id: str) -> StaffUser | None:
    """Checked on every console request against the database: a session ended by signing out, a password
    reset or disabling opens nothing, whoever holds a copy of its cookie."""
    return staff_for_session(session_id)


def safe_next(target: str | None) -> str:
    """Only a console path of this site: never an open redirect."""
    if target and target.startswith("/console/") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return url_for("console.home")


def refund_sign_in_attempt() -> None:
    """Give back the attempt a successful sign-in was counted as: only failures count (SPEC §7).

    Every attempt is counted before its password is checked, by Flask-Limiter's own check-and-add, which is
    atomic in its storage (Redis across workers). Counting only after the check, as `deduct_when` does, let
    attempts made at the same time all be checked (found in review: 30 parallel guesses, none refused). The
    refund is a hit of cost -1 on the same fixed window (RATELIMIT_STRATEGY's default); a storage that fails
    here leaves the attempt counted, which costs the address one try, never opens it."""
    for applied in limiter.current_limits:
        if str(applied.limit) == str(SIGN_IN_ITEM):
            with suppress(Exception):
                applied.limiter.hit(applied.limit, *applied.request_args, cost=-1)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(FAILED_SIGN_IN_LIMIT, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    form = LoginForm()
    if request.method == "GET":
        return render_template("console/login.html", form=form)
    hasher = runtime().password_hasher
    staff = authenticate(form.email.data, form.password.data, hasher=hasher) if form.validate() else None
    if staff is None:
        return render_template("console/login.html", form=form, error=FAILED_SIGN_IN), 401
    refund_sign_in_attempt()
    unit_of_work(lambda: record_sign_in(staff))
    session.clear()  # nothing from before sign-in carries over
    login_user(staff)
    return redirect(safe_next(request.args.get("next")), 303)


@bp.post("/logout")
def logout():
    """Ends the account's sessions on the server (every device), not only this browser's cookie."""
    if current_user.is_authenticated:
        staff_id = current_user.id
        unit_of_work(lambda: end_sessions(get_staff(staff_id)))
    logout_user()
    session.clear()
    return redirect(url_for("console.login"), 303)
