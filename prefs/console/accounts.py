"""Console staff accounts: create, disable or enable, reset a password, and check one at sign-in.

No request inside: the `staff` CLI and the admin pages both call these. Every change leaves an admin event
(never the password or its hash). Passwords are stored as werkzeug scrypt hashes.
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..addresses import normalize_email
from ..errors import PrefsError, invalid
from ..extensions import db
from ..models import StaffUser, utcnow
from ..services.admin_events import record_admin_event
from .roles import ROLES

HASH_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_STAFF_EMAIL_LENGTH = 128  # admin events name the account in `target`, which holds 128 characters


def normalise_staff_email(raw: object) -> str:
    """Raises PrefsError(invalid)."""
    email = normalize_email(raw)
    if len(email) > MAX_STAFF_EMAIL_LENGTH:
        raise invalid("email", f"At most {MAX_STAFF_EMAIL_LENGTH} characters.")
    return email


def check_new_password(password: object) -> str:
    """Raises PrefsError(invalid) for a password too short or too long to accept."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise invalid("password", f"At least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise invalid("password", f"At most {MAX_PASSWORD_LENGTH} characters.")
    return password


def list_staff() -> list[StaffUser]:
    return list(db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars())


def find_staff(email: str) -> StaffUser | None:
    return db.session.execute(select(StaffUser).where(StaffUser.email == email.strip().lower())).scalar_one_or_none()


def get_staff(staff_id: int) -> StaffUser:
    """Raises PrefsError(not_found)."""
    staff = db.session.get(StaffUser, staff_id)
    if staff is None:
        raise PrefsError("not_found", "No such staff account.")
    return staff


def staff_by_email(email: str) -> StaffUser:
    """Raises PrefsError(not_found)."""
    staff = find_staff(email)
    if staff is None:
        raise PrefsError("not_found", f"No staff account {email.strip().lower()!r}.")
    return staff


def create_staff(email: object, role: str, password: object, actor: str, actor_id: str | None) -> StaffUser:
    """Raises PrefsError: invalid (email, role, password), already_exists."""
    address = normalise_staff_email(email)
    if role not in ROLES:
        raise invalid("role", f"One of {', '.join(ROLES)}.")
    secret = check_new_password(password)
    if find_staff(address) is not None:
        raise PrefsError("already_exists", "A staff account with this email exists already.", {"email": ["Taken."]})
    staff = StaffUser(email=address, role=role, password_hash=generate_password_hash(secret, method=HASH_METHOD))
    db.session.add(staff)
    record_admin_event(actor, actor_id, "staff.created", address, {"role": role})
    db.session.flush()
    return staff


def set_disabled(staff: StaffUser, disabled: bool, actor: str, actor_id: str | None) -> bool:
    """Disable (sessions end at once) or enable an account; returns whether anything changed."""
    if (staff.disabled_at is not None) == disabled:
        return False
    staff.disabled_at = utcnow() if disabled else None
    record_admin_event(actor, actor_id, "staff.disabled" if disabled else "staff.enabled", staff.email, None)
    db.session.flush()
    return True


def reset_password(staff: StaffUser, password: object, actor: str, actor_id: str | None) -> None:
    """Set a new password; the account's other sessions end. Raises PrefsError(invalid)."""
    staff.password_hash = generate_password_hash(check_new_password(password), method=HASH_METHOD)
    record_admin_event(actor, actor_id, "staff.password_reset", staff.email, None)
    db.session.flush()


def authenticate(email: object, password: object) -> StaffUser | None:
    """The enabled account these credentials open, or None.

    An unknown email costs one hash check too, so the answer's timing does not tell which emails exist.
    """
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return None
    staff = find_staff(email) if "\x00" not in email else None
    if staff is None:
        check_password_hash(_unknown_account_hash(), password)
        return None
    if not check_password_hash(staff.password_hash, password) or staff.disabled_at is not None:
        return None
    return staff


def record_sign_in(staff: StaffUser) -> None:
    staff.last_login_at = utcnow()


@lru_cache(maxsize=1)
def _unknown_account_hash() -> str:
    return generate_password_hash("no account has this password", method=HASH_METHOD)
