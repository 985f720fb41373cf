"""The tables. Only explicit choices are stored; defaults are computed by the decision rule."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import Model, db

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")
# Python None is stored as SQL NULL, not as the JSON text 'null'.
NullableJSON = JSON(none_as_null=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Recipient(Model):
    __tablename__ = "recipients"
    __table_args__ = (
        Index(
            "ix_recipients_address_taken_by",
            "address_taken_by",
            postgresql_where=text("address_taken_by IS NOT NULL"),
            sqlite_where=text("address_taken_by IS NOT NULL"),
        ),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(128), unique=True)  # the client system's own id
    email: Mapped[str | None] = mapped_column(String(320), unique=True)  # normalised: trimmed, lower-case
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)  # E.164
    # Suppression hashes of email and phone, kept so one join tells the check whether either is suppressed.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    postal_address: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    locale: Mapped[str | None] = mapped_column(String(35))
    # IANA name (e.g. America/New_York) for quiet hours (SPEC §17); without it, the zones the number implies.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, deactivated, erased
    # When the person opted out of the sale or sharing of their personal information (Global Privacy
    # Control or the preference center, SPEC §16); None: not opted out. The audience check reads it.
    do_not_sell_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    # An SMS stop is not kept here: it belongs to the number, as a suppression of source `sms_stop`.
    # Made by prefs for a double opt-in nobody has confirmed yet (anyone can type an address on a form): no
    # topic's default applies to it until the person confirms (decision.gets_default).
    awaiting_confirmation: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The recipient that took this one's address while it awaited confirmation (services/recipients.py,
    # release_address), and the event that says so: that recipient's erasure forgets what this one held up
    # to that event, the address among it (services/forgetting.py).
    address_taken_by: Mapped[str | None] = mapped_column(String(128))
    address_taken_at_event: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Choice(Model):
    """One explicit choice: (topic, channel) cell, (*, channel) channel stop, or (*, *) all-marketing stop.

    `*` is decision.ANY; no topic key can be `*`, so the wildcard rows never collide with a topic."""

    __tablename__ = "choices"

    recipient_pk: Mapped[int] = mapped_column(ForeignKey("recipients.pk", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    subscribed: Mapped[bool]
    # An opt-in written with evidence of consent (collected_at and source): express consent, which the
    # do-not-call list yields to for this topic on this channel (SPEC §17). False on every other write.
    with_evidence: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Topic(Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mandatory: Mapped[bool] = mapped_column(default=False)
    channels: Mapped[list[str]] = mapped_column(JSON)
    default_subscribed: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    # Translations for the recipient pages, language tag -> text (SPEC §16): {"es": "Boletín"}.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    archived: Mapped[bool] = mapped_column(default=False)
    # How an opt-in by email is taken (SPEC §14): "single" (stored at once) or "double" (stored once the
    # person confirms through the link mailed to them). Other channels are always single.
    confirmation: Mapped[str] = mapped_column(String(8), default="single", server_default="single")
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ConsentEvent(Model):
    """Append-only record of a change to choices, contact data or status. Never updated except by erasure."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_recipient_id_id", "recipient_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    recipient_id: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(16))  # recipient, staff, api, sms, email, import, system
    actor_id: Mapped[str | None] = mapped_column(String(320))
    via: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # topic_choice, channel_stop, all_marketing, sms_stop, contact, status, suppression
    topic: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(8))
    before: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    after: Mapped[Any] = mapped_column(NullableJSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)


