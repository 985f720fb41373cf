"""Changing choices and reading them back as the preference matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ..catalogue import TopicCatalogue
from ..channels import CHANNELS, DO_NOT_CALL, KEYWORD_STOPPED, REGISTRY, SUPPRESSIBLE, suppression_kind
from ..db.driver import DriverSql
from ..db.statements import DELETE_CHOICE, INSERT_CHOICE, STORED_CHOICES, UPDATE_CHOICE
from ..decision import ANY, RecipientState, decide
from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..models import ConsentEvent, Recipient, utcnow
from ..tokens import LinkTarget
from .events import ChangeContext, record_event
from .provider_sync import email_stop_changed, suppression_lifted
from .recipients import RecipientRow
from .states import load_states
from .suppressions import SMS_STOP, SMS_STOP_MESSAGE, lift_by_consent, liftable_by_consent, suppression_sources

# An opt-in lifts a suppression only with evidence of when and how the person consented (SPEC §2).
CONSENT_EVIDENCE_FIELDS = ("collected_at", "source")
# Why an opt-in through a link is refused on a channel (the preference center locks those boxes).
LINK_OTHER_CHANNEL = "link_other_channel"  # e.g. only a link sent by text may switch texts on
LINK_CANNOT_LIFT = "link_cannot_lift"  # the address is suppressed and this link may not lift it
# The number is on the do-not-call list, which yields only to express consent, and this link cannot give it.
LINK_NO_EXPRESS_CONSENT = "link_no_express_consent"


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    """topic+channel: one cell; topic: all its channels; channel: channel stop; neither: all-marketing stop."""

    subscribed: bool
    topic: str | None = None
    channel: str | None = None


def event_kind(topic: str, channel: str) -> str:
    if topic != ANY:
        return "topic_choice"
    return "all_marketing" if channel == ANY else "channel_stop"


def plan_changes(
    catalogue: TopicCatalogue, recipient: RecipientRow, changes: Sequence[PreferenceChange], link: LinkTarget | None = None
) -> tuple[dict[tuple[str, str], bool | None], dict[str, bool]]:
    """Turn requested changes into the stored values wanted per (topic|*, channel|*) key (None: no row).

    Returns (targets, channels opted in to -> whether a change named that channel or topic, rather than
    resuming all marketing). Raises PrefsError before anything is written, so a request is applied all or
    nothing: unknown_topic, invalid, mandatory_topic, sms_stop, forbidden (a texts opt-in through a link
    that was not sent by text).
    """
    rules = catalogue.get_many({change.topic for change in changes if change.topic})
    targets: dict[tuple[str, str], bool | None] = {}
    opted_in: dict[str, bool] = {}
    for index, change in enumerate(changes):
        if change.topic is not None:
            rule = rules.get(change.topic)
            if rule is None:
                raise PrefsError("unknown_topic", f"No topic {change.topic!r}.", _at(index, "topic", "Unknown topic."))
            # A link's unsubscribe is never refused (SPEC §16): a topic since taken off the link's channel keeps
            # the person's no, in case the channel is put back.
            kept_no = link is not None and not change.subscribed
            if change.channel is not None and change.channel not in rule.channels and not kept_no:
                raise PrefsError(
                    "invalid",
                    f"Topic {rule.key!r} is not sent on {change.channel}.",
                    _at(index, "channel", "Not a channel of this topic."),
                )
            channels = [change.channel] if change.channel else [c for c in CHANNELS if c in rule.channels]
            if rule.mandatory:
                if not change.subscribed:
                    raise PrefsError(
                        "mandatory_topic",
                        f"The topic {rule.name!r} is mandatory: it stays on while the account is active.",
                        _at(index, "topic", "Mandatory topic."),
                    )
                continue  # always on: there is nothing to store
            for channel in channels:
                targets[(rule.key, channel)] = change.subscribed
        else:
            channels = [change.channel] if change.channel else list(CHANNELS)
            targets[(ANY, change.channel or ANY)] = None if change.subscribed else False
        if change.subscribed:
            named = change.topic is not None or change.channel is not None
            # A topic's opt-in on all its channels opts in to texts too (found in review: only a change naming
            # the channel was refused); lifting the all-marketing stop opts in to nothing.
            to_texts = any(c in KEYWORD_STOPPED for c in channels) if change.topic else change.channel in KEYWORD_STOPPED
            if to_texts and number_stopped(recipient):
                raise PrefsError("sms_stop", SMS_STOP_MESSAGE, _at(index, "channel", "SMS stop in force."))
            if change.channel is not None and link is not None and not link_may_opt_in(link, change.channel, recipient):
                raise PrefsError(
                    "forbidden",
                    f"{REGISTRY[change.channel].plural.capitalize()} can be switched on only from a link we sent that way.",
                    _at(index, "channel", "Not from this link."),
                )
            for channel in channels:
                opted_in[channel] = opted_in.get(channel, False) or named
    return targets, opted_in


def number_stopped(recipient: RecipientRow) -> bool:
    """Whether the recipient's number texted STOP (the stop is the number's suppression, SPEC §11)."""
    digest = recipient.phone_hash
    return digest is not None and suppression_sources([digest]).get(digest, (None,))[0] == SMS_STOP


def _at(index: int, field: str, message: str) -> dict:
    """Field errors in marshmallow's shape, pointing at one change of the request."""
    return {"changes": {str(index): {field: [message]}}}


