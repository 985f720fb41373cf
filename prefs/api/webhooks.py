"""Webhook endpoints over the API (SPEC §13), `admin` scope."""

from __future__ import annotations

from ..db.transactions import unit_of_work
from ..runtime import runtime
from ..services.webhook_endpoints import (
    create_endpoint,
    delete_endpoint,
    endpoint_to_dict,
    get_endpoint,
    list_endpoints,
    recent_attempts,
    replay,
    rotate_secret,
    update_endpoint,
)
from .auth import actor_name, authorized
from .blueprint import blp
from .schemas import (
    DeliveryAttemptListSchema,
    ReplayResultSchema,
    ReplaySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookPatchSchema,
    WebhookSchema,
    WebhookSecretSchema,
)


@blp.route("/webhooks", methods=["GET"])
@authorized("admin")
@blp.response(200, WebhookListSchema)
def webhooks():
    """Every endpoint (never a secret)."""
    return {"webhooks": [endpoint_to_dict(endpoint) for endpoint in list_endpoints()]}


@blp.route("/webhooks", methods=["POST"])
@authorized("admin", body="required")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookCreatedSchema)
def post_webhook(fields):
    """Add an endpoint. Its signing secret is in this answer only."""
    endpoint, secret = unit_of_work(lambda: create_endpoint(fields, runtime().webhook_allow_hosts, "api", actor_name()))
    return {**endpoint_to_dict(endpoint), "secret": secret}


@blp.route("/webhooks/<int:endpoint_id>", methods=["GET"])
@authorized("admin")
@blp.response(200, WebhookSchema)
def webhook(endpoint_id):
    return endpoint_to_dict(get_endpoint(endpoint_id))


@blp.route("/webhooks/<int:endpoint_id>", methods=["PATCH"])
@authorized("admin", body="required")
@blp.arguments(WebhookPatchSchema)
@blp.response(200, WebhookSchema)
def patch_webhook(fields, endpoint_id):
    """Change the URL, event filter or description; disable or re-enable."""
    hosts = runtime().webhook_allow_hosts
    return endpoint_to_dict(unit_of_work(lambda: update_endpoint(endpoint_id, fields, hosts, "api", actor_name())))


@blp.route("/webhooks/<int:endpoint_id>", methods=["DELETE"])
@authorized("admin", body="optional")
@blp.response(204, description="Deleted, with its queued deliveries")
def remove_webhook(endpoint_id):
    unit_of_work(lambda: delete_endpoint(endpoint_id, "api", actor_name()))
    return ""


@blp.route("/webhooks/<int:endpoint_id>/rotate", methods=["POST"])
@authorized("admin", body="optional")
@blp.response(200, WebhookSecretSchema)
def rotate_webhook_secret(endpoint_id):
    """A new secret; messages carry a signature by the old one too for 24 h."""
    return {"secret": unit_of_work(lambda: rotate_secret(endpoint_id, "api", actor_name()))}


@blp.route("/webhooks/<int:endpoint_id>/deliveries", methods=["GET"])
@authorized("admin")
@blp.response(200, DeliveryAttemptListSchema)
def webhook_deliveries(endpoint_id):
    """The latest 50 attempts, newest first."""
    return {"deliveries": recent_attempts(endpoint_id)}


@blp.route("/webhooks/<int:endpoint_id>/replay", methods=["POST"])
@authorized("admin", body="required")
@blp.arguments(ReplaySchema)
@blp.response(202, ReplayResultSchema)
def replay_webhook(body, endpoint_id):
    """Queue again every event after `after` that the endpoint wants, with its original webhook-id."""
    return unit_of_work(lambda: replay(endpoint_id, body["after"], "api", actor_name()))
