"""Console staff accounts: create, disable or enable, set a password, sign in, and end sessions.

No request inside: the `staff` CLI and the console's views both call these. Every change leaves an admin
event (never the password or its hash). Passwords are stored as scrypt hashes (prefs/passwords.py) and must
pass one policy, `check_new_password`, wherever they are set (NIST SP 800-63B §3.1.1.2: length, a block list
of common and breached passwords, no repetitive or sequential pattern, nothing from the account's own name).

Sessions are ended on the server: each account has a session epoch that the session cookie carries
(`StaffUser.get_id`); signing out, a password reset and disabling add one, so every cookie issued before,
a copied one too, stops opening the account.
"""

from __future__ import annotations

import gzip
import string
from functools import cache
from pathlib import Path

from sqlalchemy import select

from ..addresses import lookup_email, normalize_email
from ..db.ids import fits_int_id
from ..errors import PrefsError, invalid
from ..extensions import db
from ..models import StaffUser, utcnow
from ..passwords import FULL_COST, PasswordHasher
from .admin_events import record_admin_event

ROLES = ("viewer", "agent", "admin")  # what each may do: console/roles.py
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_STAFF_EMAIL_LENGTH = 128  # admin events name the account in `target`, which holds 128 characters
# SecLists' top 100,000 of 10 million leaked passwords (MIT licence; README "Password block list").
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
MIN_DIFFERENT_CHARACTERS = 4
MIN_PATTERN_LENGTH = 8  # the letters and digits of a password that is mostly symbols may be a short run
MIN_NAME_LENGTH = 4  # a shorter name before the @ is part of too many words to refuse them all

LISTED_REFUSAL = "This password is on a list of common and breached passwords: choose another."
PATTERN_REFUSAL = "A repeated or sequential pattern is too easy to guess: choose another."
NAME_REFUSAL = "The password must not contain the email address or the name before the @."
DECORATION = string.digits + string.punctuation + string.whitespace


def normalise_staff_email(raw: object) -> str:
    """Raises PrefsError(invalid)."""
    email = normalize_email(raw)
    if len(email) > MAX_STAFF_EMAIL_LENGTH:
        raise invalid("email", f"At most {MAX_STAFF_EMAIL_LENGTH} characters.")
    return email


@cache
def common_passwords() -> frozenset[str]:
    """The block list, read once, on the first password set (about 100 ms and 10 MB), never at start."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        return frozenset(filter(None, (line.strip().casefold() for line in handle)))


def check_new_password(password: object, email: str) -> str:
    """The password, if it may be set for the account `email`. Raises PrefsError(invalid) saying why not."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise invalid("password", f"At least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise invalid("password", f"At most {MAX_PASSWORD_LENGTH} characters.")
    folded = password.casefold()
    letters_and_digits = "".join(character for character in folded if character.isalnum())
    # A listed password with spaces taken out, or with digits and symbols put around it, is as easy to guess.
    variants = {folded, "".join(folded.split()), folded.strip(DECORATION)}
    if not variants.isdisjoint(common_passwords()):
        raise invalid("password", LISTED_REFUSAL)
    if _is_pattern(folded, letters_and_digits):
        raise invalid("password", PATTERN_REFUSAL)
    name = "".join(character for character in email.split("@")[0].casefold() if character.isalnum())
    if email.casefold() in folded or (len(name) >= MIN_NAME_LENGTH and name in letters_and_digits):
        raise invalid("password", NAME_REFUSAL)
    return password


def _is_pattern(folded: str, letters_and_digits: str) -> bool:
    """Few different characters ("aaaabbbbcccc"), one block repeated ("passpasspass", "ab ab ab ab ab ab")
    or a run ("3456789012", "a-b-c-d-e-f-g-h"): NIST's "repetitive or sequential characters"."""
    if len(set(folded)) < MIN_DIFFERENT_CHARACTERS:
        return True
    for text in {folded, letters_and_digits}:
        if len(text) < MIN_PATTERN_LENGTH:
            continue
        if (text + text).find(text, 1) < len(text):  # equal to a rotation of itself: a block repeated
            return True
        if {_step(a, b) for a, b in zip(text, text[1:], strict=False)} in ({1}, {-1}):
            return True
    return False


