"""Inbound channels: SMS keywords and plain-language stops (Twilio), mailto unsubscribes (an inbound-mail webhook)
and the mail providers' bounces, complaints and unsubscribes (providers.py).

Never rate-limited: a 429 here would lose a STOP (Twilio does not retry). A webhook whose own setting is
missing is off: it answers 503 saying which setting turns it on.
"""

from __future__ import annotations

import hmac
import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator

from ..addresses import normalize_phone
from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..extensions import limiter
from ..runtime import runtime
from ..services.mailto import mailto_unsubscribe
from ..services.sms import classify, respond

log = logging.getLogger(__name__)
MAX_MESSAGE_SID = 64  # inbound_texts.message_sid
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def feature_off(setting: str) -> Response:
    return Response(f"This webhook is off: set {setting} to turn it on.\n", 503, mimetype="text/plain")


def twiml(message: str | None) -> Response:
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', 200, mimetype="text/xml")


@bp.post("/sms")
def sms():
    """Twilio's inbound-message webhook: From, To, Body, signed with X-Twilio-Signature."""
    token = current_app.config["PREFS_TWILIO_AUTH_TOKEN"]
    if not token:
        return feature_off("PREFS_TWILIO_AUTH_TOKEN")
    url = runtime().base_url + request.full_path.rstrip("?")
    if not RequestValidator(token).validate(url, request.form.to_dict(), request.headers.get("X-Twilio-Signature", "")):
        return Response("Bad signature.\n", 403, mimetype="text/plain")
    keyword = classify(request.form.get("Body", ""))
    if keyword is None:
        return twiml(None)  # nothing about stopping, starting or help: nothing to do, and no reply
    try:
        phone = normalize_phone(request.form.get("From", ""), runtime().phone_region)
    except PrefsError:
        log.warning("sms webhook: a text from a number that is not a valid phone number")
        return twiml(None)
    program, support = current_app.config["PREFS_SMS_PROGRAM_NAME"], current_app.config["PREFS_SUPPORT_CONTACT"]
    sid = request.form.get("MessageSid", "")
    message_sid = sid if 0 < len(sid) <= MAX_MESSAGE_SID else None  # Twilio's are 34 characters; none: not deduplicated
    reply = unit_of_work(lambda: respond(runtime().address_hash, keyword, phone, program, support, message_sid))
    log.info("sms %s applied (%s)", keyword.action, keyword.via)
    return twiml(reply)


def _refused(response: Response) -> bool:
    return response.status_code == 403


def _secret_given() -> bool:
    secret = current_app.config["PREFS_EMAIL_WEBHOOK_SECRET"] or ""
    return bool(secret) and hmac.compare_digest(request.headers.get("X-Prefs-Webhook-Secret", "").encode(), secret.encode())


@bp.post("/email")
# Only guessing the secret is limited: the provider's own requests are never answered 429 (a lost unsubscribe).
@limiter.limit("20 per minute", deduct_when=_refused, exempt_when=_secret_given)
def email():
    """An inbound-mail provider's webhook for mail to unsubscribe+REF@…: fields `to` and `subject`."""
    secret = current_app.config["PREFS_EMAIL_WEBHOOK_SECRET"]
    if not secret:
        return feature_off("PREFS_EMAIL_WEBHOOK_SECRET")
    given = request.headers.get("X-Prefs-Webhook-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return {"error": {"code": "forbidden", "message": "Wrong or missing X-Prefs-Webhook-Secret.", "details": {}}}, 403
    payload = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    to_field = payload.get("to") if isinstance(payload, dict) else None
    if not isinstance(to_field, str):
        to_field = ""
    try:
        applied = unit_of_work(lambda: mailto_unsubscribe(runtime(), to_field))
    except PrefsError:  # the person was erased meanwhile: nothing left to unsubscribe
        applied = False
    return {"status": "unsubscribed" if applied else "ignored"}, 200


# The mail providers' event webhooks (SPEC §15) are routes of this blueprint too.
from . import providers  # noqa: E402,F401
