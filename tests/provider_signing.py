"""The mail providers, as the tests play them: keys made here, requests signed the way each provider signs.

SendGrid: an ECDSA P-256 key pair, its public half given to prefs as SendGrid shows it (base64 DER).
Mailgun: an HMAC key. Postmark: HTTP Basic credentials. Amazon SNS: an RSA key and a self-signed certificate,
served from a loopback HTTP server (tests/webhook_receiver.py) that PREFS_SNS_CERT_HOSTS allows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC_KEY = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
MAILGUN_SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "a-long-webhook-password"
SES_TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"

PROVIDER_SETTINGS = {
    "PREFS_SENDGRID_WEBHOOK_PUBLIC_KEY": SENDGRID_PUBLIC_KEY,
    "PREFS_MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    "PREFS_POSTMARK_WEBHOOK_USER": POSTMARK_USER,
    "PREFS_POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
    "PREFS_SES_TOPIC_ARNS": SES_TOPIC,
    "PREFS_SNS_CERT_HOSTS": "127.0.0.1",  # the certificate server below; PREFS_WEBHOOK_ALLOW_HOSTS lets it be reached
}


# --- SendGrid ------------------------------------------------------------------------------------------
def sendgrid_request(events: list[dict[str, Any]], signed_at: float | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    timestamp = str(int(signed_at if signed_at is not None else time.time()))
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }


def sendgrid_event(event: str, email: str, **fields: Any) -> dict[str, Any]:
    """An event as SendGrid's Event Webhook reference shows it."""
    return {
        "email": email,
        "timestamp": int(time.time()),
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": event,
        "category": "cat facts",
        "sg_event_id": base64.b64encode(uuid.uuid4().bytes).decode(),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def post_sendgrid(client, events: list[dict[str, Any]]):
    body, headers = sendgrid_request(events)
    return client.post("/webhooks/providers/sendgrid", data=body, headers=headers)


# --- Mailgun -------------------------------------------------------------------------------------------
def mailgun_payload(event_data: dict[str, Any], signed_at: float | None = None, key: str = MAILGUN_SIGNING_KEY) -> dict[str, Any]:
    timestamp = str(int(signed_at if signed_at is not None else time.time()))
    token = uuid.uuid4().hex + uuid.uuid4().hex[:18]  # 50 characters, as Mailgun's
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}


def mailgun_event(event: str, recipient: str, **fields: Any) -> dict[str, Any]:
    """`event-data` as Mailgun's webhook payload documentation shows it."""
    return {
        "id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
        "timestamp": time.time(),
        "log-level": "warn" if event == "complained" else "info",
        "event": event,
        "recipient": recipient,
        "recipient-domain": recipient.partition("@")[2],
        "tags": [],
        "user-variables": {},
        "message": {"headers": {"to": recipient, "message-id": "20130503192659.13651.20287@sample.mailgun.com",
                                "from": "Acme <news@sample.mailgun.com>", "subject": "Sample webhook payload"}},
        **fields,
    }  # fmt: skip


# --- Postmark ------------------------------------------------------------------------------------------
def postmark_auth(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def postmark_bounce(email: str, bounce_type: str = "HardBounce", record_id: int = 4323372036854775807) -> dict[str, Any]:
    """Postmark's bounce webhook, as its documentation shows it."""
    return {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": record_id, "Type": bounce_type, "TypeCode": 1,
        "Name": "Hard bounce", "Tag": "Test", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {"a_key": "a_value"},
        "ServerID": 23, "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "Test bounce details", "Email": email, "From": "sender@example.com", "BouncedAt": "2019-11-05T16:33:54.9070259Z",
        "DumpAvailable": True, "Inactive": True, "CanActivate": True, "Subject": "Test subject", "Content": "<Full dump of bounce>",
    }  # fmt: skip


def postmark_subscription_change(email: str, reason: str = "ManualSuppression", origin: str = "Recipient") -> dict[str, Any]:
    """Postmark's subscription change webhook, as its documentation shows it."""
    return {
        "RecordType": "SubscriptionChange", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "ServerID": 123456,
        "MessageStream": "outbound", "ChangedAt": "2020-02-01T10:53:34.416071Z", "Recipient": email, "Origin": origin,
        "SuppressSending": True, "SuppressionReason": reason, "Tag": "my-tag", "Metadata": {"example": "value"},
    }  # fmt: skip


# --- Amazon SNS ----------------------------------------------------------------------------------------
SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com")])
_NOW = datetime.now(UTC)
SNS_CERTIFICATE = (
    x509.CertificateBuilder()
    .subject_name(_NAME)
    .issuer_name(_NAME)
    .public_key(SNS_KEY.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(_NOW - timedelta(days=1))
    .not_valid_after(_NOW + timedelta(days=30))
    .sign(SNS_KEY, hashes.SHA256())
    .public_bytes(serialization.Encoding.PEM)
)
CERT_PATH = "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def sns_message(
    base_url: str,
    kind: str,
    fields: dict[str, Any],
    version: str = "1",
    signed_at: datetime | None = None,
    topic: str = SES_TOPIC,
) -> dict[str, Any]:
    """An SNS message to an HTTP(S) subscription, signed as SNS signs it (version 1: SHA1, 2: SHA256)."""
    moment = signed_at or datetime.now(UTC)
    message = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "SignatureVersion": version,
        "SigningCertURL": base_url + CERT_PATH,
        **fields,
    }
    text = "".join(f"{name}\n{message[name]}\n" for name in _SIGNED[kind] if name in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303  (SNS SignatureVersion 1 is SHA1)
    message["Signature"] = base64.b64encode(SNS_KEY.sign(text.encode(), padding.PKCS1v15(), digest)).decode()
    return message


def ses_bounce(email: str, bounce_type: str = "Permanent") -> str:
    """An SES bounce notification, as Amazon's notification examples show it (the SNS message's Message)."""
    return json.dumps({
        "notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "reportingMTA": "dns; email.example.com",
                   "bouncedRecipients": [{"emailAddress": email, "status": "5.1.1", "action": "failed",
                                          "diagnosticCode": "smtp; 550 5.1.1 <" + email + ">... User"}],
                   "bounceSubType": "General", "timestamp": "2016-01-27T14:59:38.237Z",
                   "feedbackId": f"00000138111222aa-{uuid.uuid4()}-000000", "remoteMtaIp": "127.0.2.0"},
        "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "source": "john@example.com",
                 "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com", "sourceIp": "127.0.3.0",
                 "sendingAccountId": "123456789012", "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
                 "destination": [email]},
    })  # fmt: skip


def ses_complaint(email: str) -> str:
    return json.dumps({
        "notificationType": "Complaint",
        "complaint": {"userAgent": "AnyCompany Feedback Loop (V0.01)", "complainedRecipients": [{"emailAddress": email}],
                      "complaintFeedbackType": "abuse", "arrivalDate": "2016-01-27T14:59:38.237Z",
                      "timestamp": "2016-01-27T14:59:38.237Z", "feedbackId": f"000001378603177f-{uuid.uuid4()}-000000"},
        "mail": {"timestamp": "2016-01-27T14:59:38.237Z", "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
                 "source": "john@example.com", "sendingAccountId": "123456789012", "destination": [email]},
    })  # fmt: skip
