"""Texted keywords: STOP stops every text to that number, START lifts it, HELP answers with the rules.

Carriers and the TCPA require that every text stops on STOP, service and billing texts included; those
messages then go by another channel. The stop belongs to the number, not the person (SPEC §2).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Recipient
from ..suppression import AddressHasher
from .events import Actor, ChangeContext, record_event
from .recipients import lock_recipient
from .suppressions import SMS_STOP, lift_by_start, stop_number

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


def apply_keyword(address_hash: AddressHasher, keyword: Keyword, phone: str) -> None:
    """Apply STOP or START from `phone` (E.164). HELP changes nothing.

    The stop is kept on the number (services/suppressions.py), whoever holds it now or later; the holder,
    if any, gets the event.
    """
    if keyword.action == "help":
        return
    context = ChangeContext(Actor("sms", None, f"keyword:{keyword.word}"))
    recipient_id = db.session.execute(select(Recipient.id).where(Recipient.phone == phone)).scalar_one_or_none()
    recipient = lock_recipient(recipient_id) if recipient_id else None
    if recipient is not None and recipient.phone != phone:  # the number moved while we waited for the lock
        recipient = None
    if keyword.action == "stop":
        if stop_number(address_hash, phone) and recipient is not None:
            record_event(context, recipient.id, "sms_stop", channel="sms", before=False, after=True)
        return
    lifted = lift_by_start(address_hash, phone)
    if lifted is None or recipient is None:
        return
    if lifted == SMS_STOP:
        record_event(context, recipient.id, "sms_stop", channel="sms", before=True, after=False)
    else:  # START is the person's own opt-in from that number, so it lifts any suppression of it
        record_event(context, recipient.id, "suppression_lifted", channel="phone", before=True, after=False)
