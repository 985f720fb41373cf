"""The topic catalogue over the API: read with `check`, change with `admin`."""

from __future__ import annotations

from ..db.transactions import unit_of_work
from ..runtime import runtime
from ..services.topics import after_topic_commit, create_topic, get_topic, list_topics, topic_to_dict, update_topic
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
from .schemas import TopicCreateSchema, TopicListSchema, TopicPatchSchema, TopicSchema

NO_TOPIC = "No topic has this key."
MANDATORY = "A mandatory topic (service and billing messages) cannot be archived or lose a channel."


def _committed(operation):
    topic = unit_of_work(operation, conflict="already_exists")
    after_topic_commit(runtime().catalogue)
    return topic_to_dict(topic)


@blp.route("/topics", methods=["GET"], tags=["Topics"])
@authorized("check")
@blp.response(200, TopicListSchema, description="Every topic.", example=examples.TOPIC_LIST)
def topics():
    """List topics

    The catalogue: every topic with its channels and per-channel defaults, archived topics included (flagged
    `archived`). Checks refer to topics by `key`.
    """
    return {"topics": [topic_to_dict(topic) for topic in list_topics()]}


@blp.route("/topics", methods=["POST"], tags=["Topics"])
@authorized("admin", body="required")
@refuses("already_exists")
@blp.arguments(TopicCreateSchema, example=examples.TOPIC_IN)
@blp.response(201, TopicSchema, description="The topic, created.", example=examples.TOPIC)
def post_topic(fields):
    """Create a topic

    A new kind of message you send, on the channels you send it on, with whether each channel is on by
    default for people who never chose (left out: off). Mandatory topics (service and billing messages) are
    always allowed while an account is active and cannot be unsubscribed from; `key` and `mandatory` are
    fixed from now on. The new topic is checkable at once on every server. `names` and `descriptions` give
    the topic's texts in the recipient pages' other languages (es, fr, de, pt-BR, hi, ar; en overrides
    `name` on English pages): a page in a language without one shows `name` and `description`.
    """
    return _committed(lambda: create_topic(fields, "api", actor_name()))


@blp.route("/topics/<string:key>", methods=["GET"], tags=["Topics"])
@authorized("admin")
@refuses(not_found=NO_TOPIC)
@blp.response(200, TopicSchema, description="The topic.", example=examples.TOPIC)
def topic(key):
    """Get a topic

    One topic of the catalogue, archived or not.
    """
    return topic_to_dict(get_topic(key))


@blp.route("/topics/<string:key>", methods=["PATCH"], tags=["Topics"])
@authorized("admin", body="required")
@refuses("immutable_field", not_found=NO_TOPIC, mandatory_topic=MANDATORY)
@blp.arguments(TopicPatchSchema, example=examples.TOPIC_PATCH)
@blp.response(200, TopicSchema, description="The topic as it is now.", example=examples.TOPIC_PATCHED)
def patch_topic(fields, key):
    """Change a topic

    Change its name, description, their translations (`names`, `descriptions`: each replaces the whole map),
    channels, per-channel defaults, or archive and restore it (`archived`). Fields left out stay as they are. A mandatory topic can only gain channels. People's stored choices are
    kept; a new default applies to everyone who never chose.
    """
    return _committed(lambda: update_topic(get_topic(key), fields, "api", actor_name()))


@blp.route("/topics/<string:key>", methods=["DELETE"], tags=["Topics"])
@authorized("admin", body="optional")
@refuses(not_found=NO_TOPIC, mandatory_topic=MANDATORY)
@blp.response(200, TopicSchema, description="The topic, archived.", example=examples.TOPIC_ARCHIVED)
def archive_topic(key):
    """Archive a topic

    Topics are never deleted (their consent history refers to them): from now on every check of it answers
    `topic_archived`. `PATCH` with `{"archived": false}` restores it. Mandatory topics cannot be archived.
    """
    return _committed(lambda: update_topic(get_topic(key), {"archived": True}, "api", actor_name()))
