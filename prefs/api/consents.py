"""Opt-in and proof of consent over the API (SPEC §14): subscriptions, notices and consent records."""

from __future__ import annotations

from flask import current_app

from ..db.transactions import unit_of_work
from ..runtime import runtime
from ..services.consent_records import consent_records
from ..services.events import Actor
from ..services.notices import list_notices, notice_to_dict, notice_versions, save_notice
from ..services.recipients import readable_recipient
from ..services.subscriptions import Subscriber, subscribe
from . import examples
from .auth import actor_name, authorized
from .blueprint import blp, refuses
from .reference import REFUSALS, Refusal
from .schemas import (
    ConsentRecordListSchema,
    NoticeInSchema,
    NoticeListSchema,
    NoticeSchema,
    NoticeVersionsSchema,
    SubscriptionInSchema,
    SubscriptionSchema,
)

MAIL_OFF = Refusal(
    "mail_off",
    "A topic asks for double opt-in by email, and this service has no outbound email set up (PREFS_SMTP_URL, "
    "PREFS_MAIL_FROM): nothing was changed. Subscribe to single opt-in topics only, or have the operator set up mail.",
    "Email sending is not configured on this service (PREFS_SMTP_URL and PREFS_MAIL_FROM are not set).",
)


def controller() -> str:
    """The brand: the controller of every consent record (ISO/IEC TS 27560)."""
    return current_app.config["PREFS_BRAND"].name


@blp.route("/subscriptions", methods=["POST"], tags=["Subscriptions and consent"])
@authorized("write", body="required")
@refuses(
    "erased",
    not_found="`recipient_id` names no recipient.",
    unknown_topic=REFUSALS["unknown_topic"].because(
        "A topic key is not in the catalogue, or is archived.", details={"topics": {"0": ["Unknown topic."]}}
    ),
    sms_stop=REFUSALS["sms_stop"].because(
        "The number texted STOP: only START texted from it turns texts back on; nothing was changed.",
        details={"changes": {"0": {"channel": ["SMS stop in force."]}}},
    ),
    mail_off=MAIL_OFF,
)
@blp.arguments(
    SubscriptionInSchema,
    examples={
        "signup_form": {"summary": "A signup form on your site (double opt-in topic)", "value": examples.SUBSCRIPTION_IN},
        "known_person": {
            "summary": "A known person ticks a box at checkout (single opt-in topic)",
            "value": examples.SUBSCRIPTION_IN_KNOWN,
        },
    },
)
@blp.response(200, SubscriptionSchema, description="What was stored and what waits.", example=examples.SUBSCRIPTION)
def post_subscription(body):
    """Subscribe a person

    A person asked for topics (your signup form, a checkbox): record it with the evidence of how and when.
    Name them by `recipient_id`, or by `email` or `phone` (an address nobody holds creates a recipient, id
    `sub-…`). Topics of `confirmation: single` are stored at once as an opt-in with the evidence (which also
    lifts a suppression of the address). Topics of `confirmation: double` on email are not: the person is
    mailed a confirmation link (`consent.requested` on the feed and webhooks) and the check keeps answering as
    before (`no_consent`) until they confirm it (`consent.confirmed`); an unconfirmed request dies after 7
    days. `evidence.notice` names the notice they saw; the version current at `collected_at` is kept. All or
    nothing: a refusal changes nothing.
    """
    who = Subscriber(body.get("recipient_id"), body.get("email"), body.get("phone"), body.get("locale"))
    actor = Actor("api", actor_name(), "api")
    done = unit_of_work(lambda: subscribe(runtime(), who, body["topics"], body["channel"], body["evidence"], actor))
    return {
        "recipient_id": done.recipient_id,
        "created": done.created,
        "channel": done.channel,
        "subscribed": done.subscribed,
        "pending": done.pending,
        "expires_at": done.expires_at,
    }


@blp.route("/recipients/<string:recipient_id>/consents", methods=["GET"], tags=["Subscriptions and consent"])
@authorized("read")
@refuses(not_found="No recipient has this id (or it was erased).")
@blp.response(200, ConsentRecordListSchema, description="The person's consent records.", example=examples.CONSENTS)
def recipient_consents(recipient_id):
    """Get a recipient's consent records

    Proof of consent (GDPR Art. 7(1)), in the shape of ISO/IEC TS 27560: one record per topic and channel the
    person ever opted into or out of, with the notice text and version they saw, the language, the
    jurisdiction when known, how to withdraw (a preference-center link), and each event: given, confirmed,
    withdrawn (a stop of the channel or of all marketing withdraws too) or expired, with when, how, the
    source, IP and user agent.
    """
    recipient = readable_recipient(recipient_id)
    return {"consents": consent_records(runtime(), recipient, controller())}


@blp.route("/notices", methods=["POST"], tags=["Subscriptions and consent"])
@authorized("admin", body="required")
@blp.arguments(NoticeInSchema, example=examples.NOTICE_IN)
@blp.response(
    200, NoticeSchema, description="The notice's current version (unchanged text: no new one).", example=examples.NOTICE
)
@blp.alt_response(201, schema=NoticeSchema, description="A new version (1 for a new key).", example=examples.NOTICE_V1)
def post_notice(body):
    """Save a notice

    The wording people see where they consent (a signup form's sentence, a privacy notice). A new key starts
    at version 1; new text for a key makes its next version (201). Versions are never altered, so every
    consent keeps the text that was current when it was collected. Saving the current text again answers 200
    and makes nothing.
    """
    notice, made = unit_of_work(lambda: save_notice(body["key"], body["text"], body.get("language"), "api", actor_name()))
    return notice_to_dict(notice), 201 if made else 200


@blp.route("/notices", methods=["GET"], tags=["Subscriptions and consent"])
@authorized("admin")
@blp.response(200, NoticeListSchema, description="Every notice, at its current version.", example=examples.NOTICE_LIST)
def notices():
    """List notices

    Each notice's current version and how many versions it has, by key.
    """
    return {"notices": [{**notice_to_dict(notice), "versions": count} for notice, count in list_notices()]}


@blp.route("/notices/<string:key>", methods=["GET"], tags=["Subscriptions and consent"])
@authorized("admin")
@refuses(not_found="No notice has this key.")
@blp.response(200, NoticeVersionsSchema, description="Every version, newest first.", example=examples.NOTICE_VERSIONS)
def notice(key):
    """Get a notice's versions

    Every version of one notice, newest first, each with its text, language and who saved it when.
    """
    return {"key": key, "versions": [notice_to_dict(version) for version in notice_versions(key)]}
