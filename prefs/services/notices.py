"""Notices (SPEC §14): the wording people see when they consent, kept versioned. Saving a notice's text makes
its next version; a version is never altered, so the text a consent names stays the text the person saw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from ..decision import TOPIC_KEY_RE
from ..errors import PrefsError, invalid
from ..extensions import db
from ..languages import LANGUAGES, match
from ..models import Notice
from .admin_events import record_admin_event

MAX_TEXT = 20000
# Refusals of a consent's `notice` that depend on the notices as stored (and the time), not on the request's shape.
UNKNOWN_NOTICE = "Unknown notice."
NOT_YET_CURRENT = "No version of this notice was current at collected_at."


def notice_to_dict(notice: Notice) -> dict[str, Any]:
    return {
        "key": notice.key,
        "version": notice.version,
        "text": notice.text,
        "language": notice.language,
        "created_at": _aware(notice.created_at).isoformat(),
        "created_by": notice.created_by,
    }


def save_notice(key: str, text: str, language: str | None, actor: str, actor_id: str | None) -> tuple[Notice, bool]:
    """Make `text` the notice's current version: version 1 of a new key, else the next version. Saving the
    current text and language again makes nothing. Returns (the current version, whether one was made).

    Raises PrefsError(invalid): a key not shaped like a topic key, empty or too long text, a language that is
    not one of the pages' languages."""
    if not isinstance(key, str) or not TOPIC_KEY_RE.fullmatch(key):
        raise invalid("key", "Lower-case letters, digits, '_' and '-', starting with a letter or digit, at most 64.")
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise invalid("text", f"The notice's wording: 1 to {MAX_TEXT} characters.")
    tag = None
    if language:
        tag = match(language)
        if tag is None:
            raise invalid("language", f"One of {', '.join(LANGUAGES)}.")
    current = current_notice(key)
    if current is not None and current.text == text and current.language == tag:
        return current, False
    notice = Notice(key=key, version=(current.version + 1) if current else 1, text=text, language=tag, created_by=actor_id)
    db.session.add(notice)
    db.session.flush()
    record_admin_event(actor, actor_id, "notice.created" if notice.version == 1 else "notice.changed", key,
                       {"version": notice.version, "language": tag})  # fmt: skip
    return notice, True


def current_notice(key: str) -> Notice | None:
    return db.session.execute(select(Notice).where(Notice.key == key).order_by(Notice.version.desc()).limit(1)).scalar()


def notice_versions(key: str) -> list[Notice]:
    """Every version, newest first. Raises PrefsError(not_found)."""
    versions = list(db.session.execute(select(Notice).where(Notice.key == key).order_by(Notice.version.desc())).scalars())
    if not versions:
        raise PrefsError("not_found", f"No notice {key!r}.")
    return versions


def list_notices() -> list[tuple[Notice, int]]:
    """Each notice's current version and how many versions it has, by key."""
    latest = (
        select(Notice.key, func.max(Notice.version).label("version"), func.count().label("versions"))
        .group_by(Notice.key)
        .subquery()
    )
    rows = db.session.execute(
        select(Notice, latest.c.versions)
        .join(latest, (Notice.key == latest.c.key) & (Notice.version == latest.c.version))
        .order_by(Notice.key)
    ).all()
    return [(notice, versions) for notice, versions in rows]


def notice_at(key: str, collected_at: datetime) -> Notice:
    """The version of the notice that was current when the consent was collected: the newest one made at or
    before `collected_at`. Raises PrefsError(invalid) for an unknown key or a time before its first version."""
    moment = _aware(collected_at)
    versions = list(db.session.execute(select(Notice).where(Notice.key == key).order_by(Notice.version.desc())).scalars())
    if not versions:
        raise PrefsError("invalid", f"No notice {key!r}.", {"evidence": {"notice": [UNKNOWN_NOTICE]}})
    for notice in versions:
        if made_by(notice, moment):
            return notice
    raise PrefsError(
        "invalid",
        f"The notice {key!r} did not exist yet when this consent was collected.",
        {"evidence": {"notice": [NOT_YET_CURRENT]}},
    )


def notice_version(key: str, version: int) -> Notice | None:
    return db.session.execute(select(Notice).where(Notice.key == key, Notice.version == version)).scalar()


def made_by(notice: Notice, moment: datetime) -> bool:
    """Whether this version existed at `moment`."""
    return _aware(notice.created_at) <= _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
