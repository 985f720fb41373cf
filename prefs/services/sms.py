"""Texts to the SMS number: STOP stops every text to that number, START lifts it, HELP answers with the rules,
and plain-language requests ("please stop texting me", "no más mensajes") stop texts like STOP (FCC 24-24).

Carriers and the TCPA require that every text stops on STOP, service and billing texts included; those
messages then go by another channel. The stop belongs to the number, not the person (SPEC §2). Each text
gets at most one reply (SPEC §6, §17).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..languages import DEFAULT, match, translations
from ..models import InboundText, Recipient, utcnow
from ..suppression import AddressHasher
from . import sms_phrases
from .events import Actor, ChangeContext, record_event
from .recipients import lock_recipient
from .suppressions import SMS_STOP, announce, lift_by_start, stop_number, suppression_sources

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


@dataclass(frozen=True)
class Keyword:
    """What a text asks for."""

    action: str  # stop, start, help, or unclear (it may be about stopping: answered with how to stop)
    word: str  # the keyword as normalised (OPTOUT), or the plain-language phrase's name (stop-texting)
    language: str = "en"  # the language the text is written in, as far as it tells: en or es
    plain: bool = False  # plain language rather than a keyword of SPEC §6

    @property
    def via(self) -> str:
        """How the audit trail names it: keyword:STOP, plain_language:no-more-texts."""
        return f"plain_language:{self.word}" if self.plain else f"keyword:{self.word}"


def _compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum()).upper()


def classify(body: str) -> Keyword | None:
    """What a text asks for, or None when it is not for us. A pure function: the rule of SPEC §6 and §17.

    1. A text that is exactly a keyword, ignoring case, spaces, punctuation and emoji ("Stop!", "opt out",
       full-width letters), is that keyword: STOP and its synonyms, START, HELP. So "STOP?" stops: a missed
       stop costs far more than an unwanted one, whose confirmation says how to undo it (START). The
       single Spanish words CANCELAR, ALTO, PARAR, BAJA, BASTA… stop the same way.
    2. Otherwise the text is read clause by clause (cut at sentence punctuation), blind to case and accents.
       If a clause says NOT to stop ("don't stop", "never stop sending deals", "no, don't unsubscribe me",
       "no me den de baja"), the text is unclear and stops nothing, whatever else it says.
    3. Else, if a clause is a clear request to stop, it stops texts as STOP does: a clause of stop words and
       polite filler only ("stop please", "alto por favor"), or one holding a stop phrase in English or
       Spanish ("please stop texting me", "no more texts", "unsubscribe me", "remove me", "leave me alone",
       "wrong number", "no me envíen más mensajes", "déjenme en paz", "quiero darme de baja").
    4. Else, if the text mentions stopping without asking for it ("stop by the store later?", "can you stop
       by?", "cancel my appointment", "no thanks", "spam"), it is unclear: one reply saying how to stop
       (Reply STOP), nothing changed.
    5. Anything else ("thanks!", "what time do you open") is None: no reply, as before. Telling everyone
       who writes how to stop would be noise, and might answer a conversation meant for a person.
    Plain language never starts texts again: only the START keyword lifts a stop. The tables of phrases
    are in services/sms_phrases.py.
    """
    word = _compact(body)
    for action, words in (("stop", STOP_WORDS), ("start", START_WORDS), ("help", HELP_WORDS)):
        if word in words:
            return Keyword(action, word)
    if word in sms_phrases.SPANISH_STOP_WORDS:
        return Keyword("stop", word, "es", plain=True)
    clauses = sms_phrases.clauses(body)
    if any(sms_phrases.negated(clause) for clause in clauses):
        return Keyword("unclear", "negated", _language_of(clauses), plain=True)
    for clause in clauses:
        stop = _stop_words_only(clause) or _stop_phrase(clause)
        if stop is not None:
            return stop
    hint = sms_phrases.hint(" ".join(clauses))
    return Keyword("unclear", "mentions-stopping", hint.language, plain=True) if hint else None


def _stop_words_only(clause: str) -> Keyword | None:
    """Stop words and filler, nothing else: "stop please", "ALTO por favor", "stop stop stop", "ya no"."""
    for candidate in (clause, sms_phrases.strip_fillers(clause)):
        whole = _compact(candidate)  # "opt out" is OPTOUT, "ya no" YANO
        words = [whole] if _stop_word(whole) else [_compact(part) for part in candidate.split()]
        if words and all(_stop_word(word) for word in words):
            return Keyword("stop", words[0], "es" if words[0] in sms_phrases.SPANISH_STOP_WORDS else "en", plain=True)
    return None


def _stop_word(word: str) -> bool:
    return word in STOP_WORDS or word in sms_phrases.SPANISH_STOP_WORDS


def _stop_phrase(clause: str) -> Keyword | None:
    phrase = sms_phrases.stop_phrase(clause) or sms_phrases.stop_phrase(sms_phrases.strip_fillers(clause))
    return Keyword("stop", phrase.name, phrase.language, plain=True) if phrase else None


def _language_of(clauses: list[str]) -> str:
    hint = sms_phrases.hint(" ".join(clauses))
    return hint.language if hint else "en"


def N_(message: str) -> str:
    """Marks a message for `pybabel extract` (babel.cfg); translated when a reply is written."""
    return message


# Whole sentences (CTIA wording in English), no marketing in any. The keywords STOP, START and HELP stay in
# English in every language: they are what carriers and services/sms.py's classify() answer to. Translations
# live in the recipient pages' catalogues (prefs/translations, README "Languages").
REPLIES = {
    "stop": N_("%(program)s: You are unsubscribed and will get no more texts from us. Reply START to resubscribe."),
    "start": N_(
        "%(program)s: You are resubscribed. Msg frequency varies. Msg&data rates may apply. Reply HELP for help, STOP to cancel."
    ),
    "help": N_(
        "%(program)s: For help contact %(support)s. Msg frequency varies. Msg&data rates may apply. Reply STOP to cancel."
    ),
    "unclear": N_("%(program)s: Reply STOP to unsubscribe from our texts. Reply HELP for help."),
}
SUPPORT_FALLBACK = N_("our support team")


def reply_text(action: str, program: str, support: str | None, language: str = "en") -> str:
    """The one reply to a text (CTIA wording) in one of the pages' languages (prefs/languages.py): no marketing
    in it. `support` empty names the support team."""
    catalogue = translations(match(language) or DEFAULT)
    return catalogue.gettext(REPLIES[action]) % {"program": program, "support": support or catalogue.gettext(SUPPORT_FALLBACK)}


def reply_language(locale: str | None, written_in: str) -> str:
    """The language of the holder's stored locale when it is one of ours (prefs/languages.py: `es-MX` is
    Spanish, `pt` Brazilian Portuguese), English for any other locale; with no locale to go by, the language
    the text was written in (en or es)."""
    if locale:
        return match(locale) or DEFAULT
    return written_in


def respond(
    address_hash: AddressHasher, keyword: Keyword, phone: str, program: str, support: str | None, message_sid: str | None = None
) -> str | None:
    """Act on a text from `phone` (E.164) and return the one reply to send, or None for none.

    An unclear text from a number that has already stopped gets no reply: after a stop the number hears
    from us only when it texts a keyword. The reply's language follows reply_language, with the locale of
    the number's holder. A text whose `message_sid` came before is neither acted on nor answered again (found
    in review: a START replayed after a later STOP lifted it; a STOP retried was confirmed twice).
    """
    if message_sid is not None and not first_arrival(message_sid):
        return None
    if keyword.action == "unclear":
        digest = address_hash("phone", phone)
        if suppression_sources([digest]).get(digest, (None,))[0] == SMS_STOP:
            return None
    else:
        apply_keyword(address_hash, keyword, phone)
    locale = db.session.execute(select(Recipient.locale).where(Recipient.phone == phone)).scalar_one_or_none()
    return reply_text(keyword.action, program, support, reply_language(locale, keyword.language))


def first_arrival(message_sid: str) -> bool:
    """Remember the provider's id of a text; False when it was remembered already. In the transaction of what
    the text does: a concurrent copy waits for it on the key and then finds it."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = db.session.execute(
        insert(InboundText)
        .values(message_sid=message_sid, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(InboundText.message_sid)
    ).first()
    return added is not None