class Suppression(Model):
    """A keyed hash of an address that must get no marketing (HMAC with PREFS_SUPPRESSION_KEY).

    Source `sms_stop` is also the SMS stop of SPEC §2: the number texted STOP, so nothing at all is texted
    to it (whoever holds it) until START comes from it. No other source and no opt-in can replace it.
    """

    __tablename__ = "suppressions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # email, phone
    source: Mapped[str] = mapped_column(String(32))  # erasure, import (or the import's --source), sms_stop
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class ApiKey(Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the key: keys are 256 random bits, so a slow password hash would add nothing but latency.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


class StaffUser(UserMixin, Model):
    """A support or admin person who signs in to the console. Passwords are stored hashed (scrypt)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-case
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # viewer, agent, admin
    disabled_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))
    # Carried in the session cookie; signing out, a password reset and disabling add one, so every cookie
    # issued before (a copied one too) stops working at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the account and its session epoch (SPEC §7)."""
        return f"{self.id}:{self.session_epoch}"


class AdminEvent(Model):
    """Who created, changed, revoked or disabled an API key, topic or staff account, and when."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))  # cli, api, staff
    actor_id: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))  # e.g. topic.created, api_key.revoked
    target: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)


class OutboxMessage(Model):
    """Something that must leave the service, written in the transaction of the change that causes it
    (SPEC §12). The worker fans each one out into deliveries and deletes it, so the table stays small.

    `event_id` names the consent event a webhook message is about (its body is built from that event when
    sent, so an erasure that follows scrubs it too); messages that are not events carry `payload`.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # event (for webhooks); later: email, sync
    type: Mapped[str] = mapped_column(String(32))  # the webhook event type, e.g. preference.updated
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    ordering_key: Mapped[str] = mapped_column(String(128))  # the recipient id (or suppression:<hash>)
    payload: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class WebhookEndpoint(Model):
    """A receiver of signed webhooks (SPEC §13). The signing secret must be readable to sign with, so it is
    stored as given (like the database's personal data, it is protected by the database's own access)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    events: Mapped[list[str]] = mapped_column(JSON)  # ["*"] or event types
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    # The secrets rotated out within the last 24 h, each still signing until its `until` (ISO 8601):
    # [{"secret": ..., "until": ...}], oldest first (services/webhook_endpoints.py).
    previous_secrets: Mapped[list[dict[str, str]] | None] = mapped_column(NullableJSON)
    failing_since: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))  # first failure since the last success
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow, onupdate=utcnow)


PENDING = text("status = 'pending'")


class Delivery(Model):
    """One message to one destination, tried until it succeeds or the retry schedule runs out."""

    __tablename__ = "deliveries"
    __table_args__ = (
        # Partial: the claim reads only pending rows, however many delivered ones the 30 days of history hold.
        Index("ix_deliveries_pending", "id", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_deliveries_pending_order", "endpoint_id", "ordering_key", "id", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_deliveries_endpoint_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64))  # webhook-id: the same on every retry and replay
    type: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    ordering_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    occurred_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


class DeliveryAttempt(Model):
    """One try of a delivery: when, the HTTP status (None when no answer came) and the error."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_endpoint_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class DncList(Model):
    """A load of the national do-not-call list (SPEC §17), one row per `dnc import`.

    Its numbers are written under its generation while the list in force keeps answering checks; when the
    last one is in, `loaded_at` is set in one small transaction and this generation is in force (the newest
    loaded one is). The superseded generation's numbers and row are then deleted.
    """

    __tablename__ = "dnc_lists"

    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)  # the list's own date: older than 31 days answers dnc_list_stale
    file_name: Mapped[str] = mapped_column(String(255))
    numbers: Mapped[int] = mapped_column(Integer, default=0)  # distinct numbers stored
    bad_lines: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    loaded_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))  # None while loading


