"""The topic catalogue: create, change, archive. Mandatory topics can only ever grow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from ..catalogue import TopicCatalogue
from ..channels import CHANNELS
from ..db.generations import TOPICS, bump
from ..decision import TOPIC_KEY_RE
from ..errors import PrefsError, invalid
from ..extensions import db
from ..languages import LANGUAGES
from ..models import Topic, utcnow
from .admin_events import record_admin_event

EDITABLE = ("name", "description", "channels", "default_subscribed", "archived", "names", "descriptions", "confirmation")
# How an opt-in by email is taken (SPEC §14): stored at once, or once the person confirms a mailed link.
CONFIRMATIONS = ("single", "double")
# Admins' translations of a topic's name and description (SPEC §16): language tag -> text, for the languages
# the recipient pages speak (prefs/languages.py); the page shows the one for its language, else `name`.
TEXT_LIMITS = {"names": 200, "descriptions": 2000}
# Refusals of `confirmation: double` that, in a PATCH, depend on the topic as stored (its channels, mandatory,
# default_subscribed), not on the request's shape.
DOUBLE_NOT_BY_EMAIL = "Double opt-in is for email: this topic is not sent by email."
DOUBLE_MANDATORY = "A mandatory topic needs no opt-in."
DOUBLE_ON_BY_DEFAULT = "A double opt-in topic cannot be on by default by email."


def topic_to_dict(topic: Topic) -> dict[str, Any]:
    return {
        "key": topic.key,
        "name": topic.name,
        "description": topic.description or "",
        "mandatory": topic.mandatory,
        "channels": [c for c in CHANNELS if c in topic.channels],
        "default_subscribed": {c: bool((topic.default_subscribed or {}).get(c, False)) for c in CHANNELS if c in topic.channels},
        "archived": topic.archived,
        "names": _in_language_order(topic.names),
        "descriptions": _in_language_order(topic.descriptions),
        "confirmation": topic.confirmation or "single",
    }


def _in_language_order(texts: Mapping[str, str] | None) -> dict[str, str]:
    return {tag: texts[tag] for tag in LANGUAGES if texts and texts.get(tag)}


def translations(field: str, given: Any) -> dict[str, str]:
    """A `names` or `descriptions` map as stored: only our languages' tags (`pt-BR` as written), text of at most
    the field's limit, blanks trimmed; an empty text drops that language. Raises PrefsError(invalid)."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise invalid(field, "An object from a language tag to text.")
    unknown = sorted(str(tag) for tag in given if tag not in LANGUAGES)
    if unknown:
        raise PrefsError(
            "invalid",
            f"{field}: languages are {', '.join(LANGUAGES)}.",
            {field: {tag: [f"Not one of {', '.join(LANGUAGES)}."] for tag in unknown}},
        )
    texts = {}
    for tag, text in given.items():
        if not isinstance(text, str) or len(text.strip()) > TEXT_LIMITS[field]:
            raise PrefsError(
                "invalid",
                f"{field}.{tag}: text of at most {TEXT_LIMITS[field]} characters.",
                {field: {tag: ["Too long or not text."]}},
            )
        if text.strip():
            texts[tag] = text.strip()
    return _in_language_order(texts)


def list_topics() -> list[Topic]:
    return list(db.session.execute(select(Topic).order_by(Topic.key)).scalars())


def get_topic(key: str) -> Topic:
    """Raises PrefsError(not_found)."""
    topic = db.session.execute(select(Topic).where(Topic.key == key)).scalar_one_or_none()
    if topic is None:
        raise PrefsError("not_found", f"No topic {key!r}.")
    return topic


def create_topic(fields: Mapping[str, Any], actor: str, actor_id: str | None) -> Topic:
    """Raises PrefsError: invalid, already_exists."""
    key = fields["key"]
    if not TOPIC_KEY_RE.fullmatch(key):  # re.match lets a final newline through `$`
        raise invalid("key", "Lower-case letters, digits, '_' and '-', starting with a letter or digit, at most 64.")
    if db.session.execute(select(Topic.id).where(Topic.key == key)).first():
        raise PrefsError("already_exists", f"Topic {key!r} exists already.", {"key": ["Taken."]})
    channels = _channels(fields["channels"])
    topic = Topic(
        key=key,
        name=fields["name"],
        description=fields.get("description") or "",
        mandatory=bool(fields.get("mandatory", False)),
        channels=channels,
        default_subscribed=_defaults(fields.get("default_subscribed") or {}, channels),
        archived=False,
        names=translations("names", fields.get("names")),
        descriptions=translations("descriptions", fields.get("descriptions")),
        confirmation=fields.get("confirmation") or "single",
    )
    _check_confirmation(topic)
    db.session.add(topic)
    record_admin_event(actor, actor_id, "topic.created", key, topic_to_dict(topic))
    db.session.flush()
    bump(TOPICS)
    return topic


