"""Opt-in with evidence (SPEC §14): subscribe a person to topics, at once (single opt-in) or once they confirm a
link mailed to them (double opt-in, email only), and the confirmation itself.

`subscribe` is the one way in for every wing that takes a signup: the API (`POST /api/v1/subscriptions`) and
the hosted forms. `read_confirmation` (the page's GET: changes nothing, mail scanners open every link) and
`confirm_subscription` (its POST) serve `/c/<token>`. The opt-in itself is stored by the preference rules of
services/preferences.py, which also lift a suppression of the address: evidence of consent (when and how)
comes with both kinds of opt-in, and a double opt-in's only reaches them at confirmation, so a request alone
never lifts one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from secrets import token_hex
from typing import Any

from sqlalchemy import select, update

from ..addresses import is_recipient_id
from ..catalogue import TopicCatalogue
from ..channels import REGISTRY
from ..decision import TopicRule
from ..deps import Deps
from ..errors import PrefsError, invalid
from ..extensions import db
from ..languages import DEFAULT, match
from ..models import ConsentRequest, Recipient, utcnow
from .consent import consent_time_problem
from .events import Actor, ChangeContext, record_event
from .lookup import live_recipients, lookup_address
from .mail import mail_enabled, mail_off, queue_mail
from .notices import made_by, notice_at, notice_version
from .preferences import PreferenceChange, apply_preference_changes
from .provider_events import undeliverable_mark
from .recipients import RecipientRow, upsert_recipient, writable_recipient

CONFIRMATION_DAYS = 7  # an unconfirmed double opt-in expires after this (SPEC §14)
RESEND_AFTER = timedelta(hours=1)  # the same request again within this sends no second confirmation mail
CONFIRM_TEMPLATE = "confirm_subscription"
# Refusals of a topic that depend on the catalogue as stored, not on the request's shape.
NOT_ON_CHANNEL, MANDATORY = "Not on this channel.", "Mandatory topic."
NO_ADDRESS = "This recipient has no address on this channel."
# Evidence a caller may give (SPEC §14); `notice` names a notice, stored with the version current at
# `collected_at` as `notice_version`.
EVIDENCE_FIELDS = ("source", "collected_at", "notice", "url", "ip", "user_agent")
MAX_TOPICS = 50
NEW_ID_PREFIX = "sub-"  # the id of a recipient created by a subscription (no id of the client's system yet)

# What a confirmation link's page can say.
PENDING, CONFIRMED, EXPIRED, NO_LONGER_VALID = "pending", "confirmed", "expired", "no_longer_valid"


def clock() -> datetime:
    """Now, for everything about a request's expiry (tests move it by replacing this module's `utcnow`)."""
    return utcnow()


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Who subscribes: exactly one of a recipient id (known to prefs) or an address (a new one creates the
    recipient). `locale` is stored for a new recipient and chooses the confirmation mail's language."""

    recipient_id: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a subscription did: `subscribed` topics were stored at once; `pending` ones wait for the person's
    confirmation of the link mailed to them until `expires_at`."""

    recipient_id: str
    channel: str
    created: bool
    subscribed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A confirmation link as its page shows it: the state, the topics and the address it was mailed to
    (masked), in the language of the mail."""

    state: str  # pending, confirmed, expired, no_longer_valid
    recipient_id: str | None = None
    channel: str = "email"
    topics: list[str] = field(default_factory=list)
    language: str = DEFAULT
    address: str | None = None  # masked
    expires_at: datetime | None = None
    changed: bool = False  # this POST stored the opt-in


