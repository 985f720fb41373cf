"""Plain-language texts that revoke consent (FCC 24-24: "any reasonable means"), in English and Spanish.

Pure: plain Python, no Flask, no database. services/sms.py's classify() states the rule and applies it; this
module holds the tables it reads. Every table works on normalised text (see `clauses`): lower case, accents
and apostrophes gone ("déjenme" is "dejenme", "don't" is "dont"), every other mark or emoji a space, and the
message cut into clauses at sentence punctuation, so "No, stop texting me" is two clauses, "no" and "stop
texting me". To teach it a new phrase, add a row to STOP_PHRASES (or a word to a word list) and a line to
the table in tests/test_sms_plain_language.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CLAUSE_BREAK = re.compile(r"[.,;:!?¡¿\n\r\t()\[\]{}\"“”«»|/]+")
APOSTROPHES = re.compile(r"['’‘`´ʼ]")  # dropped, not spaced: "don't" -> "dont"
NOT_A_WORD = re.compile(r"[^\w]+|_")
SIGNS = {"🛑": " stop "}  # a stop sign sent alone means what it shows


@dataclass(frozen=True)
class Phrase:
    name: str  # kept in the audit trail (via plain_language:NAME): say what the phrase is
    language: str  # en, es
    pattern: re.Pattern[str]


def clauses(body: str) -> list[str]:
    """The message as normalised clauses, empty ones dropped."""
    text = unicodedata.normalize("NFKC", body)
    for sign, words in SIGNS.items():
        text = text.replace(sign, words)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))
    text = APOSTROPHES.sub("", text)
    parts = (" ".join(NOT_A_WORD.sub(" ", part).split()) for part in CLAUSE_BREAK.split(text))
    return [part for part in parts if part]


def _words(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


# --- Words said around a request that change nothing: "please stop", "stop now thanks", "alto por favor".
FILLER = re.compile(
    r"^(?:(?:please|pls|plz|plse|kindly|just|now|right now|already|asap|immediately|again|thanks|thank you|thx|ty|"
    r"ok|okay|hi|hello|hey|sir|maam|sorry|i said|i want to|i wish to|i would like to|id like to|i need to|"
    r"can you|could you|would you|will you|can u|could u|you can|u can|"
    r"por favor|porfa|porfavor|favor|ya|gracias|muchas gracias|ahora|ahora mismo|hola|oye|senor|senora|"
    r"de una vez|inmediatamente|quiero|quisiera|deseo)\b\s*)+"
)
FILLER_AT_END = re.compile(
    r"(?:\s*\b(?:please|pls|plz|plse|now|right now|already|asap|immediately|again|thanks|thank you|thx|ty|ok|okay|"
    r"it|that|por favor|porfa|porfavor|favor|ya|gracias|muchas gracias|ahora|ahora mismo|de una vez|inmediatamente))+$"
)

# --- A clause made only of these words (fillers aside) stops, as the keywords of §6 do: "stop please",
# "ALTO por favor", "stop stop stop". English ones are services/sms.py's STOP_WORDS.
SPANISH_STOP_WORDS = frozenset(
    {
        "ALTO",
        "PARA",  # "¡Para!" alone; in a sentence "para" is mostly "for", so only "para de enviarme…" reads as a stop
        "PARAR",
        "PARE",
        "PAREN",
        "BASTA",
        "CANCELAR",
        "CANCELA",
        "CANCELE",
        "CANCELEN",
        "BAJA",
        "DETENER",
        "DETENTE",
        "DETENGAN",
        "ANULAR",
        "DESUSCRIBIR",
        "DESUSCRIBIRME",
        "DESUSCRIBIRSE",
        "NOMAS",  # "no más"
        "YANO",  # "ya no"
        "YABASTA",
    }
)

# --- Negations: a clause that says NOT to stop ("don't stop", "never stop sending deals", "no me den de baja")
# is never a stop. A negating word, then only words from a short list, then a word about stopping; the short
# list keeps "no more texts, stop" and "not interested stop" from reading as negated.
_STOPPING_EN = _words(
    "stop", "stopping", "unsubscribe", "unsub", "unsubscribed", "cancel", "canceling", "cancelling", "opt", "remove",
    "quit", "revoke",
)  # fmt: skip
_BETWEEN_EN = _words(
    "want", "wanna", "need", "you", "u", "ya", "to", "me", "please", "pls", "ever", "mean", "meant", "ask", "asked",
    "say", "said", "tell", "told", "gonna", "going", "try", "trying", "it", "yet", "i", "we", "just", "really", "even",
)  # fmt: skip
_STOPPING_ES = _words(
    "parar", "paren", "pares", "pare", "detener", "detengan", "detengas", "deten", "cancelar", "cancelen", "canceles",
    "cancele", "cancela", "anular", "anulen", "baja", r"dej(?:a|e|en|es) de", r"desuscrib\w*", "stop", "eliminar",
    "eliminen", "borrar", "borren", "quitar", "quiten",
)  # fmt: skip
_BETWEEN_ES = _words(
    "me", "nos", "te", "se", "lo", "la", "los", "las", "quiero", "quiere", "queremos", "deseo", "necesito", "vayan",
    "vayas", "vaya", "a", "de", "dar", "darme", "darse", "den", "des", "por", "favor", "hagan", "hagas", "haga", "vas",
    "van", "voy", "es", "era", "queria", "pidas", "pidan", "pedi",
)  # fmt: skip
# "why don't you stop texting me" and "you never stop texting me" complain about the texts: not negations.
_NOT_A_COMPLAINT = r"(?<!why )(?<!you )(?<!u )(?<!they )"
NEGATIONS = (
    re.compile(
        rf"{_NOT_A_COMPLAINT}\b{_words('dont', 'do not', 'didnt', 'did not', 'never', 'not')}(?: {_BETWEEN_EN})* {_STOPPING_EN}\b"
    ),
    re.compile(rf"\bno(?: {_words('need', 'to')})* {_STOPPING_EN}\b"),
    re.compile(rf"\bno(?: {_BETWEEN_ES})* {_STOPPING_ES}\b"),
)

# --- Clear requests to stop: a clause that contains one of these, and no negation, stops texts.
_TEXTS_EN = _words(
    r"texts?", r"txts?", r"messages?", r"msgs?", "sms", "spam", r"alerts?", r"notifications?", r"promos?",
    r"promotions?", r"offers?", r"deals?", "marketing", "subscription", "mailing list",
)  # fmt: skip
_TEXTS_ES = _words(
    r"mensajes?", r"textos?", "sms", "publicidad", "promociones", "ofertas", "alertas", "notificaciones", "spam",
    "suscripcion", "subscripcion",
)  # fmt: skip
_FROM_ES = (
    r"(?:(?:la|las|los|el|tu|tus|su|sus|esta|este|estos|estas)\s)*(?:lista|base|sistema|registro|contactos|mensajes|envios)"
)
_SEND_ES = _words(
    "enviar", "envie", "envien", "envies", "enviarme", "mandar", "mande", "manden", "mandes", "mandarme", "escribir",
    "escriba", "escriban", "escribas", "escribirme", "textear", "texteen",
)  # fmt: skip


def _phrase(name: str, language: str, pattern: str, whole_clause: bool = False) -> Phrase:
    return Phrase(name, language, re.compile(f"^(?:{pattern})$" if whole_clause else rf"\b(?:{pattern})\b"))


STOP_PHRASES: tuple[Phrase, ...] = (
    # English
    _phrase(
        "stop-texting",
        "en",
        r"(?:stop|quit|cease) (?:(?:texting|txting|texing|messaging|msging|contacting|spamming|bugging|bothering|"
        r"harassing|pestering)(?! (?:you|u)\b)|sending)",
    ),
    _phrase(
        "stop-the-texts",
        "en",
        rf"(?:stop|end|cancel|quit|unsubscribe (?:me )?from|opt (?:me )?out of) (?:(?:all|the|these|those|this|your|ur|"
        rf"my|any|of|such|more|text|sms|promotional|marketing)\s)*{_TEXTS_EN}",
    ),
    _phrase("no-more-texts", "en", rf"no (?:more|further)(?: of)?(?: (?:these|those|your|ur|the))?(?: \w+)? {_TEXTS_EN}"),
    _phrase("no-more", "en", r"no more", whole_clause=True),
    _phrase(
        "dont-text-me",
        "en",
        r"(?:dont|do not|never) (?:ever )?(?:text|txt|message|msg|sms|contact|spam|bother) (?:me|us|this number|my number)",
    ),
    _phrase(
        "dont-send-texts",
        "en",
        rf"(?:dont|do not|never) (?:ever )?send (?:(?:me|us|this number|my number|any|more|these|those|your|ur|the|such|"
        rf"promotional|marketing|of)\s)*{_TEXTS_EN}",
    ),
    _phrase(
        "dont-want-texts",
        "en",
        rf"(?:dont|do not|no longer|never) (?:want|wish|need|like) (?:to (?:receive|get) )?"
        rf"(?:(?:any|these|those|your|ur|more|the|this|such|anymore|promotional|marketing)\s)*{_TEXTS_EN}",
    ),
    _phrase("unsubscribe", "en", r"unsubscribe|unsubscribed|unsub|unsuscribe|unsubcribe|unsubscibe|unsubscribing"),
    _phrase("opt-out", "en", r"opt(?: me)? ?out|opting out"),
    _phrase("revoke-consent", "en", r"revoke|withdraw (?:my )?consent"),
    _phrase(
        "remove-me", "en", r"(?:remove|delete|drop|erase) (?:me|my (?:number|phone number|phone|cell number|cell|info|details))"
    ),
    _phrase("take-me-off", "en", r"(?:take|get) (?:me|my (?:number|phone number|phone|cell|info)) off"),
    _phrase("lose-my-number", "en", r"lose my number"),
    _phrase("leave-me-alone", "en", r"leave me alone|let me be"),
    _phrase("go-away", "en", r"(?:fuck|f|piss|bugger|sod|buzz) off"),
    _phrase("go-away", "en", r"go away|get lost|back off|enough|enough already", whole_clause=True),
    _phrase("wrong-number", "en", r"wrong (?:number|person|phone)"),
    _phrase("not-interested", "en", r"no longer interested"),
    _phrase("not-interested", "en", r"(?:im |i am )?not interested", whole_clause=True),
    # Spanish
    _phrase(
        "no-enviar",
        "es",
        rf"no (?:me |nos )?(?:sigan |sigas |siga |vuelvan a |vuelvas a |vuelva a )?{_SEND_ES}\b.*\b(?:mas|nada|{_TEXTS_ES})",
    ),
    _phrase("no-molestar", "es", r"no (?:me |nos )?(?:molest|contact)(?:e|en|es|ar)"),
    _phrase("no-mas-mensajes", "es", rf"(?:no|ya no|nada) mas (?:\w+ )?{_TEXTS_ES}"),
    _phrase(
        "no-quiero-mensajes",
        "es",
        rf"no (?:quiero|deseo|queremos|necesito) (?:recibir |seguir recibiendo )?"
        rf"(?:(?:mas|estos|estas|sus|tus|los|las|ningun|ninguna)\s)*{_TEXTS_ES}",
    ),
    _phrase(
        "dejen-de-enviar",
        "es",
        r"(?:dej|par)(?:a|e|en|ar|es) de (?:enviar|mandar|escribir|textear|contactar|molestar|fastidiar)\w*",
    ),
    _phrase("dejenme-en-paz", "es", r"dej(?:a|e|en)(?:me|nos) (?:en paz|tranquil[oa]s?)"),
    _phrase("darme-de-baja", "es", r"(?:dar|darme|darse|denme|dame|deme|me doy|doy|dio|dieron|den) de baja"),
    _phrase("darme-de-baja", "es", r"(?:quiero|solicito|pido|deseo) (?:la |mi )?baja"),
    _phrase(
        "cancelar-suscripcion",
        "es",
        rf"(?:cancelar|cancela|cancele|cancelen|anular|anula|anulen|desactivar|desactiven|detener|detengan|deten|"
        rf"detenga|parar|paren|pare) (?:(?:mi|la|las|los|el|sus|tus|estos|estas|todos|todas)\s)*{_TEXTS_ES}",
    ),
    # "bórrenme"; "quítenme" and "sácame" only with what from ("quítame la duda" is "clear my doubt")
    _phrase("quitenme", "es", r"(?:borr|elimin|remuev)(?:a|e|en|ar)(?:me|nos)"),
    _phrase("quitenme", "es", rf"(?:quit|saqu|sac)(?:a|e|en|ar)(?:me|nos) de {_FROM_ES}"),
    _phrase("quitenme", "es", r"(?:quit|borr|elimin|saqu|sac)(?:a|e|en|ar) (?:mi|este) (?:numero|telefono|celular|contacto)"),
    _phrase("numero-equivocado", "es", r"numero equivocado|se equivocaron de numero"),
    _phrase("no-me-interesa", "es", r"no me interesa|no estoy interesad[oa]|ya no me interesa", whole_clause=True),
)

# --- Words that hint at stopping: a text with one that is not a clear request gets the how-to-stop answer.
_HINTS_ES = _words(
    "parar", "paren", "pares", "pare", r"deten\w*", "cancelar", "cancela", "cancele", "cancelen", "cancelacion", "baja",
    "basta", r"dej\w+ de", r"molest\w*", r"bloque\w*", "no gracias", "no me interesa", r"desuscrib\w*", "eliminar", "quitar",
)  # fmt: skip
_HINTS_EN = _words(
    r"stop\w*", "cancel", "canceled", "cancelled", "canceling", "cancelling", "cancellation", "quit", "remove", r"block\w*",
    r"spam\w*", r"harass\w*", "annoying", "no thanks", "no thank you", "not interested",
)  # fmt: skip
HINTS = (Phrase("hint", "es", re.compile(rf"\b{_HINTS_ES}\b")), Phrase("hint", "en", re.compile(rf"\b{_HINTS_EN}\b")))


def strip_fillers(clause: str) -> str:
    return FILLER_AT_END.sub("", FILLER.sub("", clause)).strip()


def negated(clause: str) -> bool:
    return any(pattern.search(clause) for pattern in NEGATIONS)


def stop_phrase(clause: str) -> Phrase | None:
    return next((phrase for phrase in STOP_PHRASES if phrase.pattern.search(clause)), None)


def hint(text: str) -> Phrase | None:
    return next((phrase for phrase in HINTS if phrase.pattern.search(text)), None)