def _step(a: str, b: str) -> int:
    step = ord(b) - ord(a)
    return (step + 5) % 10 - 5 if a.isdigit() and b.isdigit() else step  # 9 then 0 continues a run


def list_staff() -> list[StaffUser]:
    return list(db.session.execute(select(StaffUser).order_by(StaffUser.email)).scalars())


def find_staff(email: str) -> StaffUser | None:
    try:
        address = lookup_email(email)
    except PrefsError:
        return None
    return db.session.execute(select(StaffUser).where(StaffUser.email == address)).scalar_one_or_none()


def get_staff(staff_id: int) -> StaffUser:
    """Raises PrefsError(not_found)."""
    staff = db.session.get(StaffUser, staff_id) if fits_int_id(staff_id) else None
    if staff is None:
        raise PrefsError("not_found", "No such staff account.")
    return staff


def staff_by_email(email: str) -> StaffUser:
    """Raises PrefsError(not_found)."""
    staff = find_staff(email)
    if staff is None:
        raise PrefsError("not_found", f"No staff account {email.strip().lower()!r}.")
    return staff


def create_staff(
    email: object, role: str, password: object, actor: str, actor_id: str | None, *, hasher: PasswordHasher = FULL_COST
) -> StaffUser:
    """Raises PrefsError: invalid (email, role, password), already_exists."""
    address = normalise_staff_email(email)
    if role not in ROLES:
        raise invalid("role", f"One of {', '.join(ROLES)}.")
    secret = check_new_password(password, address)
    if find_staff(address) is not None:
        raise PrefsError("already_exists", "A staff account with this email exists already.", {"email": ["Taken."]})
    staff = StaffUser(email=address, role=role, password_hash=hasher.hash(secret))
    db.session.add(staff)
    record_admin_event(actor, actor_id, "staff.created", address, {"role": role})
    db.session.flush()
    return staff


def set_disabled(staff: StaffUser, disabled: bool, actor: str, actor_id: str | None) -> bool:
    """Disable (its sessions end at once) or enable an account; returns whether anything changed."""
    if (staff.disabled_at is not None) == disabled:
        return False
    staff.disabled_at = utcnow() if disabled else None
    if disabled:
        end_sessions(staff)
    record_admin_event(actor, actor_id, "staff.disabled" if disabled else "staff.enabled", staff.email, None)
    db.session.flush()
    return True


def reset_password(
    staff: StaffUser, password: object, actor: str, actor_id: str | None, *, hasher: PasswordHasher = FULL_COST
) -> None:
    """Set a new password; every session of the account ends. Raises PrefsError(invalid)."""
    staff.password_hash = hasher.hash(check_new_password(password, staff.email))
    end_sessions(staff)
    record_admin_event(actor, actor_id, "staff.password_reset", staff.email, None)
    db.session.flush()


def end_sessions(staff: StaffUser) -> None:
    """Every session of the account ends, on every device: its cookies carry the old epoch."""
    staff.session_epoch = StaffUser.session_epoch + 1  # in SQL, so two at once both count
    db.session.flush()


def staff_for_session(session_id: str) -> StaffUser | None:
    """The account a session cookie opens (`StaffUser.get_id`), or None once it was ended or disabled."""
    staff_id, _, epoch = session_id.partition(":")
    if not staff_id.isdigit() or not epoch.isdigit() or not fits_int_id(int(staff_id)):
        return None  # a cookie from before session epochs: sign in again
    staff = db.session.get(StaffUser, int(staff_id))
    if staff is None or staff.disabled_at is not None or staff.session_epoch != int(epoch):
        return None
    return staff


def authenticate(email: object, password: object, *, hasher: PasswordHasher = FULL_COST) -> StaffUser | None:
    """The enabled account these credentials open, or None.

    An unknown email costs one hash check too, so the answer's timing does not tell which emails exist.
    """
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return None
    staff = find_staff(email) if "\x00" not in email else None
    if staff is None:
        hasher.match_nothing(password)
        return None
    if not hasher.matches(staff.password_hash, password) or staff.disabled_at is not None:
        return None
    return staff


def record_sign_in(staff: StaffUser) -> None:
    staff.last_login_at = utcnow()
