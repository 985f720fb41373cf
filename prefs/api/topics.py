"""The topic catalogue over the API: read with `check`, change with `admin`."""

from __future__ import annotations

from ..db.transactions import unit_of_work
from ..runtime import runtime
from ..services.topics import after_topic_commit, create_topic, get_topic, list_topics, topic_to_dict, update_topic
from .auth import actor_name, authorized
from .blueprint import blp
from .schemas import TopicCreateSchema, TopicListSchema, TopicPatchSchema, TopicSchema


def _committed(operation):
    topic = unit_of_work(operation, conflict="already_exists")
    after_topic_commit(runtime().catalogue)
    return topic_to_dict(topic)


@blp.route("/topics", methods=["GET"])
@authorized("check")
@blp.response(200, TopicListSchema)
def topics():
    """The catalogue, archived topics included (flagged)."""
    return {"topics": [topic_to_dict(topic) for topic in list_topics()]}


@blp.route("/topics", methods=["POST"])
@authorized("admin", body="required")
@blp.arguments(TopicCreateSchema)
@blp.response(201, TopicSchema)
def post_topic(fields):
    """Create a topic. `mandatory` is fixed from now on."""
    return _committed(lambda: create_topic(fields, "api", actor_name()))


@blp.route("/topics/<string:key>", methods=["GET"])
@authorized("admin")
@blp.response(200, TopicSchema)
def topic(key):
    return topic_to_dict(get_topic(key))


@blp.route("/topics/<string:key>", methods=["PATCH"])
@authorized("admin", body="required")
@blp.arguments(TopicPatchSchema)
@blp.response(200, TopicSchema)
def patch_topic(fields, key):
    """Change name, description, channels, defaults or archived. A mandatory topic can only gain channels."""
    return _committed(lambda: update_topic(get_topic(key), fields, "api", actor_name()))


@blp.route("/topics/<string:key>", methods=["DELETE"])
@authorized("admin", body="optional")
@blp.response(200, TopicSchema)
def archive_topic(key):
    """Archive the topic: checks then answer topic_archived. Mandatory topics cannot be archived."""
    return _committed(lambda: update_topic(get_topic(key), {"archived": True}, "api", actor_name()))
