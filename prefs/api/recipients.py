"""Recipients and their preferences, for mailers' systems."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

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
from ..services.provider_sync import sync_receipts
from ..services.recipients import readable_recipient, set_status, upsert_recipient, writable_recipient
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
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
    SyncReceiptsSchema,
)

log = logging.getLogger(__name__)
NO_RECIPIENT = "No recipient has this id (or it was erased)."
ERASED = "The recipient was erased: the id stays a tombstone and cannot be used again."
RECIPIENT_FIELDS = ("id", "email", "phone", "postal_address", "locale", "time_zone", "status", "created_at", "updated_at")


def api_context(reason: str | None = None, evidence: dict | None = None) -> ChangeContext:
    return ChangeContext(Actor("api", actor_name(), "api"), reason, evidence)


def recipient_body(recipient: Recipient, with_preferences: bool = False) -> dict[str, Any]:
    body = {name: getattr(recipient, name) for name in RECIPIENT_FIELDS}
    if with_preferences:
        body["preferences"] = preference_matrix(runtime(), recipient)
    return body


@blp.route("/recipients/<string:recipient_id>", methods=["PUT"], tags=["Recipients"])
@authorized("write", body="required")
@refuses("address_in_use", erased=ERASED)
@blp.arguments(RecipientInSchema, example=examples.RECIPIENT_IN)
@blp.response(200, RecipientSchema, description="Updated: the recipient as stored now.", example=examples.RECIPIENT)
@blp.alt_response(201, schema=RecipientSchema, description="Created.", example=examples.RECIPIENT_CREATED)
def put_recipient(fields, recipient_id):
    """Create or update a recipient

    Tell the service who a person is, under your own id for them: 201 when the id is new, 200 when it
    existed. Fields given are stored (email and phone in one canonical spelling); `null` clears a field;
    fields left out stay as they are. Send it whenever an address changes in your systems: checks by
    `recipient_id` then reach the current address. An email address or number belongs to one recipient at a
    time (409 `address_in_use`), with one exception: an address typed on a hosted form that nobody has
    confirmed, whose recipient has made no choice, is taken from that recipient (its event says by whom).
    A number that texted STOP stays stopped whoever holds it next.
    """
    recipient, created = unit_of_work(lambda: upsert_recipient(runtime(), recipient_id, fields, api_context()))
    return recipient_body(recipient), 201 if created else 200


@blp.route("/recipients/<string:recipient_id>", methods=["GET"], tags=["Recipients"])
@authorized("read")
@refuses(not_found=NO_RECIPIENT)
@blp.response(
    200,
    RecipientWithPreferencesSchema,
    description="The recipient, with `preferences` as `GET …/preferences` gives them.",
    example=examples.RECIPIENT_WITH_PREFERENCES,
)
def get_recipient(recipient_id):
    """Get a recipient

    The stored contact details and status, with the preference matrix: every topic on every channel it is
    sent on, whether it may go and why.
    """
    return recipient_body(readable_recipient(recipient_id), with_preferences=True)


@blp.route("/recipients", methods=["GET"], tags=["Recipients"])
@authorized("read")
@blp.arguments(RecipientQuerySchema, location="query")
@blp.response(
    200, RecipientListSchema, description="The recipients holding the address (none or one).", example=examples.RECIPIENT_LIST
)
def find_recipients(query):
    """Find recipients by address

    Give exactly one of `email` or `phone`: `?email=kim@example.com` or `?phone=%2B14155550123`. The address
    is looked up in its canonical spelling (any case; a phone number in E.164 or in the national format of
    the service's default region). An address nobody holds gives an empty list, not an error.
    """
    kind = "email" if "email" in query else "phone"  # RecipientQuerySchema lets exactly one of the two through
    found = live_recipients(address=lookup_address(runtime(), kind, query[kind]))
    return {"recipients": [recipient_body(recipient) for recipient in found]}


@blp.route("/recipients/<string:recipient_id>/preferences", methods=["GET"], tags=["Preferences"])
@authorized("read")
@refuses(not_found=NO_RECIPIENT)
@blp.response(200, MatrixSchema, description="The preference matrix.", example=examples.MATRIX)
def get_preferences(recipient_id):
    """Get a recipient's preferences

    What this person gets on which channel, and why: per channel, the (masked) address and whether the
    channel is stopped; per topic and channel, `allowed` and `reason` exactly as a check would answer now,
    and the stored `choice` (null when the person never chose). Use it to show a support agent or your own
    account page what is in force.
    """
    return preference_matrix(runtime(), readable_recipient(recipient_id))


@blp.route("/recipients/<string:recipient_id>/preferences", methods=["PATCH"], tags=["Preferences"])
@authorized("write", body="required")
@refuses(
    "unknown_topic",
    not_found="No recipient has this id.",
    erased=ERASED,
    mandatory_topic="A change unsubscribes from a mandatory topic (service and billing messages); nothing was changed.",
    sms_stop="The number texted STOP: a change that opts in to texts (or to calls with evidence) is refused until "
    "START comes from that number; nothing was changed.",
)
@blp.arguments(
    PreferencesPatchSchema,
    examples={
        "unsubscribe": {"summary": "Unsubscribe from one topic by email", "value": examples.PREFERENCES_PATCH},
        "opt_in_with_evidence": {
            "summary": "Opt in to the newsletter by text, with proof of consent",
            "value": {
                "changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}],
                "evidence": {
                    "collected_at": "2026-11-30T14:05:00Z",
                    "source": "checkout checkbox",
                    "wording": "Text me the newsletter",
                },
            },
        },
        "stop_all": {"summary": "Stop all marketing on every channel", "value": {"changes": [{"subscribed": False}]}},
    },
)
@blp.response(200, MatrixSchema, description="The preference matrix after the change.", example=examples.MATRIX_AFTER_PATCH)
def patch_preferences(body, recipient_id):
    """Change a recipient's preferences

    Record choices the person made through you (a phone call to support, your signup form). A change names
    `topic` and `channel` (that one cell), `topic` only (the topic on all its channels), `channel` only (stop
    or resume all marketing on that channel) or neither (stop or resume all marketing). The request is
    applied all or nothing, and each stored value that changed becomes a consent event. An opt-in lifts a
    suppression of the person's address only with `evidence` naming at least `collected_at` and `source`.
    """
    changes = [PreferenceChange(c["subscribed"], c.get("topic"), c.get("channel")) for c in body["changes"]]
    context = api_context(body.get("reason"), body.get("evidence"))

    unit_of_work(lambda: apply_preference_changes(runtime().catalogue, writable_recipient(recipient_id), changes, context))
    return preference_matrix(runtime(), readable_recipient(recipient_id))


@blp.route("/recipients/<string:recipient_id>/events", methods=["GET"], tags=["Consent events"])
@authorized("read")
@refuses(not_found=NO_RECIPIENT)
@blp.arguments(EventPageQuerySchema, location="query")
@blp.response(
    200, EventPageSchema, description="A page of events, newest first, and the cursor of the next.", example=examples.EVENT_PAGE
)
def recipient_events(query, recipient_id):
    """List a recipient's consent events

    This person's history of consent, newest first: who changed what, when, through which channel, with the
    evidence given. Pass `next` as `cursor` to get the following page; `next` is null on the last one.
    """
    readable_recipient(recipient_id)
    # `cursor` is an event id (EventPageQuerySchema decodes it), and so is `next` (EventPageSchema encodes it).
    events, older = consent_events_of(recipient_id, query.get("cursor"), query["limit"])
    return {"events": events, "next": older}


def _status_change(recipient_id: str, body: dict | None, status: str) -> Recipient:
    context = api_context((body or {}).get("reason"))
    unit_of_work(lambda: set_status(writable_recipient(recipient_id), status, context))
    return readable_recipient(recipient_id)


@blp.route("/recipients/<string:recipient_id>", methods=["DELETE"], tags=["Recipients"])
@authorized("write", body="optional")
@refuses(not_found="No recipient has ever had this id.")
@blp.arguments(ReasonSchema, required=False, example=examples.REASON)
@blp.response(204, description="Erased (or erased already).")
def erase(body, recipient_id):
    """Erase a recipient

    The right to erasure (GDPR Art. 17): the person's contact details are removed, their addresses kept only
    as keyed hashes so that they are never mailed again, and their consent events kept without personal or
    free-text fields. The id stays a tombstone: GET then answers 404, PUT 409 `erased`. Erasing twice is
    not an error. The body (a `reason`) is optional and is not kept: it is free text about the person.
    """
    if not is_recipient_id(recipient_id):
        raise PrefsError("not_found", "No such recipient.")
    erased = unit_of_work(lambda: erase_recipient(runtime().address_hash, recipient_id, api_context((body or {}).get("reason"))))
    log.info("erasure by API key %s: %s", actor_name(), "done" if erased else "already erased")
    return ""


@blp.route("/recipients/<string:recipient_id>/export", methods=["GET"], tags=["Recipients"])
@authorized("read")
@refuses(not_found=NO_RECIPIENT)
@blp.response(200, ExportSchema, description="Everything held about the person.", example=examples.EXPORT)
def export(recipient_id):
    """Export a recipient

    Everything held about the person, machine-readable, for a data-portability or access request (GDPR
    Art. 15 and 20): contact details, preferences, stored choices, whether their addresses are suppressed,
    every consent event, the consent records (as `GET …/consents` gives them), what mail providers reported
    about their email address, the pushes of it to the providers' lists, and the mails prefs sent them.
    """
    return export_recipient(runtime(), recipient_id, current_app.config["PREFS_BRAND"].name)


@blp.route("/recipients/<string:recipient_id>/deactivate", methods=["POST"], tags=["Recipients"])
@authorized("write", body="optional")
@refuses(not_found=NO_RECIPIENT, erased=ERASED)
@blp.arguments(ReasonSchema, required=False, example=examples.REASON)
@blp.response(200, RecipientSchema, description="The recipient, deactivated.", example=examples.DEACTIVATED)
def deactivate(body, recipient_id):
    """Deactivate a recipient

    The account ended: from now on every check answers `deactivated`, mandatory topics included. Stored
    choices are kept for a reactivation. The body (a `reason`, recorded with the event) is optional.
    """
    return recipient_body(_status_change(recipient_id, body, "deactivated"))


@blp.route("/recipients/<string:recipient_id>/reactivate", methods=["POST"], tags=["Recipients"])
@authorized("write", body="optional")
@refuses(not_found=NO_RECIPIENT, erased=ERASED)
@blp.arguments(ReasonSchema, required=False, example=examples.REASON)
@blp.response(200, RecipientSchema, description="The recipient, active again.", example=examples.RECIPIENT)
def reactivate(body, recipient_id):
    """Reactivate a recipient

    Reopen a deactivated account: the stored choices apply again. Reactivating an active recipient changes
    nothing. The body (a `reason`) is optional.
    """
    return recipient_body(_status_change(recipient_id, body, "active"))


@blp.route("/recipients/<string:recipient_id>/undeliverable/clear", methods=["POST"], tags=["Preferences"])
@authorized("write", body="optional")
@refuses(not_found="No recipient has this id.", erased=ERASED)
@blp.arguments(ReasonSchema, required=False, example={"reason": "mailbox fixed, confirmed by phone"})
@blp.response(200, MatrixSchema, description="The preference matrix after it.", example=examples.MATRIX)
def undeliverable_clear(body, recipient_id):
    """Clear an undeliverable mark

    The person's email address works again: lift the mark a mail provider's hard bounce left on it (while
    it stands, email checks answer `undeliverable`). Clearing an address with no mark changes nothing. The
    body (a `reason`, recorded with the event) is optional.
    ---
    The mark is rule 6a of the decision rule.
    """
    context = api_context((body or {}).get("reason"))
    unit_of_work(lambda: clear_undeliverable(recipient_id, context))
    return preference_matrix(runtime(), readable_recipient(recipient_id))


@blp.route("/recipients/<string:recipient_id>/sync", methods=["GET"], tags=["Preferences"])
@authorized("read")
@refuses(not_found=NO_RECIPIENT)
@blp.response(200, SyncReceiptsSchema, description="Each mail provider's receipt.", example=examples.SYNC_RECEIPTS)
def sync(recipient_id):
    """See the mail providers' receipts

    Whether the person's email address is on each mail provider's suppression list as it should be: when
    marketing by email stops (a channel or all-marketing stop, a suppression, an erasure) the address is
    pushed to every provider set in `PREFS_SYNC_TARGETS`, and taken off again when an opt-in lifts that.
    Per provider, the latest push: its state, how many requests it took, the last error and when.
    ---
    A provider that reported the address itself is never written to about it (`reported_here`).
    """
    readable_recipient(recipient_id)
    return {
        "recipient_id": recipient_id,
        "targets": {name: receipt.as_dict() for name, receipt in sync_receipts(recipient_id).items()},
    }