def apply_keyword(address_hash: AddressHasher, keyword: Keyword, phone: str) -> None:
    """Apply a stop (keyword or plain language) or START from `phone` (E.164). HELP and unclear texts change
    nothing.

    The stop is kept on the number (services/suppressions.py), whoever holds it now or later; the holder,
    if any, gets the event.
    """
    if keyword.action not in ("stop", "start"):
        return
    context = ChangeContext(Actor("sms", None, keyword.via))
    recipient_id = db.session.execute(select(Recipient.id).where(Recipient.phone == phone)).scalar_one_or_none()
    recipient = lock_recipient(recipient_id) if recipient_id else None
    if recipient is not None and recipient.phone != phone:  # the number moved while we waited for the lock
        recipient = None
    if keyword.action == "stop":
        if stop_number(address_hash, phone) and recipient is not None:
            record_event(context, recipient.id, "sms_stop", channel="sms", before=False, after=True)
        return
    lifted = lift_by_start(address_hash, phone)
    if lifted is None:
        return
    if recipient is None or lifted == SMS_STOP:  # otherwise the holder's suppression_lifted event tells webhooks
        announce("suppression.removed", address_hash("phone", phone), "phone", lifted)
    if recipient is None:
        return
    if lifted == SMS_STOP:
        record_event(context, recipient.id, "sms_stop", channel="sms", before=True, after=False)
    else:  # START is the person's own opt-in from that number, so it lifts any suppression of it
        record_event(context, recipient.id, "suppression_lifted", channel="phone", before=True, after=False)