def apply_preference_changes(
    catalogue: TopicCatalogue, recipient: RecipientRow, changes: Sequence[PreferenceChange], context: ChangeContext
) -> int:
    """Apply the changes to a locked recipient; one event per stored value that changed. Returns that count.

    Raises PrefsError (see plan_changes) with nothing written.
    """
    targets, opted_in = plan_changes(catalogue, recipient, changes, context.link)
    lifts = _suppressions_to_lift(recipient, opted_in, context)
    written = write_choices(recipient, targets, context)
    return written + _lift_suppressions(recipient, lifts, context)


def stored_choices(recipient_pk: int, sql: DriverSql | None = None) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(topic|*, channel|*) -> (subscribed, stored with evidence of consent)."""
    rows = (sql or DriverSql()).rows(STORED_CHOICES, (recipient_pk,))
    return {(topic, channel): (bool(subscribed), bool(evidenced)) for topic, channel, subscribed, evidenced in rows}


def has_consent_evidence(evidence: Mapping[str, Any] | None) -> bool:
    """Evidence of when and how the person consented (SPEC §2): what lifts a suppression and what makes an
    opt-in the express consent the do-not-call list yields to (SPEC §17)."""
    return evidence is not None and all(evidence.get(name) for name in CONSENT_EVIDENCE_FIELDS)


def write_choices(
    recipient: RecipientRow, targets: dict[tuple[str, str], bool | None], context: ChangeContext, *, undoing: bool = False
) -> int:
    """Set stored values (None deletes the row) of a locked recipient; an event for each that changed.

    A topic opt-in made with evidence of consent is stored as such (choices.with_evidence), so an opt-in
    already stored without it is written again, with its event, when the evidence comes. An opt-out leaves
    the flag as it was (it counts only while the choice is an opt-in, services/states.py), so that `undoing`
    a link's unsubscribe restores the opt-in as it was, evidence included; any other opt-in after an opt-out
    needs evidence of its own. Plain SQL on the driver (db/driver.py): this is the one-click path.
    """
    sql = DriverSql()
    stored = stored_choices(recipient.pk, sql)
    evidenced = has_consent_evidence(context.evidence)
    written = 0
    for (topic, channel), after in targets.items():
        before, before_evidenced = stored.get((topic, channel), (None, False))
        if after is True and topic != ANY:
            with_evidence = (evidenced and link_evidence_covers(context.link, channel)) or (
                before_evidenced and (before is True or undoing)
            )
        else:
            with_evidence = after is False and before_evidenced
        if before == after and with_evidence == before_evidenced:
            continue
        key = (recipient.pk, topic, channel)
        if after is None:
            sql.execute(DELETE_CHOICE, key)
        else:
            sql.execute(UPDATE_CHOICE if before is not None else INSERT_CHOICE, (after, with_evidence, sql.time(utcnow()), *key))
        record_event(
            context,
            recipient.id,
            event_kind(topic, channel),
            topic=None if topic == ANY else topic,
            channel=None if channel == ANY else channel,
            before=before,
            after=after,
            sql=sql,
        )
        written += 1
    if written:  # the mail providers' lists follow a stop of marketing by email (services/provider_sync.py)
        email_stop_changed(sql, recipient.id, recipient.email, recipient.email_hash, stored, targets)
    return written


def _suppressions_to_lift(recipient: RecipientRow, opted_in: dict[str, bool], context: ChangeContext) -> dict[str, str]:
    """hash -> address kind of the suppressions this opt-in lifts (SPEC §2, §11).

    Only with evidence of consent; never a number's SMS stop (only START lifts it); through a link, only
    what `link_may_lift` allows. An opt-in that names a channel whose suppression may not be lifted is
    refused (PrefsError sms_stop or forbidden); resuming all marketing just leaves such a suppression.
    """
    if not opted_in or not has_consent_evidence(context.evidence):
        return {}
    wanted: dict[str, tuple[str, bool]] = {}  # hash -> (kind, named)
    hashes = address_hashes(recipient)
    for channel, named in opted_in.items():
        kind = suppression_kind(channel)
        digest = hashes.get(kind or "")
        if kind and digest:
            wanted[digest] = (kind, wanted.get(digest, (kind, False))[1] or named)
    lifts = {}
    for digest, (source, created_at) in suppression_sources(wanted).items():
        kind, named = wanted[digest]
        if not liftable_by_consent(source):
            refusal = PrefsError("sms_stop", SMS_STOP_MESSAGE)
        elif context.link is not None and not link_may_lift(context.link, recipient, kind, created_at):
            refusal = PrefsError(
                "forbidden",
                "This link cannot switch marketing back on for this address: use the link in a newer message sent to it.",
            )
        else:
            lifts[digest] = kind
            continue
        if named:
            raise refusal
    return lifts


def _lift_suppressions(recipient: RecipientRow, lifts: dict[str, str], context: ChangeContext) -> int:
    lifted = lift_by_consent(lifts)
    for digest in lifted:
        record_event(context, recipient.id, "suppression_lifted", channel=lifts[digest], before=True, after=False)
        if lifts[digest] == "email" and recipient.email:
            suppression_lifted(recipient.id, recipient.pk, recipient.email, digest)
    return len(lifted)


def link_may_lift(link: LinkTarget, recipient: Recipient | RecipientRow, kind: str, suppressed_at: datetime) -> bool:
    """A suppression is the address's, so only a link delivered to that address lifts it: one minted for a
    channel of that address, after the suppression was made, and while the recipient held that address
    (no change of it since the link was signed)."""
    if suppression_kind(link.channel) != kind or link.issued_at is None:
        return False
    if suppressed_at.tzinfo is None:  # SQLite hands back naive datetimes; every stored time is UTC
        suppressed_at = suppressed_at.replace(tzinfo=UTC)
    if link.issued_at < int(suppressed_at.timestamp()):  # link times have whole seconds: the same second counts as after
        return False
    return address_held_since_link(link, recipient, kind)


def address_held_since_link(link: LinkTarget, recipient: Recipient | RecipientRow, field: str) -> bool:
    """Whether the recipient still holds the address (`email` or `phone`) they held when the link was signed:
    no contact change of it since. A link without its signing time cannot tell, so it does not."""
    if link.issued_at is None:
        return False
    since = datetime.fromtimestamp(link.issued_at, UTC)
    contact_changes = db.session.execute(
        select(ConsentEvent.after).where(
            ConsentEvent.recipient_id == recipient.id,
            ConsentEvent.kind.in_(("contact_changed", "imported")),
            ConsentEvent.at >= since,
        )
    ).scalars()
    return not any(isinstance(after, dict) and field in after for after in contact_changes)


def link_evidence_covers(link: LinkTarget | None, channel: str) -> bool:
    """Whether a change's evidence is express consent on `channel` (what the do-not-call list yields to, SPEC
    §17): any evidence the API or staff give; a page's only for the channels reaching the address its link was
    sent to, the one address the visitor showed they read (found in review: an email link's page opted a number
    on the do-not-call list in to calls, past the list)."""
    return link is None or REGISTRY[channel].address == REGISTRY[link.channel].address


def link_may_opt_in(link: LinkTarget, channel: str, recipient: Recipient | RecipientRow) -> bool:
    """Texts are switched on through a link only from a link sent by text, to the number the person still
    holds: it alone shows the holder reads that number (TCPA express consent); a link sent to the number they
    had says nothing of the new one. Other channels from any of the person's links."""
    entry = REGISTRY[channel]
    if not entry.opt_in_by_own_link_only:
        return True
    return link.channel == channel and address_held_since_link(link, recipient, entry.address.field)


