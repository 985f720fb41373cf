"""Hosted subscribe forms (SPEC §14): the forms admins define (key, title, topics, the notice shown, a thank-you
text) and what a visitor's submission at /s/<key> does.

A form is on a public page where anyone can type anyone's address, so every topic on it waits for the
person's confirmation of a mailed link (double opt-in), whatever the topic's own `confirmation`: a single
opt-in form would let a stranger subscribe someone else. Forms are therefore by email only, and need mail
configured (services/mail.py); without it a form says it is unavailable and takes nothing.

The page must not tell whether an address is known: `submit_form` raises for what depends on the address
(an invalid, erased or deactivated one) and the wing answers the same page whatever it raises; what depends
on the form alone (mail off, a topic archived since) is `form_problem`, asked before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, select

from ..decision import TOPIC_KEY_RE
from ..deps import Deps
from ..errors import PrefsError, invalid
from ..extensions import db
from ..models import SubscribeForm, utcnow
from .admin_events import record_admin_event
from .events import Actor
from .mail import mail_enabled
from .notices import current_notice
from .subscriptions import Subscriber, subscribe

CHANNEL = "email"  # confirmation links go by email (SPEC §14: double opt-in is email only)
MAX_TOPICS = 20
MAX_TITLE = 200
MAX_THANKS = 2000
SOURCE_PREFIX = "hosted_form:"  # the evidence's source: "hosted_form:<key>"
ACTOR = Actor("recipient", None, "hosted_form")
FIELDS = ("title", "topics", "channel", "notice", "thanks")

# Refusals that depend on the catalogue and the notices, not on the request's shape.
NO_NOTICE = "No notice has this key: save its wording first (POST /api/v1/notices)."
MANDATORY, NOT_BY_EMAIL = "Mandatory topic.", "Not sent by email."

# Why a form cannot take signups just now (form_problem).
MAIL_OFF, TOPIC_GONE = "mail_off", "topic_gone"


def form_to_dict(form: SubscribeForm, base_url: str) -> dict[str, Any]:
    return {
        "key": form.key,
        "title": form.title,
        "topics": list(form.topics),
        "channel": form.channel,
        "notice": form.notice,
        "thanks": form.thanks or "",
        "url": form_url(base_url, form.key),
        "created_at": _iso(form.created_at),
        "updated_at": _iso(form.updated_at),
    }


def form_url(base_url: str, key: str) -> str:
    """The form's public page: what the evidence records as the page the person signed up on."""
    return f"{base_url}/s/{key}"


def list_forms() -> list[SubscribeForm]:
    return list(db.session.execute(select(SubscribeForm).order_by(SubscribeForm.key)).scalars())


def get_form(key: str) -> SubscribeForm:
    """Raises PrefsError(not_found)."""
    form = find_form(key)
    if form is None:
        raise PrefsError("not_found", f"No form {key!r}.")
    return form


def find_form(key: str) -> SubscribeForm | None:
    if not isinstance(key, str) or not TOPIC_KEY_RE.fullmatch(key):
        return None
    return db.session.execute(select(SubscribeForm).where(SubscribeForm.key == key)).scalar_one_or_none()


def create_form(deps: Deps, fields: Mapping[str, Any], actor: str, actor_id: str | None) -> SubscribeForm:
    """A new form. Raises PrefsError: invalid (see `_checked`), already_exists (the key is taken)."""
    key = fields.get("key")
    if not isinstance(key, str) or not TOPIC_KEY_RE.fullmatch(key):
        raise invalid("key", "Lower-case letters, digits, '_' and '-', starting with a letter or digit, at most 64.")
    if find_form(key) is not None:
        raise PrefsError("already_exists", f"Form {key!r} exists already.", {"key": ["Taken."]})
    values = _checked(deps, {"channel": CHANNEL, "thanks": "", **fields})
    form = SubscribeForm(key=key, created_by=actor_id, **values)
    db.session.add(form)
    db.session.flush()
    record_admin_event(actor, actor_id, "form.created", key, _summary(form))
    return form


def update_form(deps: Deps, key: str, fields: Mapping[str, Any], actor: str, actor_id: str | None) -> SubscribeForm:
    """Change a form's fields given (the key is fixed). Raises PrefsError: not_found, immutable_field, invalid."""
    form = get_form(key)
    if "key" in fields and fields["key"] != key:
        raise PrefsError("immutable_field", "A form's key is fixed when it is made.", {"key": ["Cannot change."]})
    current = {name: getattr(form, name) for name in FIELDS}
    values = _checked(deps, {**current, **{name: fields[name] for name in FIELDS if name in fields}})
    for name, value in values.items():
        setattr(form, name, value)
    form.updated_at = utcnow()
    db.session.flush()
    record_admin_event(actor, actor_id, "form.changed", key, _summary(form))
    return form


