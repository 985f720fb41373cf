"""POST /check and /check/batch: the mailers' question before every send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import jsonify, request

from ..errors import PrefsError
from ..metrics import count_check, count_checks
from ..runtime import runtime
from ..services.checks import MAX_BATCH, evaluate, invalid_result, parse_item, topic_keys_named
from ..services.links import links_for
from .auth import actor_name, authorized
from .blueprint import blp
from .schemas import BatchItemSchema, BatchRequestSchema, BatchResponseSchema, CheckItemSchema, CheckResultSchema, LeanSchema

# The documented schemas, compiled once: the hot path validates with them without a marshmallow load per item.
CHECK_ITEM = LeanSchema(CheckItemSchema)
BATCH_ITEM = LeanSchema(BatchItemSchema)
BATCH_REQUEST = LeanSchema(BatchRequestSchema)


def _json_request_body(schema) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def well_formed(raw: Any, schema: LeanSchema, what: str) -> Mapping[str, Any]:
    """`raw` if it is what `schema` describes. Raises PrefsError(invalid) with field errors."""
    if not isinstance(raw, dict):
        raise PrefsError("invalid", f"{what} must be a JSON object.", {"_schema": ["Not an object."]})
    errors = schema.errors(raw)
    if errors:
        # The batch shows an item only its message, so the message names every field at fault.
        message = " ".join(
            text if name == "_schema" else f"{name}: {text}" for name, texts in errors.items() for text in texts[:1]
        )
        raise PrefsError("invalid", message, errors)
    return raw


@blp.route("/check", methods=["POST"])
@authorized("check", body="required")
@blp.doc(requestBody=_json_request_body(CheckItemSchema))
@blp.response(200, CheckResultSchema)
def check():
    """May this topic go to this person on this channel?"""
    item = well_formed(request.get_json(), CHECK_ITEM, "A check")
    rt = runtime()
    parsed = parse_item(item, rt.catalogue.get_many([item["topic"]]), rt.phone_region, datetime.now(UTC))
    outcome = evaluate(rt.address_hash, rt.quiet_hours, [parsed])[0]
    count_check(parsed.channel, outcome.decision.reason)
    return jsonify(outcome.to_dict())  # a ready Response: no marshmallow dump on the hot path


@blp.route("/check/batch", methods=["POST"])
@authorized("check", body="required")
@blp.doc(requestBody=_json_request_body(BatchRequestSchema))
@blp.response(200, BatchResponseSchema)
def check_batch():
    """Up to 10,000 checks in one call, answered in order; a malformed item does not fail the others."""
    body = request.get_json()
    if isinstance(body, dict) and isinstance(body.get("checks"), list) and len(body["checks"]) > MAX_BATCH:
        raise PrefsError("too_large", f"At most {MAX_BATCH} checks per batch.", {"checks": [f"{len(body['checks'])} items."]})
    well_formed(body, BATCH_REQUEST, "The body")
    raw_items, default_topic, default_channel, default_at = body["checks"], body.get("topic"), body.get("channel"), body.get("at")

    rt = runtime()
    now = datetime.now(UTC)  # one moment for the whole batch: its items are answered as of the same instant
    rules = rt.catalogue.get_many(topic_keys_named(raw_items, default_topic))
    results: list = [None] * len(raw_items)
    items, positions = [], []
    for position, raw in enumerate(raw_items):
        try:
            checked = well_formed(raw, BATCH_ITEM, "A check item")
            items.append(parse_item(checked, rules, rt.phone_region, now, default_topic, default_channel, default_at))
            positions.append(position)
        except PrefsError as error:
            results[position] = invalid_result(error)
    include_links = body.get("include_links", False)
    for position, outcome in zip(positions, evaluate(rt.address_hash, rt.quiet_hours, items), strict=True):
        results[position] = result = outcome.to_dict()
        if include_links and outcome.decision.allowed and outcome.item.channel == "email" and not outcome.item.topic.mandatory:
            item, recipient_id, recipient_pk = outcome.item, outcome.recipient_id, outcome.recipient_pk
            if recipient_id is not None and recipient_pk is not None:  # allowed: always a known person
                result.update(links_for(rt, recipient_id, recipient_pk, "email", item.topic, item.message_id, actor_name()))
    # An invalid item has no trustworthy channel: it is counted under "none".
    count_checks((result["channel"], result["reason"]) if "channel" in result else ("none", "invalid") for result in results)
    # A ready Response skips flask-smorest's per-item marshmallow dump, which would dominate a large batch.
    return jsonify(results=results)