def address_hashes(recipient: Recipient | RecipientRow) -> dict[str, str | None]:
    """Suppression kind -> the hash of the recipient's address of that kind."""
    return {address.field: getattr(recipient, f"{address.field}_hash") for address in SUPPRESSIBLE}


def link_opt_in_limits(link: LinkTarget, recipient: Recipient | RecipientRow, state: RecipientState) -> dict[str, str]:
    """channel -> LINK_OTHER_CHANNEL, LINK_CANNOT_LIFT or SMS_STOP where an opt-in through this link is refused,
    or LINK_NO_EXPRESS_CONSENT where it would change nothing: what the preference center locks, from the same
    rules as plan_changes, _suppressions_to_lift and link_evidence_covers."""
    limits = {channel: LINK_OTHER_CHANNEL for channel in CHANNELS if not link_may_opt_in(link, channel, recipient)}
    if state.on_do_not_call_list:
        # An opt-in through this link is stored without evidence, which the list does not yield to: the box
        # would be saved and come back unticked, saying nothing (found in review).
        for channel in DO_NOT_CALL - limits.keys():
            if not link_evidence_covers(link, channel):
                limits[channel] = LINK_NO_EXPRESS_CONSENT
    hashes = address_hashes(recipient)
    sources = suppression_sources(digest for digest in hashes.values() if digest)
    for channel in state.suppressed_channels:
        kind = suppression_kind(channel)
        found = sources.get(hashes.get(kind) or "") if kind is not None else None
        if kind is None or found is None:
            continue
        if not liftable_by_consent(found[0]):
            limits.setdefault(channel, SMS_STOP)
        elif not link_may_lift(link, recipient, kind, found[1]):
            limits.setdefault(channel, LINK_CANNOT_LIFT)
    return limits


