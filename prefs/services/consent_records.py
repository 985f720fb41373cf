"""Consent records (SPEC §14) in the shape of ISO/IEC TS 27560: one record per (topic, channel) the person ever
opted into or out of, with the notice they saw and every event of that consent.

Read from what is kept already, so there is no second truth to drift: the consent events (an opt-in given,
a double opt-in requested and confirmed, a withdrawal, an import's yes and no cells, a channel or all-marketing
stop and a number's SMS stop, each of which withdraws every consent on its channels until it is lifted, when the
opt-ins still stored count again), the unconfirmed requests that expired, and the notices' immutable versions. Erasure
strips the events and deletes the requests (services/lifecycle.py), so the records of an erased person keep
no IP, user agent or source.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ..decision import ANY
from ..deps import Deps
from ..extensions import db
from ..models import ConsentEvent, Notice, Recipient
from ..tokens import PREFERENCES, LinkTarget
from .subscriptions import clock, requests_of

# ISO/IEC TS 27560 event types.
GIVEN, CONFIRMED, WITHDRAWN, EXPIRED = "given", "confirmed", "withdrawn", "expired"
RECORD_NAMESPACE = uuid.UUID("6f1b7a52-3c1e-4d0e-9a57-27560c0a5e7d")  # record ids: uuid5 of (recipient, topic, channel)
KINDS = ("topic_choice", "channel_stop", "all_marketing", "sms_stop", "imported", "consent_requested", "consent_confirmed")
SMS_STOP_KEY = "sms_stop"  # in `stops`: the number's STOP, which stops texts whatever the choices


def consent_records(deps: Deps, recipient: Recipient, controller: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The person's consent records, by topic then channel. `controller` is the brand's name."""
    moment = now or clock()
    events = db.session.execute(
        select(ConsentEvent)
        .where(ConsentEvent.recipient_id == recipient.id, ConsentEvent.kind.in_(KINDS))
        .order_by(ConsentEvent.id)
    ).scalars()
    records: dict[tuple[str, str], dict[str, Any]] = {}
    opted_in: dict[tuple[str, str], bool] = {}  # each record's own choice, as its events left it
    stops: set[str] = set()  # the stops in force: ANY (all marketing), a channel, SMS_STOP_KEY
    moot: set[tuple[int | None, str, str]] = set()  # (request, topic, channel) asked while that consent stood

    def record_of(topic: str, channel: str) -> dict[str, Any]:
        return records.get((topic, channel)) or records.setdefault(
            (topic, channel), _record(deps, recipient, controller, topic, channel)
        )

    def stopped(channel: str) -> bool:
        return ANY in stops or channel in stops or (channel == "sms" and SMS_STOP_KEY in stops)

    for event in events:
        if event.kind in ("channel_stop", "all_marketing", "sms_stop"):
            stop = SMS_STOP_KEY if event.kind == "sms_stop" else (event.channel or ANY)
            in_force = event.after is True if event.kind == "sms_stop" else event.after is False
            if in_force:  # a stop withdraws every consent on its channels
                stops.add(stop)
                for (_topic, channel), record in records.items():
                    if stop in (ANY, channel) or (stop == SMS_STOP_KEY and channel == "sms"):
                        record["events"].append(_event(WITHDRAWN, event))
            elif stop in stops:  # lifted: the opt-ins still stored count again, unless another stop holds
                stops.discard(stop)
                for (topic, channel), record in records.items():
                    if opted_in.get((topic, channel)) and not stopped(channel):
                        record["events"].append(_event(GIVEN, event))
            continue
        if event.kind == "imported":  # an import's yes and no cells: "topic:channel" -> True or False
            for cell, value in (event.after or {}).items():
                topic, colon, channel = cell.partition(":")
                if colon and type(value) is bool:
                    opted_in[(topic, channel)] = value
                    imported = _event(GIVEN if value else WITHDRAWN, event)
                    imported["source"] = imported["source"] or event.actor_id  # the file's name
                    record_of(topic, channel)["events"].append(imported)
            continue
        if event.topic is None or event.channel is None:
            continue
        record = record_of(event.topic, event.channel)
        if event.kind in ("consent_confirmed", "topic_choice") and event.after is not None:
            opted_in[(event.topic, event.channel)] = event.kind == "consent_confirmed" or event.after is True
        if event.kind == "consent_requested":
            if opted_in.get((event.topic, event.channel)) and not stopped(event.channel):
                # The person's consent stands already: a request (anyone may type an address on a form) neither
                # makes it pending nor, unconfirmed, expires it, nor names its notice (found in review).
                moot.add((_request_id(event), event.topic, event.channel))
                continue
            record["events"].append(_event(GIVEN, event, pending=True))
            _notice(record, event.evidence)
        elif event.kind == "consent_confirmed":
            record["events"].append(_event(CONFIRMED, event))
            _notice(record, event.evidence)
        elif event.after is True:
            if event.via == "confirm_page":
                continue  # the opt-in a confirmation stores: its consent_confirmed event says it
            record["events"].append(_event(GIVEN, event))
            _notice(record, event.evidence)
        elif event.after is False:
            record["events"].append(_event(WITHDRAWN, event))
    for request in requests_of(recipient.id):
        expires_at = _aware(request.expires_at)
        if request.confirmed_at is None and expires_at <= moment:
            for topic in request.topics:
                if (request.id, topic, request.channel) in moot:
                    continue
                expired = records.get((topic, request.channel))
                # A request the cell has moved on from since (an opt-in or out another way) expires unseen: its
                # expiry would else stand as the record's last word (found in review).
                if expired is not None and not _changed_since(expired["events"], _aware(request.requested_at)):
                    expired["events"].append(_expired(expires_at, request.evidence))
    finished = []
    for key in sorted(records):
        record = records[key]
        # In the order they happened here, the state from the last: an opt-in's `at` is when the consent was
        # collected, which may be earlier than a withdrawal recorded before it (found in review: the record
        # said withdrawn while the opt-in stood).
        record["events"].sort(key=lambda item: item["recorded"])
        record["state"] = _state(record["events"])
        for item in record["events"]:
            item.pop("pending", None)
            item.pop("recorded")
        finished.append(record)
    return finished