def subscribe(
    deps: Deps,
    who: Subscriber,
    topics: Sequence[str],
    channel: str,
    evidence: Mapping[str, Any],
    actor: Actor,
    now: datetime | None = None,
    *,
    always_confirm: bool = False,
    notice_version_shown: int | None = None,
) -> Subscription:
    """Subscribe `who` to `topics` on `channel` with the person's evidence of consent (`source` at least;
    `collected_at` defaults to now; `notice` names a notice, whose version current at `collected_at` is
    stored with it, or `notice_version_shown`: the version the person's page showed, see consent_evidence).

    Topics of `confirmation: double` on email become one pending request (event `consent.requested`) and a
    confirmation mail in the person's language; every other topic is stored at once as an opt-in with the
    evidence (which lifts a suppression of the address, SPEC §2). With `always_confirm` (a hosted form: anyone
    can type anyone's address there) every topic waits for the person's confirmation, whatever its own
    setting, so the channel must be email. All or nothing. Raises PrefsError:
    invalid, unknown_topic, not_found (an unknown recipient id), erased, address_in_use, sms_stop,
    mail_off (a double opt-in while email sending is off).
    """
    moment = now or clock()
    rules = _topics(deps.catalogue, topics, channel)
    proof = consent_evidence(evidence, moment, notice_version_shown)
    if always_confirm and channel != "email":
        raise invalid("channel", "Only email subscriptions can be confirmed by the person.")
    double = [rule.key for rule in rules if always_confirm or needs_confirmation(rule, channel)]
    single = [rule.key for rule in rules if rule.key not in double]
    if double and not mail_enabled(deps):
        raise mail_off()
    recipient, created = _subscriber(deps, who, channel, actor)
    if created and not single:  # nobody has vouched for this address yet: no defaults until it is confirmed
        db.session.execute(update(Recipient).where(Recipient.pk == recipient.pk).values(awaiting_confirmation=True))
    elif single:  # an opt-in stored at once, with its evidence: the person's consent, so the defaults apply
        db.session.execute(
            update(Recipient)
            .where(Recipient.pk == recipient.pk, Recipient.awaiting_confirmation)
            .values(awaiting_confirmation=False)
        )
    address = getattr(recipient, REGISTRY[channel].address.field)
    if not address:
        raise invalid("channel", NO_ADDRESS)
    if recipient.status != "active":
        raise PrefsError("invalid", "This recipient is deactivated: reactivate it first.", {"recipient_id": ["Deactivated."]})
    context = ChangeContext(actor, None, proof)
    if single:
        changes = [PreferenceChange(True, key, channel) for key in single]
        apply_preference_changes(deps.catalogue, recipient, changes, context)
    expires_at = None
    if double:
        expires_at = _pending_request(recipient, channel, double, moment) or _request_confirmation(
            deps, recipient, [r for r in rules if r.key in double], channel, proof, who, context, moment
        )
    return Subscription(recipient.id, channel, created, single, double, expires_at)


def _pending_request(recipient: RecipientRow, channel: str, topics: list[str], now: datetime) -> datetime | None:
    """The expiry of a request for these topics (or more) mailed to this address within RESEND_AFTER and still
    pending: asking again then sends no second mail (found in review: anyone could have us mail one address
    again and again, a form being open to all), and the person still has the first link."""
    pending = db.session.execute(
        select(ConsentRequest.topics, ConsentRequest.expires_at).where(
            ConsentRequest.recipient_id == recipient.id,
            ConsentRequest.channel == channel,
            ConsentRequest.address_hash == (recipient.email_hash or ""),
            ConsentRequest.confirmed_at.is_(None),
            ConsentRequest.requested_at > now - RESEND_AFTER,
            ConsentRequest.expires_at > now,
        )
    ).all()
    expiries = [_aware(expires_at) for requested, expires_at in pending if set(topics) <= set(requested)]
    return max(expiries, default=None)


def needs_confirmation(rule: TopicRule, channel: str) -> bool:
    """Double opt-in applies to email only (SPEC §14)."""
    return rule.confirmation == "double" and channel == "email"


def consent_evidence(given: Mapping[str, Any], now: datetime, notice_version_shown: int | None = None) -> dict[str, Any]:
    """The evidence as stored: the fields SPEC §14 names, `collected_at` as an ISO time (now when not given),
    and the notice with its version: the one the person was shown (`notice_version_shown`, from a page prefs
    drew: a new version saved while the page was open is not what they agreed to), when that is a version of
    the notice made by `collected_at`; otherwise the version current then. Raises PrefsError(invalid)."""
    proof = {name: given[name] for name in EVIDENCE_FIELDS if given.get(name) not in (None, "")}
    if not isinstance(proof.get("source"), str) or not proof["source"].strip():
        raise PrefsError("invalid", "Evidence needs a source: how the person consented.", {"evidence": {"source": ["Required."]}})
    collected = proof.get("collected_at") or now
    if isinstance(collected, str):
        try:
            collected = datetime.fromisoformat(collected)
        except ValueError:
            raise PrefsError(
                "invalid", "collected_at: an RFC 3339 time.", {"evidence": {"collected_at": ["Not a time."]}}
            ) from None
    collected = collected if collected.tzinfo else collected.replace(tzinfo=UTC)
    problem = consent_time_problem(collected, now)
    if problem:
        raise PrefsError("invalid", problem, {"evidence": {"collected_at": [problem]}})
    proof["collected_at"] = collected.astimezone(UTC).isoformat()
    if "notice" in proof:
        current = notice_at(str(proof["notice"]), collected)
        shown = notice_version(current.key, notice_version_shown) if notice_version_shown is not None else None
        proof["notice_version"] = shown.version if shown is not None and made_by(shown, collected) else current.version
    return proof