def delete_form(key: str, actor: str, actor_id: str | None) -> None:
    """The form's page is gone (404). Consents it collected keep their evidence (source, notice, URL).
    Raises PrefsError(not_found)."""
    form = get_form(key)
    db.session.execute(delete(SubscribeForm).where(SubscribeForm.id == form.id))
    record_admin_event(actor, actor_id, "form.deleted", key, None)


def _checked(deps: Deps, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The form's fields as stored. Raises PrefsError(invalid): a title of 1-200 characters; 1-20 distinct
    topics, each a live, non-mandatory topic sent by email; channel email; a notice that exists; thanks of at
    most 2000 characters. Raises PrefsError(unknown_topic) for a topic not in the catalogue."""
    title = str(fields.get("title") or "")
    if not 1 <= len(title) <= MAX_TITLE:
        raise invalid("title", f"The form's heading: 1 to {MAX_TITLE} characters.")
    if fields.get("channel") != CHANNEL:
        raise invalid("channel", "Forms subscribe by email: the person confirms a link mailed to them.")
    topics = fields.get("topics")
    if not isinstance(topics, Sequence) or isinstance(topics, str) or not 1 <= len(topics) <= MAX_TOPICS:
        raise invalid("topics", f"1 to {MAX_TOPICS} distinct topic keys.")
    if len(set(topics)) != len(topics):
        raise invalid("topics", f"1 to {MAX_TOPICS} distinct topic keys.")
    rules = deps.catalogue.get_many(list(topics))
    for index, key in enumerate(topics):
        rule = rules.get(key)
        if rule is None or rule.archived:
            raise PrefsError("unknown_topic", f"No topic {key!r}.", {"topics": {str(index): ["Unknown topic."]}})
        if CHANNEL not in rule.channels or rule.mandatory:
            why = MANDATORY if rule.mandatory else NOT_BY_EMAIL
            raise PrefsError("invalid", f"Topic {key!r} cannot be on a form: {why}", {"topics": {str(index): [why]}})
    notice = fields.get("notice")
    if not isinstance(notice, str) or current_notice(notice) is None:
        raise invalid("notice", NO_NOTICE)
    thanks = str(fields.get("thanks") or "").strip()
    if len(thanks) > MAX_THANKS:
        raise invalid("thanks", f"At most {MAX_THANKS} characters.")
    return {"title": title.strip() or title, "topics": list(topics), "channel": CHANNEL, "notice": notice, "thanks": thanks}


def _summary(form: SubscribeForm) -> dict[str, Any]:
    return {"topics": list(form.topics), "notice": form.notice}


# --- the public page (/s/<key>) ---------------------------------------------------------------------------
class ShownNotice(NamedTuple):
    text: str
    language: str | None  # None: any
    version: int | None  # the page sends it back, so the consent names what the person read


def notice_text(form: SubscribeForm) -> ShownNotice:
    """The notice's current wording, its language and version, which the page shows."""
    notice = current_notice(form.notice)
    return ShownNotice(notice.text, notice.language, notice.version) if notice else ShownNotice("", None, None)


def shown_version(raw: str | None) -> int | None:
    """The notice version a submitted page says it showed (a hidden field: anything may come back; what is
    not a whole number is ignored, and consent_evidence keeps only a real version of the form's notice)."""
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def form_problem(deps: Deps, form: SubscribeForm) -> str | None:
    """Why the form cannot take signups now, whatever the address (MAIL_OFF, TOPIC_GONE), or None."""
    if not mail_enabled(deps):
        return MAIL_OFF
    rules = deps.catalogue.get_many(list(form.topics))
    for key in form.topics:
        rule = rules.get(key)
        if rule is None or rule.archived or CHANNEL not in rule.channels or rule.mandatory:
            return TOPIC_GONE
    if current_notice(form.notice) is None:
        return TOPIC_GONE
    return None


def submit_form(
    deps: Deps,
    form: SubscribeForm,
    typed: str,
    language: str,
    ip: str | None,
    user_agent: str | None,
    notice_version_shown: int | None = None,
) -> None:
    """A visitor asks for the form's topics for `typed`: a pending request and one confirmation mail (an
    unknown address becomes a recipient, in `language`). Evidence: source "hosted_form:<key>", the notice
    (the version the page showed, else the one current now), the form's URL, IP and user agent.

    Raises PrefsError for what depends on the address (invalid, erased, deactivated, ...): the caller answers
    the same page whatever happens, and its transaction rolls back."""
    evidence = {
        "source": SOURCE_PREFIX + form.key,
        "notice": form.notice,
        "url": form_url(deps.base_url, form.key),
        "ip": ip,
        "user_agent": user_agent,
    }
    subscribe(
        deps,
        Subscriber(email=typed, locale=language),
        list(form.topics),
        CHANNEL,
        evidence,
        ACTOR,
        always_confirm=True,
        notice_version_shown=notice_version_shown,
    )


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
