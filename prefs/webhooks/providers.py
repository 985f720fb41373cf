"""Mail providers' event webhooks (SPEC §15): SendGrid, Mailgun, Postmark and Amazon SES through SNS.

Each view checks the request the provider's own way (provider_checks.py), reads the payload into
provider-neutral events (provider_payloads.py) and hands each to services/provider_events.py, one
transaction per event, so the meaning of a bounce or complaint lives in one place. A failed check answers
403 and changes nothing; a provider whose setting is unset is off (503 naming the setting). A provider's own
requests are never rate-limited (they retry, and a 429 would only delay an unsubscribe); only guessing
Postmark's credentials is, as guessing /webhooks/email's secret is: the other checks are signatures.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

from flask import current_app, request

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..extensions import limiter
from ..models import utcnow
from ..outbound.http import GuardedHttp
from ..runtime import runtime
from ..services.provider_events import IGNORED, ProviderEvent, apply_provider_event, mailgun_signature_vouches
from . import bp, feature_off
from .provider_checks import (
    MAILGUN_MAX_AGE_SECONDS,
    SENDGRID_MAX_AGE_SECONDS,
    SNS_MAX_AGE_SECONDS,
    SnsCertificates,
    basic_auth_matches,
    fresh,
    mailgun_signed,
    sendgrid_signed,
    sns_timestamp,
    sns_url_allowed,
    unix_time,
)
from .provider_payloads import BadPayload, mailgun_events, postmark_events, sendgrid_events, ses_events

log = logging.getLogger(__name__)
SNS_FETCH_TIMEOUT_SECONDS = 10.0
SUBSCRIBE_ANSWER_BYTES = 64 * 1024  # SNS answers a confirmation with a short XML document
_SNS_EXTENSION = "prefs.sns_certificates"
GUESSES_PER_ADDRESS = "20 per minute"  # wrong Postmark credentials from one address, as for /webhooks/email's secret


def refused(message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": "forbidden", "message": message, "details": {}}}, 403


def bad_payload(message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": "bad_request", "message": message, "details": {}}}, 400


def _json_body() -> Any:
    """The raw body as JSON whatever the content type (SNS sends text/plain). Raises BadPayload."""
    try:
        return json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("The body is not JSON.") from None


def apply_all(provider: str, events: Sequence[ProviderEvent]) -> tuple[dict[str, Any], int]:
    """Apply each event in a transaction of its own (one bad event cannot hold back the others' commits)."""
    deps = runtime()
    outcomes: Counter[str] = Counter()
    for event in events:
        try:
            outcomes[unit_of_work(partial(apply_provider_event, deps, event))] += 1
        except PrefsError:  # the holder was erased between the look-up and the lock: nothing left to change
            outcomes[IGNORED] += 1
    log.info("%s webhook: %d events %s", provider, len(events), dict(outcomes))
    return {"received": len(events), "outcomes": dict(outcomes)}, 200


@bp.post("/providers/sendgrid")
def sendgrid():
    """SendGrid's Signed Event Webhook: a JSON array of events, ECDSA-signed over timestamp + body."""
    key = current_app.config["PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY"]
    if key is None:
        return feature_off("PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    signed_at = unix_time(timestamp)
    if signed_at is None or not fresh(signed_at, time.time(), SENDGRID_MAX_AGE_SECONDS):
        return refused("Missing or stale X-Twilio-Email-Event-Webhook-Timestamp.")
    if not sendgrid_signed(key, signature, timestamp, request.get_data()):
        return refused("Bad X-Twilio-Email-Event-Webhook-Signature.")
    try:
        events = sendgrid_events(_json_body())
    except BadPayload as error:
        return bad_payload(str(error))
    return apply_all("sendgrid", events)


@bp.post("/providers/mailgun")
def mailgun():
    """Mailgun's webhooks (JSON): `signature` {timestamp, token, signature} and `event-data`."""
    signing_key = current_app.config["PREFS_MAILGUN_WEBHOOK_SIGNING_KEY"]
    if not signing_key:
        return feature_off("PREFS_MAILGUN_WEBHOOK_SIGNING_KEY")
    try:
        payload = _json_body()
    except BadPayload:
        payload = None
    signed = payload.get("signature") if isinstance(payload, dict) else None
    fields = [signed.get(name) for name in ("timestamp", "token", "signature")] if isinstance(signed, dict) else []
    texts = [value for value in fields if isinstance(value, str)]
    if len(texts) != 3:
        return refused("No Mailgun signature (signature.timestamp, token, signature).")
    timestamp, token, signature = texts
    signed_at = unix_time(timestamp)
    if signed_at is None or not fresh(signed_at, time.time(), MAILGUN_MAX_AGE_SECONDS):
        return refused("Stale Mailgun signature timestamp.")
    if not mailgun_signed(signing_key, timestamp, token, signature):
        return refused("Bad Mailgun signature.")
    try:
        events = mailgun_events(payload.get("event-data"))
    except BadPayload as error:
        return bad_payload(str(error))
    if not unit_of_work(partial(mailgun_signature_vouches, token, payload.get("event-data"))):
        return refused("This Mailgun signature came with another event.")
    return apply_all("mailgun", events)


def _postmark_credentials_given() -> bool:
    user, password = current_app.config["PREFS_POSTMARK_WEBHOOK_USER"], current_app.config["PREFS_POSTMARK_WEBHOOK_PASSWORD"]
    given = request.authorization
    return bool(user and password) and (
        given is not None and given.type == "basic" and basic_auth_matches(given.username, given.password, user, password)
    )


@bp.post("/providers/postmark")
@limiter.limit(
    GUESSES_PER_ADDRESS, deduct_when=lambda response: response.status_code == 403, exempt_when=_postmark_credentials_given
)
def postmark():
    """Postmark's Bounce, SpamComplaint and SubscriptionChange webhooks, with HTTP Basic credentials."""
    user, password = current_app.config["PREFS_POSTMARK_WEBHOOK_USER"], current_app.config["PREFS_POSTMARK_WEBHOOK_PASSWORD"]
    if not user or not password:
        return feature_off("PREFS_POSTMARK_WEBHOOK_USER and PREFS_POSTMARK_WEBHOOK_PASSWORD")
    if not _postmark_credentials_given():
        return refused("Wrong or missing HTTP Basic credentials.")
    try:
        events = postmark_events(_json_body())
    except BadPayload as error:
        return bad_payload(str(error))
    return apply_all("postmark", events)


def sns_certificates() -> SnsCertificates:
    """The app's certificate cache, with its own guarded client (made on first use, kept for the app's life)."""
    found = current_app.extensions.get(_SNS_EXTENSION)
    if found is None:
        http = GuardedHttp(runtime().webhook_allow_hosts, timeout_seconds=SNS_FETCH_TIMEOUT_SECONDS, pool_size=4)
        found = current_app.extensions.setdefault(
            _SNS_EXTENSION, SnsCertificates(http.get, current_app.config["PREFS_SNS_CERT_HOSTS"])
        )
    return found


@bp.post("/providers/ses")
def ses():
    """Amazon SES notifications through an SNS HTTP(S) subscription: signed SNS messages of an allowed topic."""
    topics = current_app.config["PREFS_SES_TOPIC_ARNS"]
    if not topics:
        return feature_off("PREFS_SES_TOPIC_ARNS")
    try:
        message = _json_body()
    except BadPayload:
        message = None
    if not isinstance(message, dict):
        return refused("Not an Amazon SNS message.")
    # The cheap checks first: a message of another topic or from long ago costs no certificate fetch.
    if message.get("TopicArn") not in topics:
        return refused("Not a topic in PREFS_SES_TOPIC_ARNS.")
    now = utcnow()
    signed_at = sns_timestamp(message)
    if signed_at is None or abs((now - signed_at).total_seconds()) > SNS_MAX_AGE_SECONDS:
        return refused("Missing or stale SNS Timestamp.")
    certificates = sns_certificates()
    if not certificates.signed(message, now):
        return refused("Bad SNS signature, or a signing certificate not from PREFS_SNS_CERT_HOSTS.")
    kind = message["Type"]  # sns_string_to_sign knew it, or the signature would not have been checked
    if kind == "SubscriptionConfirmation":
        return _confirm_subscription(certificates, message["SubscribeURL"])
    if kind != "Notification":
        return {"status": "ignored"}, 200
    try:
        events = ses_events(message)
    except BadPayload as error:
        return bad_payload(str(error))
    return apply_all("ses", events)


def _confirm_subscription(certificates: SnsCertificates, url: str) -> tuple[dict[str, Any], int]:
    """Visit the SubscribeURL of a topic we accept, through the guarded client; SNS retries if this fails."""
    if not sns_url_allowed(url, certificates.host_globs):
        return refused("The SubscribeURL's host is not in PREFS_SNS_CERT_HOSTS.")
    result = certificates.fetch(url, SUBSCRIBE_ANSWER_BYTES)
    if not result.ok:
        log.warning("ses webhook: confirming the SNS subscription failed: %s", result.error)
        return {"error": {"code": "unavailable", "message": "Could not confirm the subscription; try again.", "details": {}}}, 502
    log.info("ses webhook: SNS subscription confirmed")
    return {"status": "subscribed"}, 200