def _topics(catalogue: TopicCatalogue, keys: Sequence[str], channel: str) -> list[TopicRule]:
    if channel not in REGISTRY:
        raise invalid("channel", "Not a channel.")
    if not keys or len(keys) > MAX_TOPICS or len(set(keys)) != len(keys):
        raise invalid("topics", f"1 to {MAX_TOPICS} distinct topic keys.")
    rules = catalogue.get_many(keys)
    found = []
    for index, key in enumerate(keys):
        rule = rules.get(key)
        if rule is None or rule.archived:
            raise PrefsError("unknown_topic", f"No topic {key!r}.", {"topics": {str(index): ["Unknown topic."]}})
        if channel not in rule.channels:
            raise PrefsError("invalid", f"Topic {key!r} is not sent on {channel}.", {"topics": {str(index): [NOT_ON_CHANNEL]}})
        if rule.mandatory:
            raise PrefsError(
                "invalid", f"Topic {key!r} is mandatory: nobody subscribes to it.", {"topics": {str(index): [MANDATORY]}}
            )
        found.append(rule)
    return found


def _subscriber(deps: Deps, who: Subscriber, channel: str, actor: Actor) -> tuple[RecipientRow, bool]:
    """The locked recipient: the one with this id, or the one holding this address, or a new one holding it."""
    if who.recipient_id is not None:
        if not is_recipient_id(who.recipient_id):
            raise invalid("recipient_id", "1-128 letters, digits, '.', '_', ':' or '-'.")
        return writable_recipient(who.recipient_id), False
    kind = "email" if who.email is not None else "phone"
    text = who.email if who.email is not None else who.phone
    if text is None:
        raise PrefsError(
            "invalid", "Give one of recipient_id, email or phone.", {"_schema": ["One of recipient_id, email, phone."]}
        )
    if REGISTRY[channel].address.field != kind:
        raise invalid("channel", f"A {kind} address cannot be reached on {channel}.")
    address = lookup_address(deps, kind, text)
    holders = live_recipients(address=address)
    if holders:
        return writable_recipient(holders[0].id), False
    fields: dict[str, Any] = {kind: text}
    if who.locale:
        fields["locale"] = who.locale
    # Not vouched: a signup racing another for the same new address must not take it from the first.
    context = ChangeContext(actor, None, None)
    recipient, _created = upsert_recipient(deps, NEW_ID_PREFIX + token_hex(12), fields, context, vouched=False)
    return writable_recipient(recipient.id), True


def _request_confirmation(
    deps: Deps,
    recipient: RecipientRow,
    rules: list[TopicRule],
    channel: str,
    proof: dict[str, Any],
    who: Subscriber,
    context: ChangeContext,
    now: datetime,
) -> datetime:
    """A pending request, its `consent.requested` events (one per topic) and the confirmation mail."""
    stored_locale = db.session.execute(select(Recipient.locale).where(Recipient.pk == recipient.pk)).scalar()
    language = match(stored_locale) or match(who.locale) or DEFAULT
    expires_at = now + timedelta(days=CONFIRMATION_DAYS)
    request = ConsentRequest(
        recipient_id=recipient.id,
        channel=channel,
        topics=[rule.key for rule in rules],
        address_hash=recipient.email_hash or "",
        evidence=proof,
        language=language,
        requested_at=now,
        expires_at=expires_at,
    )
    db.session.add(request)
    db.session.flush()
    after = {"request": request.id, "expires_at": expires_at.isoformat()}
    for rule in rules:
        record_event(context, recipient.id, "consent_requested", topic=rule.key, channel=channel, before=None, after=after)
    if undeliverable_mark(recipient.email_hash) is not None:
        # Rule 6a: a provider reported the address dead; a mail would only bounce again (as "email me my link"
        # sends none, services/link_requests.py). The request stands, unconfirmable, and expires.
        return expires_at
    queue_mail(
        deps,
        CONFIRM_TEMPLATE,
        recipient.email or "",
        language,
        {
            "url": f"{deps.base_url}/c/{deps.signer.sign_confirmation(request.id, recipient.id)}",
            "topics": [rule.names.get(language, rule.name) for rule in rules],
            "expires_days": CONFIRMATION_DAYS,
        },
        ordering_key=recipient.id,
    )
    return expires_at


