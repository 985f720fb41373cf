"""POST /check and /check/batch: the mailers' question before every send."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import jsonify, request

from ..errors import PrefsError
from ..metrics import count_check, count_checks
from ..runtime import runtime
from ..services.audience import audience_check
from ..services.checks import MAX_BATCH, evaluate, invalid_result, parse_item, topic_keys_named
from ..services.links import links_for
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
from .schemas import (
    AudienceRequestSchema,
    AudienceResultSchema,
    BatchItemSchema,
    BatchRequestSchema,
    BatchResponseSchema,
    CheckItemSchema,
    CheckResultSchema,
    LeanSchema,
)

# The documented schemas, compiled once: the hot path validates with them without a marshmallow load per item.
CHECK_ITEM = LeanSchema(CheckItemSchema)
# The batch's JSON reaches the view unjudged (request_guards.BATCH_PATH): its items' text is judged here.
BATCH_ITEM = LeanSchema(BatchItemSchema, judges_stored_text=True)
BATCH_REQUEST = LeanSchema(BatchRequestSchema, judges_stored_text=True)
AUDIENCE_REQUEST = LeanSchema(AudienceRequestSchema)


def _json_request_body(schema, example: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


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


@blp.route("/check", methods=["POST"], tags=["Checks"])
@authorized("check", body="required")
@refuses("unknown_topic")
@blp.doc(requestBody=_json_request_body(CheckItemSchema, examples.CHECK_REQUEST))
@blp.response(200, CheckResultSchema, description="The answer: send only when `allowed` is true.", example=examples.CHECK_RESULT)
def check():
    """Check one send

    Ask before sending one message: may this topic go to this person on this channel? Name the person by
    your `recipient_id`, or by `email` or `phone` (exactly one). The answer's `reason` says why, so a refusal
    can be shown or counted: `mandatory`, `subscribed` and `default` allow; every other reason refuses.
    A person the service does not know is answered `unknown_recipient` (not an error). For a scheduled send,
    give `at`: texts and calls are judged by the person's local time then (quiet hours). For many people at
    once, use the batch.
    """
    item = well_formed(request.get_json(), CHECK_ITEM, "A check")
    rt = runtime()
    parsed = parse_item(item, rt.catalogue.get_many([item["topic"]]), rt.phone_region, datetime.now(UTC))
    outcome = evaluate(rt.address_hash, rt.quiet_hours, [parsed])[0]
    count_check(parsed.channel, outcome.decision.reason)
    return jsonify(outcome.to_dict())  # a ready Response: no marshmallow dump on the hot path


@blp.route("/check/batch", methods=["POST"], tags=["Checks"])
@authorized("check", body="required")
@refuses(
    too_large="The body is larger than the service accepts (4 MiB unless its operator set another limit), or it holds more than 10,000 checks.",
)
@blp.doc(requestBody=_json_request_body(BatchRequestSchema, examples.BATCH_REQUEST))
@blp.response(
    200,
    BatchResponseSchema,
    description="One result per item, in the order of `checks`.",
    example=examples.BATCH_RESPONSE,
)
def check_batch():
    """Check a whole campaign

    Up to 10,000 checks in one call, answered in the order given. The top-level `topic`, `channel` and `at`
    fill in what an item leaves out. A malformed item (a topic not in the catalogue included) is answered
    `{"allowed": false, "reason": "invalid", "error": {...}}` and the other items are still answered; only a
    malformed request as a whole is refused. With `include_links`, every allowed email result of a topic
    that is not mandatory carries the message's unsubscribe links and headers (as `POST /links` gives them),
    an item's `message_id` recorded with them. Split larger campaigns into several calls.
    """
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


@blp.route("/check/audience", methods=["POST"], tags=["Checks"])
@authorized("check", body="required")
@blp.doc(requestBody=_json_request_body(AudienceRequestSchema, examples.AUDIENCE_REQUEST))
@blp.response(
    200,
    AudienceResultSchema,
    description="The answer: upload the person only when `allowed` is true.",
    example=examples.AUDIENCE_RESULT,
)
def check_audience():
    """Check an advertising audience upload

    Ask before putting a person into an advertising audience (a custom audience or customer match list): the
    sale or sharing of personal information that people may opt out of (CCPA/CPRA "Do Not Sell or Share My
    Personal Information"). The person's browser may have sent that opt-out as Global Privacy Control on their
    preference page, or they ticked it there; then the answer is `do_not_sell_or_share`. Name the person by
    your `recipient_id`, or by `email` or `phone` (exactly one). Marketing choices per topic are not asked
    here: use `POST /check` for messages.
    """
    item = well_formed(request.get_json(), AUDIENCE_REQUEST, "An audience check")
    by = next(name for name in ("recipient_id", "email", "phone") if name in item)
    rt = runtime()
    answer = audience_check(rt.address_hash, rt.phone_region, by, item[by])
    return jsonify(answer.to_dict())