def preference_matrix(deps: Deps, recipient: Recipient | RecipientRow, at: datetime | None = None) -> dict[str, Any]:
    """SPEC §4's matrix: every live topic on its channels with the decision and its reason, as of `at` (default
    now: quiet hours and the do-not-call list's age are judged then)."""
    catalogue = deps.catalogue
    moment = at or utcnow()
    state = load_states("recipient_id", [recipient.id]).get(recipient.id) or RecipientState(
        recipient.id, recipient.status, frozenset()
    )
    choices = state.choices
    channels: dict[str, Any] = {}
    for channel in CHANNELS:
        address = REGISTRY[channel].address
        channels[channel] = {
            "address": address.mask(getattr(recipient, address.field)),
            "stopped": choices.get((ANY, channel)) is False,
        }
        if channel in KEYWORD_STOPPED:
            channels[channel]["sms_stop"] = state.sms_stopped
    rules = sorted(
        (rule for rule in catalogue.all().values() if not rule.archived),
        key=lambda rule: (not rule.mandatory, rule.key),
    )
    topics = []
    for rule in rules:
        cells = {}
        for channel in CHANNELS:
            if channel in rule.channels:
                decision = decide(rule, channel, state, at=moment, quiet_hours=deps.quiet_hours)
                cells[channel] = {
                    "allowed": decision.allowed,
                    "reason": decision.reason,
                    "choice": choices.get((rule.key, channel)),
                }
        topics.append(
            {"key": rule.key, "name": rule.name, "description": rule.description, "mandatory": rule.mandatory, "channels": cells}
        )
    return {
        "recipient_id": recipient.id,
        "status": recipient.status,
        "all_marketing": "stopped" if choices.get((ANY, ANY)) is False else "active",
        "channels": channels,
        "topics": topics,
    }