# --- the confirmation link (/c/<token>) ------------------------------------------------------------------
def read_confirmation(deps: Deps, token: str, now: datetime | None = None) -> Confirmation:
    """What the link's page shows; reads only. Raises TokenInvalid for a token prefs did not sign."""
    request = _request_of(deps, token)
    return _confirmation(deps, request, now or clock())


def confirm_subscription(
    deps: Deps, token: str, ip: str | None, user_agent: str | None, now: datetime | None = None
) -> Confirmation:
    """The person confirms: the opt-in is stored with the request's evidence plus the confirmation's time, IP
    and user agent (which lifts a suppression of the address), and a `consent.confirmed` event per topic.
    A link that expired, was used already, or whose address the recipient no longer holds changes nothing.
    Raises TokenInvalid."""
    moment = now or clock()
    request = _request_of(deps, token, lock=True)
    shown = _confirmation(deps, request, moment)
    if request is None or shown.state != PENDING:
        return shown
    recipient = writable_recipient(request.recipient_id)
    proof = {
        **(request.evidence or {}),
        "confirmed_at": moment.isoformat(),
        "confirmation_ip": ip,
        "confirmation_user_agent": user_agent,
    }
    proof = {name: value for name, value in proof.items() if value not in (None, "")}
    context = ChangeContext(Actor("recipient", None, "confirm_page"), None, proof)
    rules = deps.catalogue.get_many(request.topics)
    live = [key for key in request.topics if key in rules and not rules[key].archived and request.channel in rules[key].channels]
    apply_preference_changes(deps.catalogue, recipient, [PreferenceChange(True, key, request.channel) for key in live], context)
    after = {"request": request.id}
    for key in live:
        record_event(context, recipient.id, "consent_confirmed", topic=key, channel=request.channel, before=None, after=after)
    request.confirmed_at = moment
    # The person has answered from the address: the topics' defaults apply to them from now on.
    db.session.execute(update(Recipient).where(Recipient.pk == recipient.pk).values(awaiting_confirmation=False))
    db.session.flush()
    return Confirmation(
        CONFIRMED, request.recipient_id, request.channel, live, shown.language, shown.address, shown.expires_at, True
    )


def _request_of(deps: Deps, token: str, lock: bool = False) -> ConsentRequest | None:
    request_id, recipient_id = deps.signer.verify_confirmation(token)
    statement = select(ConsentRequest).where(ConsentRequest.id == request_id)
    if recipient_id is not None:  # the request the link was mailed for, not a later one given its id (SQLite)
        statement = statement.where(ConsentRequest.recipient_id == recipient_id)
    if lock:
        statement = statement.with_for_update()
    return db.session.execute(statement).scalar_one_or_none()


def _confirmation(deps: Deps, request: ConsentRequest | None, now: datetime) -> Confirmation:
    if request is None:  # the person was erased since (their requests went with them)
        return Confirmation(NO_LONGER_VALID)
    recipient = db.session.execute(select(Recipient).where(Recipient.id == request.recipient_id)).scalar_one_or_none()
    language = request.language or DEFAULT
    expires_at = _aware(request.expires_at)
    if recipient is None or recipient.status != "active" or recipient.email_hash != request.address_hash:
        return Confirmation(NO_LONGER_VALID, request.recipient_id, request.channel, list(request.topics), language)
    address = REGISTRY[request.channel].address.mask(getattr(recipient, REGISTRY[request.channel].address.field))
    if request.confirmed_at is not None:
        state = CONFIRMED
    elif now >= expires_at:
        state = EXPIRED
    else:
        state = PENDING
    return Confirmation(state, request.recipient_id, request.channel, list(request.topics), language, address, expires_at)


def requests_of(recipient_id: str) -> list[ConsentRequest]:
    """The person's requests, oldest first (the consent records show the unconfirmed expired ones)."""
    return list(
        db.session.execute(
            select(ConsentRequest).where(ConsentRequest.recipient_id == recipient_id).order_by(ConsentRequest.id)
        ).scalars()
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