class DncNumber(Model):
    """A number on the do-not-call list, as the keyed hash suppressions use (kind `phone`), per generation."""

    __tablename__ = "dnc_numbers"
    __table_args__ = {"sqlite_with_rowid": False}  # the key is the row: half the file, no second index

    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class UndeliverableAddress(Model):
    """An email address a mail provider reported as permanently failing (a hard bounce, SPEC §15): rule 6a
    refuses every email to it, mandatory included, until support clears it. Kept as the address's keyed
    hash, like a suppression, so it belongs to the address: a recipient whose email changes leaves it
    behind on every path (PUT, console, import), and the address stays dead for whoever gives it next."""

    __tablename__ = "undeliverable_addresses"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # suppression.AddressHasher("email", address)
    provider: Mapped[str] = mapped_column(String(16))  # sendgrid, mailgun, postmark, ses
    code: Mapped[str | None] = mapped_column(String(32))  # the provider's bounce classification, e.g. 5.1.1 or NoEmail
    reported_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class InboundText(Model):
    """A text the SMS provider delivered, by its MessageSid: a keyword is acted on and answered once, however
    often the same signed request comes (Twilio's retries; a replay of a START must not lift a later STOP)."""

    __tablename__ = "inbound_texts"
    __table_args__ = (Index("ix_inbound_texts_received_at", "received_at"),)

    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class ProviderEvent(Model):
    """An event a mail provider reported (bounce, complaint, unsubscribe), by its own id: each is applied
    once, however often the provider sends it. `address_hash` and `provider` say who reported what about
    which address, so the outbound sync never pushes a provider's own report back to it."""

    __tablename__ = "provider_events"
    __table_args__ = (Index("ix_provider_events_address_hash", "address_hash"),)

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the provider's id (a SHA-256 when longer)
    kind: Mapped[str] = mapped_column(String(16))  # hard_bounce, soft_bounce, complaint, unsubscribe
    address_hash: Mapped[str | None] = mapped_column(String(64))  # None when the address was not one
    outcome: Mapped[str] = mapped_column(String(16))  # what it did: see services/provider_events.OUTCOMES
    received_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class MailgunToken(Model):
    """A Mailgun webhook signature's token, with a digest of the event it came with. Mailgun signs a timestamp and
    a token, not the event: a captured signature could vouch for any other event while fresh. A token is good
    for the event it first came with (a retry of that event), for no other (Mailgun's advice: remember tokens)."""

    __tablename__ = "mailgun_tokens"
    __table_args__ = (Index("ix_mailgun_tokens_seen_at", "seen_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token, hex
    event_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the event as JSON with sorted keys, hex
    seen_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class CacheGeneration(Model):
    """A cached table's change counter (db/generations.py): bumped with every change, read by every process."""

    __tablename__ = "cache_generations"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class ProviderSync(Model):
    """One push of an email address to one mail provider's suppression list, or its removal (SPEC §15,
    outbound): made by the worker from a `sync` outbox message, tried on the webhooks' retry schedule, and
    kept as that target's receipt. The address is kept only until the push is done (a failed one keeps it,
    for `providers reconcile`); `address_hash` orders one address's pushes to one target."""

    __tablename__ = "provider_syncs"
    __table_args__ = (
        Index("ix_provider_syncs_pending", "id", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_provider_syncs_pending_order", "target", "address_hash", "id", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_provider_syncs_recipient", "recipient_id", "target", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    target: Mapped[str] = mapped_column(String(16))  # sendgrid, mailgun, postmark, ses
    action: Mapped[str] = mapped_column(String(16))  # suppress, unsuppress
    address_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))  # cleared once done
    recipient_id: Mapped[str | None] = mapped_column(String(128))  # None for an address nobody holds
    # The target reported this address itself, so prefs left its list alone: done without a request.
    reported_here: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


# --- Opt-in and proof of consent (SPEC §14): notices, pending consents --------------------------------------
class Notice(Model):
    """One version of the wording people see when they consent (a signup form's text, a privacy notice).
    A change is a new row with the next version; a row is never altered, so a consent that names a version
    keeps the exact text the person saw."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_notices_key_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320))  # the API key's name or the staff member's email


class ConsentRequest(Model):
    """A double opt-in waiting for the person's confirmation (SPEC §14): the check keeps answering as if it
    were not there until the link mailed to the address is confirmed, which stores the opt-in with
    `evidence` plus the confirmation's time, IP and user agent. Unconfirmed past `expires_at`, it is dead.
    `address_hash` is the address the link was mailed to: once the recipient's address changes, the link
    no longer applies. Erasure deletes the person's requests."""

    __tablename__ = "consent_requests"
    __table_args__ = (Index("ix_consent_requests_recipient_id", "recipient_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(8))
    topics: Mapped[list[str]] = mapped_column(JSON)
    address_hash: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    language: Mapped[str | None] = mapped_column(String(35))  # the language of the mail and the confirm page
    requested_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(db.DateTime(timezone=True))


# --- Outbound email (SPEC §14): what the mail sender keeps (helper's block: services/mail*.py) ----------------
class OutboundMail(Model):
    """One email prefs sends (a preference link, a confirmation request): made by the worker from an `email`
    outbox message, sent over SMTP on the webhooks' retry schedule, and kept as the receipt. `payload` (the
    address and the rendered message, services/mail.py) is kept only until the message is sent or has failed
    for good; `ordering_key` keeps one person's messages in commit order."""

    __tablename__ = "outbound_mails"
    __table_args__ = (
        Index("ix_outbound_mails_pending", "id", postgresql_where=PENDING, sqlite_where=PENDING),
        Index("ix_outbound_mails_pending_order", "ordering_key", "id", postgresql_where=PENDING, sqlite_where=PENDING),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    template: Mapped[str] = mapped_column(String(64))  # preference_link, confirm_subscription
    ordering_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str | None] = mapped_column(Text)  # JSON; cleared once sent or failed
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_code: Mapped[int | None] = mapped_column(Integer)  # the relay's last reply code, when it gave one
    last_error: Mapped[str | None] = mapped_column(String(300))  # never the address or the message
    next_attempt_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


# --- Hosted subscribe forms (SPEC §14; services/forms.py, pages/forms.py) -----------------------------------
class SubscribeForm(Model):
    """A signup form an admin defines and prefs serves at /s/<key>: a visitor types an email address and is
    mailed a confirmation link for `topics` (every topic of a form is confirmed by the person, whatever the
    topic's own setting). `notice` names the notice whose current wording the page shows and the evidence
    keeps."""

    __tablename__ = "subscribe_forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    topics: Mapped[list[str]] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    notice: Mapped[str] = mapped_column(String(64))
    thanks: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320))


# --- Insights (issue 19; services/insights.py): counts only, kept up to date by the worker ---------------------
# Key columns hold '' for "none" (no topic, every channel, no message id): NULLs are never equal in a unique
# key, so an upsert could not find the row it adds to.
class InsightDaily(Model):
    """Opt-outs, opt-ins, suppressions added, bounces and complaints per UTC day, topic, channel, via and
    message id (the campaign a link came from) at level `all`, and again per day and one of them at the level
    named after it (the others ''): the dashboard's questions then read a few thousand rows a year, not all."""

    __tablename__ = "insight_daily"

    level: Mapped[str] = mapped_column(String(16), primary_key=True)  # all, topic, channel, via, message_id
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    via: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    opt_outs: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    opt_ins: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    suppressions: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bounces: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    complaints: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class InsightPending(Model):
    """A count that is no consent event (a suppression added, a provider's bounce or complaint report), written
    in the transaction that made it and folded into insight_daily (then deleted) by the worker: appending a
    row takes no lock a concurrent writer waits on, as adding to a shared counter row would."""

    __tablename__ = "insight_pending"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)
    measure: Mapped[str] = mapped_column(String(16))  # suppressions, bounces, complaints
    channel: Mapped[str] = mapped_column(String(8))
    via: Mapped[str] = mapped_column(String(64))


class InsightActive(Model):
    """Recipients marketing can reach on each channel, counted by the worker after changes."""

    __tablename__ = "insight_active"

    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    recipients: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(db.DateTime(timezone=True), default=utcnow)


class InsightActiveDaily(Model):
    """The day's last count of InsightActive (UTC day): the denominator of the opt-out rate over time."""

    __tablename__ = "insight_active_daily"

    day: Mapped[date] = mapped_column(db.Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    recipients: Mapped[int] = mapped_column(BigInteger)


class InsightState(Model):
    """The roll-ups' bookkeeping: `events` is the last consent event id folded in (its row is also the lock
    that keeps two folds, or a fold and an erasure, apart), `pending` how many pending counts were folded;
    `active_events` and `active_pending` are the two as insight_active was last counted."""

    __tablename__ = "insight_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
