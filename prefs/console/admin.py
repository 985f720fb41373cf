"""Admin pages: topics (create, edit, archive), API keys (create shown once, revoke), admin events."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..models import Topic
from ..runtime import runtime
from ..services.api_keys import create_key, list_keys, revoke_key
from ..services.topics import after_topic_commit, create_topic, get_topic, list_topics, topic_to_dict, update_topic
from . import bp
from .auth import requires
from .forms import TRANSLATED_LANGUAGES, ApiKeyForm, TopicCreateForm, TopicEditForm, attach_errors, translation_field_name
from .history import admin_history, parse_before

MANDATORY_CHANNELS_WHY = "A mandatory topic can gain channels but never lose one."


# --- topics ---------------------------------------------------------------------------------------------
def render_topics(form: TopicCreateForm | None = None, status: int = 200, error: str | None = None):
    topics = [topic_to_dict(topic) for topic in list_topics()]
    for topic in topics:
        topic["default_on"] = [channel for channel, on in topic["default_subscribed"].items() if on]
    return render_template(
        "console/admin/topics.html",
        topics=topics,
        form=form or TopicCreateForm(formdata=None),
        error=error,
        translated_languages=TRANSLATED_LANGUAGES,
        translation_field_name=translation_field_name,
    ), status


def topic_defaults(form: TopicEditForm, channels: list[str]) -> dict[str, bool]:
    """Defaults only for channels the topic is sent on; the form says so beside the boxes."""
    return {channel: channel in (form.default_on.data or []) for channel in channels}


def topic_translations(form: TopicEditForm) -> dict[str, dict[str, str]]:
    """The `names` and `descriptions` maps from the form's per-language fields (an empty one: none)."""
    return {
        f"{kind}s": {tag: form[translation_field_name(kind, tag)].data or "" for tag in TRANSLATED_LANGUAGES}
        for kind in ("name", "description")
    }


def translation_data(shown: dict) -> dict[str, str]:
    return {
        translation_field_name(kind, tag): shown[f"{kind}s"].get(tag, "")
        for kind in ("name", "description")
        for tag in TRANSLATED_LANGUAGES
    }


def committed_topic(operation) -> Topic:
    topic = unit_of_work(operation, conflict="already_exists")
    after_topic_commit(runtime().catalogue)
    return topic


@bp.get("/admin/topics")
@requires("admin")
def topics():
    return render_topics()


@bp.post("/admin/topics")
@requires("admin")
def create_topic_view():
    form = TopicCreateForm()
    if not form.validate():
        return render_topics(form, 422)
    channels = form.channels.data or []
    fields = {
        "key": form.key.data,
        "name": form.name.data,
        "description": form.description.data,
        "mandatory": form.mandatory.data,
        "channels": channels,
        "default_subscribed": topic_defaults(form, channels),
        "confirmation": form.confirmation.data,
        **topic_translations(form),
    }
    try:
        topic = committed_topic(lambda: create_topic(fields, "staff", current_user.email))
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_topics(form, error.status, error.message)
    flash(f"Topic {topic.key} created.", "success")
    return redirect(url_for("console.topics"), 303)


def render_topic(topic: Topic, form: TopicEditForm | None = None, status: int = 200, error: str | None = None):
    shown = topic_to_dict(topic)
    if form is None:
        form = TopicEditForm(
            formdata=None,
            data={
                "name": shown["name"],
                "description": shown["description"],
                "channels": shown["channels"],
                "default_on": [channel for channel, on in shown["default_subscribed"].items() if on],
                "confirmation": shown["confirmation"],
                **translation_data(shown),
            },
        )
    return render_template(
        "console/admin/topic.html",
        topic=shown,
        form=form,
        error=error,
        mandatory_channels_why=MANDATORY_CHANNELS_WHY,
        translated_languages=TRANSLATED_LANGUAGES,
        translation_field_name=translation_field_name,
    ), status


@bp.get("/admin/topics/<key>")
@requires("admin")
def topic(key: str):
    return render_topic(get_topic(key))


@bp.post("/admin/topics/<key>")
@requires("admin")
def edit_topic(key: str):
    current = get_topic(key)
    form = TopicEditForm()
    if not form.validate():
        return render_topic(current, form, 422)
    channels = list(form.channels.data or [])
    if current.mandatory:  # its channels are shown locked, and browsers do not submit disabled boxes
        channels = sorted(set(channels) | set(current.channels))
    fields = {"name": form.name.data, "description": form.description.data, "channels": channels, **topic_translations(form)}
    if not current.mandatory:
        fields["default_subscribed"] = topic_defaults(form, channels)
        fields["confirmation"] = form.confirmation.data
    try:
        committed_topic(lambda: update_topic(get_topic(key), fields, "staff", current_user.email))
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_topic(get_topic(key), form, error.status, error.message)
    flash(f"Topic {key} saved.", "success")
    return redirect(url_for("console.topic", key=key), 303)


def set_archived(key: str, archived: bool, done: str):
    try:
        committed_topic(lambda: update_topic(get_topic(key), {"archived": archived}, "staff", current_user.email))
    except PrefsError as error:
        if error.code == "not_found":
            raise
        return render_topic(get_topic(key), status=error.status, error=error.message)
    flash(done, "success")
    return redirect(url_for("console.topic", key=key), 303)


@bp.post("/admin/topics/<key>/archive")
@requires("admin")
def archive_topic(key: str):
    return set_archived(key, True, f"Topic {key} archived: checks now answer topic_archived.")


@bp.post("/admin/topics/<key>/restore")
@requires("admin")
def restore_topic(key: str):
    return set_archived(key, False, f"Topic {key} restored.")


# --- API keys -------------------------------------------------------------------------------------------
def render_keys(
    form: ApiKeyForm | None = None,
    status: int = 200,
    *,
    error: str | None = None,
    create_error: str | None = None,
    new_key: tuple[str, str] | None = None,
):
    """`error`: a refused revocation, shown above the list; `create_error`: a refused creation, at its form."""
    return render_template(
        "console/admin/keys.html",
        keys=list_keys(),
        form=form or ApiKeyForm(formdata=None),
        error=error,
        create_error=create_error,
        new_key=new_key,
    ), status


@bp.get("/admin/keys")
@requires("admin")
def api_keys():
    return render_keys()


@bp.post("/admin/keys")
@requires("admin")
def create_api_key():
    """The key is on this one response only (never in a flash message: those travel in the session cookie)."""
    form = ApiKeyForm()
    if not form.validate():
        return render_keys(form, 422)
    try:
        key = unit_of_work(lambda: create_key(form.name.data, list(form.scopes.data or []), "staff", current_user.email))
    except PrefsError as error:
        attach_errors(form, error.details)
        return render_keys(form, error.status, create_error=error.message)
    return render_keys(new_key=(form.name.data, key), status=201)


@bp.post("/admin/keys/<name>/revoke")
@requires("admin")
def revoke_api_key(name: str):
    try:
        unit_of_work(lambda: revoke_key(name, "staff", current_user.email))
    except PrefsError as error:
        return render_keys(status=error.status, error=error.message)
    runtime().api_keys.clear()  # this worker at once; the others within the cache's TTL (≤ 5 s)
    flash(f"API key {name} revoked.", "success")
    return redirect(url_for("console.api_keys"), 303)


# --- admin events ---------------------------------------------------------------------------------------
@bp.get("/admin/events")
@requires("admin")
def admin_events():
    return render_template("console/admin/events.html", page=admin_history(parse_before(request.args.get("before"))))