def _request_id(event: ConsentEvent) -> int | None:
    request = event.after.get("request") if isinstance(event.after, dict) else None
    return request if type(request) is int else None


def _changed_since(events: list[dict[str, Any]], moment: datetime) -> bool:
    return any(item["recorded"][0] > moment and not item.get("pending") for item in events)


def _record(deps: Deps, recipient: Recipient, controller: str, topic: str, channel: str) -> dict[str, Any]:
    rule = deps.catalogue.get(topic)
    country = (recipient.postal_address or {}).get("country") if isinstance(recipient.postal_address, Mapping) else None
    withdrawal = f"{deps.base_url}/p/{deps.signer.sign(PREFERENCES, LinkTarget(recipient.id, channel))}"
    return {
        "record_id": str(uuid.uuid5(RECORD_NAMESPACE, f"{recipient.pk}/{topic}/{channel}")),
        "pii_principal_id": recipient.id,
        "controller": controller,
        "purpose": topic,
        "purpose_name": rule.name if rule else topic,
        "channel": channel,
        "state": None,
        "notice": None,
        "language": recipient.locale,
        "jurisdiction": country or None,
        "withdrawal_method": withdrawal,
        "events": [],
    }


def _notice(record: dict[str, Any], evidence: Mapping[str, Any] | None) -> None:
    """The notice the latest consent named, as the version current when it was collected."""
    if not evidence or not evidence.get("notice") or evidence.get("notice_version") is None:
        return
    notice = db.session.execute(
        select(Notice).where(Notice.key == str(evidence["notice"]), Notice.version == int(evidence["notice_version"]))
    ).scalar()
    if notice is None:
        return
    record["notice"] = {"key": notice.key, "version": notice.version, "text": notice.text, "language": notice.language}
    if notice.language:
        record["language"] = notice.language


def _event(type_: str, event: ConsentEvent, pending: bool = False) -> dict[str, Any]:
    evidence = event.evidence or {}
    at, ip, user_agent = _aware(event.at).isoformat(), evidence.get("ip"), evidence.get("user_agent")
    if type_ == CONFIRMED:
        at = evidence.get("confirmed_at") or at
        ip, user_agent = evidence.get("confirmation_ip"), evidence.get("confirmation_user_agent")
    elif type_ == GIVEN and evidence.get("collected_at"):
        at = _iso(evidence["collected_at"]) or at
    return {
        "at": at,
        "type": type_,
        "method": event.via,
        "source": evidence.get("source"),
        "ip": ip,
        "user_agent": user_agent,
        "actor": event.actor,
        "event_id": event.id,
        "pending": pending,
        "recorded": (_aware(event.at), event.id),  # the order of the record (not shown)
    }


def _expired(expires_at: datetime, evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    source = (evidence or {}).get("source")
    return {"at": expires_at.isoformat(), "type": EXPIRED, "method": "not_confirmed", "source": source, "ip": None,
            "user_agent": None, "actor": "system", "event_id": None, "recorded": (expires_at, 0)}  # fmt: skip


def _state(events: list[dict[str, Any]]) -> str:
    """active (given or confirmed), pending (a double opt-in waiting), withdrawn or expired: the last event's."""
    if not events:
        return WITHDRAWN
    last = events[-1]
    if last["type"] == GIVEN and last.get("pending"):
        return "pending"
    return {GIVEN: "active", CONFIRMED: "active"}.get(last["type"], last["type"])


def _iso(value: Any) -> str | None:
    try:
        return _aware(datetime.fromisoformat(str(value))).isoformat()
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
