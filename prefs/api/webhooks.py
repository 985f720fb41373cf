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
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
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

NO_ENDPOINT = "No webhook endpoint has this id."


@blp.route("/webhooks", methods=["GET"], tags=["Webhooks"])
@authorized("admin")
@blp.response(200, WebhookListSchema, description="Every endpoint.", example=examples.WEBHOOK_LIST)
def webhooks():
    """List webhook endpoints

    Every endpoint, enabled or not, with why a disabled one was disabled. Secrets are never shown again.
    """
    return {"webhooks": [endpoint_to_dict(endpoint) for endpoint in list_endpoints()]}


@blp.route("/webhooks", methods=["POST"], tags=["Webhooks"])
@authorized("admin", body="required")
@blp.arguments(WebhookCreateSchema, example=examples.WEBHOOK_IN)
@blp.response(
    201,
    WebhookCreatedSchema,
    description="The endpoint, with its signing secret (shown only here).",
    example=examples.WEBHOOK_CREATED,
)
def post_webhook(fields):
    """Add a webhook endpoint

    From now on the service POSTs every change of the types in `events` to `url`: JSON
    `{"type", "timestamp", "data"}`, where `data` is the consent event as the change feed shows it, signed
    the Standard Webhooks way with the secret in this answer (keep it: it is not shown again). Delivery is
    at least once, one recipient's messages in commit order; deduplicate on the `webhook-id` header. A
    failure (no 2xx within 15 s, a redirect, a connection error) is retried 7 times over about a day; an
    endpoint failing for 5 days, or answering 410 Gone, is disabled (these are the defaults).
    """
    endpoint, secret = unit_of_work(lambda: create_endpoint(fields, runtime().webhook_allow_hosts, "api", actor_name()))
    return {**endpoint_to_dict(endpoint), "secret": secret}


@blp.route("/webhooks/<int:endpoint_id>", methods=["GET"], tags=["Webhooks"])
@authorized("admin")
@refuses(not_found=NO_ENDPOINT)
@blp.response(200, WebhookSchema, description="The endpoint.", example=examples.WEBHOOK)
def webhook(endpoint_id):
    """Get a webhook endpoint

    One endpoint: where it sends, which types, whether it is enabled and since when it has been failing.
    """
    return endpoint_to_dict(get_endpoint(endpoint_id))


@blp.route("/webhooks/<int:endpoint_id>", methods=["PATCH"], tags=["Webhooks"])
@authorized("admin", body="required")
@refuses(not_found=NO_ENDPOINT)
@blp.arguments(WebhookPatchSchema, example=examples.WEBHOOK_PATCH)
@blp.response(200, WebhookSchema, description="The endpoint as it is now.", example=examples.WEBHOOK_PATCHED)
def patch_webhook(fields, endpoint_id):
    """Change a webhook endpoint

    Change the URL, the types it wants or the description; disable it, or re-enable one that was disabled
    (`{"enabled": true}`), then catch up with a replay. Fields left out stay as they are.
    """
    hosts = runtime().webhook_allow_hosts
    return endpoint_to_dict(unit_of_work(lambda: update_endpoint(endpoint_id, fields, hosts, "api", actor_name())))


@blp.route("/webhooks/<int:endpoint_id>", methods=["DELETE"], tags=["Webhooks"])
@authorized("admin", body="optional")
@refuses(not_found=NO_ENDPOINT)
@blp.response(204, description="Deleted, with its queued deliveries.")
def remove_webhook(endpoint_id):
    """Delete a webhook endpoint

    Nothing more is sent to it; messages still queued for it are dropped.
    """
    unit_of_work(lambda: delete_endpoint(endpoint_id, "api", actor_name()))
    return ""


@blp.route("/webhooks/<int:endpoint_id>/rotate", methods=["POST"], tags=["Webhooks"])
@authorized("admin", body="optional")
@refuses(not_found=NO_ENDPOINT)
@blp.response(200, WebhookSecretSchema, description="The new secret (shown only here).", example=examples.WEBHOOK_SECRET)
def rotate_webhook_secret(endpoint_id):
    """Rotate a webhook endpoint's secret

    A new signing secret. For 24 hours messages carry a signature by the old secret too, so the receiver can
    switch to the new one without losing a message.
    """
    return {"secret": unit_of_work(lambda: rotate_secret(endpoint_id, "api", actor_name()))}


@blp.route("/webhooks/<int:endpoint_id>/deliveries", methods=["GET"], tags=["Webhooks"])
@authorized("admin")
@refuses(not_found=NO_ENDPOINT)
@blp.response(200, DeliveryAttemptListSchema, description="The latest attempts, newest first.", example=examples.DELIVERIES)
def webhook_deliveries(endpoint_id):
    """List recent delivery attempts

    The endpoint's latest 50 attempts, newest first: which message, when, the HTTP status or the error, how
    long it took, and where its delivery stands now. Use it to see why an endpoint is failing.
    """
    return {"deliveries": recent_attempts(endpoint_id)}


@blp.route("/webhooks/<int:endpoint_id>/replay", methods=["POST"], tags=["Webhooks"])
@authorized("admin", body="required")
@refuses(not_found=NO_ENDPOINT)
@blp.arguments(ReplaySchema, example=examples.REPLAY)
@blp.response(202, ReplayResultSchema, description="Queued; the worker sends them in order.", example=examples.REPLAYED)
def replay_webhook(body, endpoint_id):
    """Replay events to a webhook endpoint

    Queue again every consent event after the event id `after` that the endpoint wants, each with the
    `webhook-id` it had the first time (so a receiver that saw it already can drop it). A call queues at
    most 10,000; when `last_event_id` is not the latest event, call again with it as `after`.
    """
    return unit_of_work(lambda: replay(endpoint_id, body["after"], "api", actor_name()))
