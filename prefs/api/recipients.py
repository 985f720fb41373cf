"""Recipients and their preferences, for mailers' systems."""

from __future__ import annotations

import logging
from typing import Any

from ..addresses import is_recipient_id
from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..models import Recipient
from ..runtime import runtime
from ..services.events import Actor, ChangeContext
from ..services.history import consent_events_of
from ..services.lifecycle import erase_recipient, export_recipient
from ..services.lookup import live_recipients, lookup_address
from ..services.preferences import PreferenceChange, apply_preference_changes, preference_matrix
from ..services.provider_events import clear_undeliverable
from ..services.recipients import readable_recipient, set_status, upsert_recipient, writable_recipient
from .auth import actor_name, authorized
from .blueprint import blp
from .schemas import (
    EventPageQuerySchema,
    EventPageSchema,
    ExportSchema,
    MatrixSchema,
    PreferencesPatchSchema,
    ReasonSchema,
    RecipientInSchema,
    RecipientListSchema,
    RecipientQuerySchema,
    RecipientSchema,
    RecipientWithPreferencesSchema,
)

log = logging.getLogger(__name__)
RECIPIENT_FIELDS = ("id", "email", "phone", "postal_address", "locale", "time_zone", "status", "created_at", "updated_at")


def api_context(reason: str | None = None, evidence: dict | None = None) -> ChangeContext:
    return ChangeContext(Actor("api", actor_name(), "api"), reason, evidence)


def recipient_body(recipient: Recipient, with_preferences: bool = False) -> dict[str, Any]:
    body = {name: getattr(recipient, name) for name in RECIPIENT_FIELDS}
    if with_preferences:
        body["preferences"] = preference_matrix(runtime(), recipient)
    return body


@blp.route("/recipients/<string:recipient_id>", methods=["PUT"])
@authorized("write", body="required")
@blp.arguments(RecipientInSchema)
@blp.response(200, RecipientSchema, description="Updated")
@blp.alt_response(201, schema=RecipientSchema, description="Created")
def put_recipient(fields, recipient_id):
    """Create a recipient or merge the given fields; null clears a field."""
    recipient, created = unit_of_work(lambda: upsert_recipient(runtime(), recipient_id, fields, api_context()))
    return recipient_body(recipient), 201 if created else 200


@blp.route("/recipients/<string:recipient_id>", methods=["GET"])
@authorized("read")
@blp.response(200, RecipientWithPreferencesSchema)
def get_recipient(recipient_id):
    """A recipient with the preference matrix."""
    return recipient_body(readable_recipient(recipient_id), with_preferences=True)


@blp.route("/recipients", methods=["GET"])
@authorized("read")
@blp.arguments(RecipientQuerySchema, location="query")
@blp.response(200, RecipientListSchema)
def find_recipients(query):
    """Find recipients by email or by phone (one of the two)."""
    kind = "email" if "email" in query else "phone"  # RecipientQuerySchema lets exactly one of the two through
    found = live_recipients(address=lookup_address(runtime(), kind, query[kind]))
    return {"recipients": [recipient_body(recipient) for recipient in found]}


@blp.route("/recipients/<string:recipient_id>/preferences", methods=["GET"])
@authorized("read")
@blp.response(200, MatrixSchema)
def get_preferences(recipient_id):
    """What this person gets on which channel, and why."""
    return preference_matrix(runtime(), readable_recipient(recipient_id))


@blp.route("/recipients/<string:recipient_id>/preferences", methods=["PATCH"])
@authorized("write", body="required")
@blp.arguments(PreferencesPatchSchema)
@blp.response(200, MatrixSchema)
def patch_preferences(body, recipient_id):
    """Change choices, all or nothing. A change names topic and channel, one of them, or neither."""
    changes = [PreferenceChange(c["subscribed"], c.get("topic"), c.get("channel")) for c in body["changes"]]
    context = api_context(body.get("reason"), body.get("evidence"))

    unit_of_work(lambda: apply_preference_changes(runtime().catalogue, writable_recipient(recipient_id), changes, context))
    return preference_matrix(runtime(), readable_recipient(recipient_id))


@blp.route("/recipients/<string:recipient_id>/events", methods=["GET"])
@authorized("read")
@blp.arguments(EventPageQuerySchema, location="query")
@blp.response(200, EventPageSchema)
def recipient_events(query, recipient_id):
    """This person's consent events, newest first."""
    readable_recipient(recipient_id)
    # `cursor` is an event id (EventPageQuerySchema decodes it), and so is `next` (EventPageSchema encodes it).
    events, older = consent_events_of(recipient_id, query.get("cursor"), query["limit"])
    return {"events": events, "next": older}


def _status_change(recipient_id: str, body: dict | None, status: str) -> Recipient:
    context = api_context((body or {}).get("reason"))
    unit_of_work(lambda: set_status(writable_recipient(recipient_id), status, context))
    return readable_recipient(recipient_id)


@blp.route("/recipients/<string:recipient_id>", methods=["DELETE"])
@authorized("write", body="optional")
@blp.arguments(ReasonSchema, required=False)
@blp.response(204, description="Erased (or erased already)")
def erase(body, recipient_id):
    """Erase the person (GDPR Art. 17): personal data removed, addresses kept only as suppression hashes,
    events kept without personal fields. The id stays a tombstone: GET answers 404, PUT 409 `erased`."""
    if not is_recipient_id(recipient_id):
        raise PrefsError("not_found", "No such recipient.")
    erased = unit_of_work(lambda: erase_recipient(runtime().address_hash, recipient_id, api_context((body or {}).get("reason"))))
    log.info("erasure by API key %s: %s", actor_name(), "done" if erased else "already erased")
    return ""


@blp.route("/recipients/<string:recipient_id>/export", methods=["GET"])
@authorized("read")
@blp.response(200, ExportSchema)
def export(recipient_id):
    """Everything held about the person, machine-readable (GDPR Art. 20)."""
    return export_recipient(runtime(), recipient_id)


@blp.route("/recipients/<string:recipient_id>/deactivate", methods=["POST"])
@authorized("write", body="optional")
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, RecipientSchema)
def deactivate(body, recipient_id):
    """End the account: nothing is sent any more, mandatory topics included."""
    return recipient_body(_status_change(recipient_id, body, "deactivated"))


@blp.route("/recipients/<string:recipient_id>/reactivate", methods=["POST"])
@authorized("write", body="optional")
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, RecipientSchema)
def reactivate(body, recipient_id):
    """Reopen a deactivated account; stored choices apply again."""
    return recipient_body(_status_change(recipient_id, body, "active"))


@blp.route("/recipients/<string:recipient_id>/undeliverable/clear", methods=["POST"])
@authorized("write", body="optional")
@blp.arguments(ReasonSchema, required=False)
@blp.response(200, MatrixSchema)
def undeliverable_clear(body, recipient_id):
    """The email address works again: lift the undeliverable mark a mail provider's hard bounce left on it
    (rule 6a), with a reason; the preference matrix after it. Nothing to lift changes nothing."""
    context = api_context((body or {}).get("reason"))
    unit_of_work(lambda: clear_undeliverable(recipient_id, context))
    return preference_matrix(runtime(), readable_recipient(recipient_id))
