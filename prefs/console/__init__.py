"""The support console under /console: staff sign in, find a person, see why, change it with a reason."""
from __future__ import annotations

from flask import Blueprint

from ..extensions import db, login_manager
from ..models import StaffUser

bp = Blueprint("console", __name__, url_prefix="/console")


@login_manager.user_loader
def load_staff_user(user_id: str) -> StaffUser | None:
    """A disabled account loses its sessions at once: it is not loaded any more."""
    if not user_id.isdigit():
        return None
    user = db.session.get(StaffUser, int(user_id))
    return user if user is not None and user.disabled_at is None else None
