"""POST /check and /check/batch: the mailers' question before every send."""
from __future__ import annotations

from flask import jsonify, request

from ..config import CHANNELS
from ..errors import PrefsError, invalid
from ..runtime import runtime
from ..services.checks import MAX_BATCH, evaluate, invalid_result, parse_item, topic_keys_named
from ..services.links import links_for
from .auth import authorized
from .blueprint import blp
from .schemas import BatchRequestSchema, BatchResponseSchema, CheckItemSchema, CheckResultSchema


def _json_request_body(schema) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


@blp.route("/check", methods=["POST"])
@authorized("check", body="required")
@blp.doc(requestBody=_json_request_body(CheckItemSchema))
@blp.response(200, CheckResultSchema)
def check():
    """May this topic go to this person on this channel?"""
    raw = request.get_json()
    rt = runtime()
    topic = raw.get("topic") if isinstance(raw, dict) else None
    rules = rt.catalogue.get_many([topic] if isinstance(topic, str) else [])
    item = parse_item(raw, rules, rt.phone_region)
    return jsonify(evaluate([item])[0].to_dict())  # a ready Response: no marshmallow dump on the hot path


@blp.route("/check/batch", methods=["POST"])
@authorized("check", body="required")
@blp.doc(requestBody=_json_request_body(BatchRequestSchema))
@blp.response(200, BatchResponseSchema)
def check_batch():
    """Up to 10,000 checks in one call, answered in order; a malformed item does not fail the others."""
    body = request.get_json()
    if not isinstance(body, dict):
        raise PrefsError("invalid", "The body must be an object with a 'checks' list.", {"_schema": ["Not an object."]})
    unknown = body.keys() - {"checks", "topic", "channel", "include_links"}
    if unknown:
        raise PrefsError("invalid", "Unknown fields.", {name: ["Unknown field."] for name in sorted(unknown)})
    raw_items = body.get("checks")
    if not isinstance(raw_items, list) or not raw_items:
        raise invalid("checks", "A list of 1 to 10,000 check items.")
    if len(raw_items) > MAX_BATCH:
        raise PrefsError("too_large", f"At most {MAX_BATCH} checks per batch.", {"checks": [f"{len(raw_items)} items."]})
    default_topic, default_channel = body.get("topic"), body.get("channel")
    if default_topic is not None and not isinstance(default_topic, str):
        raise invalid("topic", "Not a string.")
    if default_channel is not None and default_channel not in CHANNELS:
        raise invalid("channel", f"Must be one of {', '.join(CHANNELS)}.")
    if not isinstance(body.get("include_links", False), bool):
        raise invalid("include_links", "Not a boolean.")

    rt = runtime()
    rules = rt.catalogue.get_many(topic_keys_named(raw_items, default_topic))
    results: list = [None] * len(raw_items)
    items, positions = [], []
    for position, raw in enumerate(raw_items):
        try:
            items.append(parse_item(raw, rules, rt.phone_region, default_topic, default_channel))
            positions.append(position)
        except PrefsError as error:
            results[position] = invalid_result(error)
    include_links = body.get("include_links", False)
    for position, outcome in zip(positions, evaluate(items), strict=True):
        results[position] = result = outcome.to_dict()
        if include_links and outcome.decision.allowed and outcome.item.channel == "email" and not outcome.item.topic.mandatory:
            item = outcome.item
            result.update(links_for(outcome.recipient_id, outcome.recipient_pk, "email", item.topic, item.message_id))
    # A ready Response skips flask-smorest's per-item marshmallow dump, which would dominate a large batch.
    return jsonify(results=results)
