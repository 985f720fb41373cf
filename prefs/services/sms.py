"""Texted keywords: STOP stops every text to that number, START lifts it, HELP answers with the rules.

Carriers and the TCPA require that every text stops on STOP, service and billing texts included; those
messages then go by another channel. The stop belongs to the number, not the person (SPEC §2).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Recipient, utcnow
from ..runtime import runtime
from .events import Actor, ChangeContext, record_event
from .recipients import lock_recipient
from .suppressions import lift, suppress

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


@dataclass(frozen=True)
class Keyword:
    action: str  # stop, start, help
    word: str  # as normalised, e.g. OPTOUT


def classify(body: str) -> Keyword | None:
    """The keyword a text is, ignoring case, spaces and punctuation ("opt out", "Stop!", full-width
    letters); None for anything else."""
    word = "".join(ch for ch in unicodedata.normalize("NFKC", body) if ch.isalnum()).upper()
    for action, words in (("stop", STOP_WORDS), ("start", START_WORDS), ("help", HELP_WORDS)):
        if word in words:
            return Keyword(action, word)
    return None


def reply_text(action: str, program: str, support: str) -> str:
    """The one reply per keyword (CTIA wording): no marketing in it."""
    if action == "stop":
        return f"{program}: You are unsubscribed and will get no more texts from us. Reply START to resubscribe."
    if action == "start":
        return f"{program}: You are resubscribed. Msg frequency varies. Msg&data rates may apply. Reply HELP for help, STOP to cancel."
    return f"{program}: For help contact {support}. Msg frequency varies. Msg&data rates may apply. Reply STOP to cancel."


def apply_keyword(keyword: Keyword, phone: str) -> None:
    """Apply STOP or START from `phone` (E.164). HELP changes nothing."""
    if keyword.action == "help":
        return
    context = ChangeContext(Actor("sms", None, f"keyword:{keyword.word}"))
    recipient_id = db.session.execute(select(Recipient.id).where(Recipient.phone == phone)).scalar_one_or_none()
    recipient = lock_recipient(recipient_id) if recipient_id else None
    if recipient is not None and recipient.phone != phone:  # the number moved while we waited for the lock
        recipient = None
    if keyword.action == "stop":
        if recipient is None:
            suppress("phone", phone, "sms_stop")  # nobody has this number: remember it anyway
        elif recipient.sms_stopped_at is None:
            _set_sms_stop(recipient.pk, stopped=True)
            record_event(context, recipient.id, "sms_stop", channel="sms", before=False, after=True)
        return
    if recipient is not None and recipient.sms_stopped_at is not None:
        _set_sms_stop(recipient.pk, stopped=False)
        record_event(context, recipient.id, "sms_stop", channel="sms", before=True, after=False)
    # START is the person's own opt-in from that number, so it lifts the number's suppression too.
    if lift([runtime().address_hash("phone", phone)]) and recipient is not None:
        record_event(context, recipient.id, "suppression_lifted", channel="phone", before=True, after=False)


def _set_sms_stop(recipient_pk: int, stopped: bool) -> None:
    db.session.execute(update(Recipient).where(Recipient.pk == recipient_pk).values(sms_stopped_at=utcnow() if stopped else None, updated_at=utcnow()))