def update_topic(topic: Topic, fields: Mapping[str, Any], actor: str, actor_id: str | None) -> Topic:
    """Raises PrefsError: immutable_field (key, mandatory), mandatory_topic (archive or narrow one), invalid."""
    for name in ("key", "mandatory"):
        if name in fields and fields[name] != getattr(topic, name):
            raise PrefsError("immutable_field", f"A topic's {name} is fixed at creation.", {name: ["Cannot change."]})
    before = topic_to_dict(topic)
    if "name" in fields:
        topic.name = fields["name"]
    if "description" in fields:
        topic.description = fields["description"] or ""
    for name in ("names", "descriptions"):
        if name in fields:
            setattr(topic, name, translations(name, fields[name]))
    if "channels" in fields:
        channels = _channels(fields["channels"])
        if topic.mandatory and not set(topic.channels) <= set(channels):
            raise PrefsError(
                "mandatory_topic", "A mandatory topic cannot lose a channel.", {"channels": ["Cannot narrow a mandatory topic."]}
            )
        topic.channels = channels
    if "default_subscribed" in fields or "channels" in fields:
        given = fields.get("default_subscribed", topic.default_subscribed or {})
        topic.default_subscribed = _defaults(given, topic.channels, strict="default_subscribed" in fields)
    if "archived" in fields:
        if fields["archived"] and topic.mandatory:
            raise PrefsError("mandatory_topic", "A mandatory topic cannot be archived.")
        topic.archived = bool(fields["archived"])
    if "confirmation" in fields:
        topic.confirmation = fields["confirmation"] or "single"
    _check_confirmation(topic)
    after = topic_to_dict(topic)
    if after != before:
        topic.updated_at = utcnow()
        changed = {name: after[name] for name in after if after[name] != before[name]}
        record_admin_event(
            actor, actor_id, "topic.archived" if changed == {"archived": True} else "topic.changed", topic.key, changed
        )
        db.session.flush()
        bump(TOPICS)  # every node drops its catalogue within half a second
    db.session.flush()
    return topic


def _check_confirmation(topic: Topic) -> None:
    """Double opt-in is for email (SPEC §14): a topic asking for it is sent by email, is not mandatory (nobody
    opts in to those) and is not on by default by email (the person's confirmation is what switches it on).
    Raises PrefsError(invalid)."""
    confirmation = topic.confirmation or "single"
    if confirmation not in CONFIRMATIONS:
        raise invalid("confirmation", "single or double.")
    if confirmation == "single":
        return
    if "email" not in topic.channels:
        raise invalid("confirmation", DOUBLE_NOT_BY_EMAIL)
    if topic.mandatory:
        raise invalid("confirmation", DOUBLE_MANDATORY)
    if (topic.default_subscribed or {}).get("email"):
        raise invalid("confirmation", DOUBLE_ON_BY_DEFAULT)


def _channels(given: list[str]) -> list[str]:
    if not given or any(c not in CHANNELS for c in given) or len(set(given)) != len(given):
        raise invalid("channels", f"One or more distinct channels among {', '.join(CHANNELS)}.")
    return [c for c in CHANNELS if c in given]


def _defaults(given: Mapping[str, bool], channels: list[str], strict: bool = True) -> dict[str, bool]:
    """Per-channel defaults; a channel left out is off. Refuses a default for a channel the topic lacks."""
    extra = set(given) - set(channels)
    if extra and strict:
        raise PrefsError(
            "invalid",
            "A default for a channel the topic is not sent on.",
            {"default_subscribed": {c: ["Not a channel of this topic."] for c in sorted(extra)}},
        )
    return {c: bool(given.get(c, False)) for c in channels}


def after_topic_commit(catalogue: TopicCatalogue) -> None:
    """This worker sees the change at once; the others within half a second (db/generations.py)."""
    catalogue.invalidate()
