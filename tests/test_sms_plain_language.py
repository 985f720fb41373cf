"""Plain-language revocation by text (issue 16, acceptance 4; SPEC §17 "any reasonable means", FCC 24-24)."""

from __future__ import annotations

import pytest
from test_sms import PHONE, replies, text

from prefs.services.sms import classify, reply_language

STOPPED = ("unsubscribed", "START")  # what the one stop confirmation says
SPANISH_STOPPED = ("Se ha dado de baja", "START")
HOW_TO_STOP = "Reply STOP to unsubscribe"

# (text, what classify makes of it: stop / unclear / None, the language a stop is written in)
CLASSIFIED = [
    # English requests
    ("Please stop texting me", "stop", "en"),
    ("please stop texting me", "stop", "en"),
    ("no more texts!!", "stop", "en"),
    ("No more texts", "stop", "en"),
    ("Unsubscribe me", "stop", "en"),
    ("unsubscribe me", "stop", "en"),
    ("remove me", "stop", "en"),
    ("Remove me from your list please", "stop", "en"),
    ("leave me alone", "stop", "en"),
    ("LEAVE ME ALONE 😡", "stop", "en"),
    ("Stop please", "stop", "en"),
    ("stop it!!!", "stop", "en"),
    ("STOP STOP STOP", "stop", "en"),
    ("STOP?", "stop", "en"),
    ("🛑", "stop", "en"),
    ("No, stop texting me", "stop", "en"),
    ("Why don't you stop texting me", "stop", "en"),
    ("I don't want these texts anymore", "stop", "en"),
    ("Don’t text me again", "stop", "en"),
    ("Do not send me any more texts", "stop", "en"),  # this and the next two: found by this round's review
    ("Don't send me texts anymore", "stop", "en"),
    ("please don't send any more messages", "stop", "en"),
    ("take me off your list", "stop", "en"),
    ("opt me out", "stop", "en"),
    ("wrong number", "stop", "en"),
    ("not interested", "stop", "en"),
    ("how do I unsubscribe?", "stop", "en"),
    # Spanish requests
    ("por favor no me envíen más mensajes", "stop", "es"),
    ("POR FAVOR NO ME ENVIEN MAS MENSAJES", "stop", "es"),
    ("no más mensajes", "stop", "es"),
    ("No mas mensajes 🙏", "stop", "es"),
    ("déjenme en paz", "stop", "es"),
    ("quiero darme de baja", "stop", "es"),
    ("cancelar", "stop", "es"),
    ("Alto", "stop", "es"),
    ("¡Parar!", "stop", "es"),
    ("alto por favor", "stop", "es"),
    ("dejen de enviarme mensajes", "stop", "es"),
    ("No me molesten", "stop", "es"),
    ("Quítenme de la lista", "stop", "es"),
    ("no quiero recibir más mensajes", "stop", "es"),
    ("número equivocado", "stop", "es"),
    # Unclear: mentions stopping without asking for it, or says not to stop
    ("stop by the store later?", "unclear", None),
    ("can you stop by?", "unclear", None),
    ("don't stop", "unclear", None),
    ("never stop sending deals", "unclear", None),
    ("no, don't unsubscribe me", "unclear", None),
    ("I didn't unsubscribe", "unclear", None),
    ("cancel my appointment", "unclear", None),
    ("no thanks", "unclear", None),
    ("no quiero darme de baja", "unclear", None),
    ("no pares", "unclear", None),
    ("por favor no me den de baja", "unclear", None),
    # Not about stopping at all
    ("thanks!", None, None),
    ("what time do you open", None, None),
    ("hello", None, None),
    ("es para mí", None, None),
    ("quítame la duda: ¿abren el domingo?", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("body", "action", "language"), CLASSIFIED)
def test_the_classifier_reads_plain_language_in_english_and_spanish(body, action, language):
    keyword = classify(body)
    assert (keyword.action if keyword else None) == action
    if action == "stop":
        assert keyword is not None and keyword.language == language


def test_plain_language_never_starts_texts_again(api, client, person):
    text(client, "please stop texting me")
    for body in ("please start texting me again", "yes please", "sí, quiero mensajes otra vez"):
        assert replies(text(client, body)) == []
        assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"


@pytest.mark.parametrize(
    "body", ["Please stop texting me", "no more texts!!", "Unsubscribe me", "por favor no me envíen más mensajes"]
)
def test_a_plain_language_request_stops_texts_with_one_confirmation(api, client, newsletter, person, body):
    api.patch("/recipients/cust-1/preferences", {"changes": [{"topic": "newsletter", "channel": "sms", "subscribed": True}]})
    messages = replies(text(client, body))
    confirmation = SPANISH_STOPPED if "mensajes" in body else STOPPED  # nobody's locale known: the text's language
    assert len(messages) == 1 and all(part in messages[0] for part in confirmation)
    for topic in ("billing", "newsletter"):
        assert api.check(topic, "sms", recipient_id="cust-1")["reason"] == "sms_stop"
        assert api.check(topic, "sms", phone=PHONE)["reason"] == "sms_stop"
    assert api.check("billing", "email", recipient_id="cust-1")["reason"] == "mandatory"
    stops = [e for e in api.get("/recipients/cust-1/events").get_json()["events"] if e["kind"] == "sms_stop"]
    assert len(stops) == 1 and stops[0]["actor"] == "sms" and stops[0]["via"].startswith("plain_language:")
    assert len(replies(text(client, "START"))) == 1
    assert api.check("newsletter", "sms", recipient_id="cust-1")["reason"] == "subscribed"


def test_a_repeated_stop_is_confirmed_again_and_recorded_once(api, client, person):
    for body in ("STOP", "please stop texting me", "no more texts"):
        messages = replies(text(client, body))
        assert len(messages) == 1 and all(part in messages[0] for part in STOPPED)
    stops = [e for e in api.get("/recipients/cust-1/events").get_json()["events"] if e["kind"] == "sms_stop"]
    assert [e["via"] for e in stops] == ["keyword:STOP"]


@pytest.mark.parametrize(
    "body", ["stop by the store later?", "don't stop", "never stop sending deals", "no, don't unsubscribe me", "no pares"]
)
def test_an_unclear_text_gets_one_answer_saying_how_to_stop_and_stops_nothing(api, client, person, body):
    before = api.get("/recipients/cust-1/events").get_json()
    messages = replies(text(client, body))
    assert (
        len(messages) == 1
        and messages[0].startswith("Acme: ")
        and ("Reply STOP" in messages[0] or "Responda STOP" in messages[0])
    )
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "mandatory"
    assert api.get("/recipients/cust-1/events").get_json() == before


def test_the_how_to_stop_answer_in_english(client, person):
    assert replies(text(client, "stop by the store later?")) == [f"Acme: {HOW_TO_STOP} from our texts. Reply HELP for help."]


@pytest.mark.parametrize("body", ["thanks!", "what time do you open", "hello"])
def test_a_text_about_something_else_gets_no_reply(api, client, person, body):
    assert replies(text(client, body)) == []
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "mandatory"


def test_after_a_stop_an_unclear_text_gets_no_reply_but_keywords_still_do(api, client, person):
    text(client, "STOP")
    assert replies(text(client, "can you stop by?")) == []
    assert len(replies(text(client, "HELP"))) == 1
    assert api.check("billing", "sms", recipient_id="cust-1")["reason"] == "sms_stop"


def test_a_plain_language_stop_from_an_unknown_number_stays_with_the_number(api, client, newsletter):
    stranger = "+14155550177"
    (message,) = replies(text(client, "leave me alone", sender=stranger))
    assert all(part in message for part in STOPPED)
    assert api.check("newsletter", "sms", phone=stranger)["reason"] == "suppressed"
    api.put("/recipients/new-person", {"phone": stranger})
    assert api.check("billing", "sms", recipient_id="new-person")["reason"] == "sms_stop"


def test_a_spanish_speaker_is_answered_in_spanish(api, client, person):
    api.put("/recipients/cust-1", {"locale": "es-MX"})
    (stopped,) = replies(text(client, "STOP"))
    assert stopped.startswith("Acme: Se ha dado de baja") and "START" in stopped
    (helped,) = replies(text(client, "HELP"))
    assert "help@acme.example" in helped and "Responda STOP" in helped
    (started,) = replies(text(client, "START"))
    assert "Se ha vuelto a suscribir" in started
    (how_to,) = replies(text(client, "stop by the store later?"))
    assert how_to.startswith("Acme: Responda STOP")


def test_the_reply_follows_the_holders_locale_then_the_texts_language(api, client, person):
    api.put("/recipients/cust-1", {"locale": "en-US"})
    (english,) = replies(text(client, "no más mensajes"))
    assert "You are unsubscribed" in english
    (spanish,) = replies(text(client, "no más mensajes", sender="+14155550178"))  # a number nobody holds
    assert "Se ha dado de baja" in spanish


@pytest.mark.parametrize(
    ("locale", "written_in", "language"),
    [
        ("es", "en", "es"),
        ("es-MX", "en", "es"),
        ("ES_us", "en", "es"),
        ("en", "es", "en"),
        ("et", "en", "en"),
        (None, "es", "es"),
        ("de-AT", "es", "de"),
        ("fr", "en", "fr"),
        ("pt", "en", "pt-BR"),
        ("pt_BR", "es", "pt-BR"),
        ("hi-IN", "en", "hi"),
        ("ar", "en", "ar"),
        ("", "es", "es"),
    ],
)
def test_reply_language(locale, written_in, language):
    assert reply_language(locale, written_in) == language


# Each language's stop confirmation (from the recipient pages' catalogues, prefs/translations): a word that
# only that language's reply has, and the keyword it tells the person to send, kept in English.
STOPPED_IN = {
    "en": "unsubscribed",
    "es": "Se ha dado de baja",
    "fr": "désabonné",
    "de": "abgemeldet",
    "pt-BR": "inscrição foi cancelada",
    "hi": "सदस्यता समाप्त",
    "ar": "إلغاء اشتراكك",
}


@pytest.mark.parametrize(
    ("locale", "language"),
    [("en-GB", "en"), ("es", "es"), ("fr-CA", "fr"), ("de", "de"), ("pt-BR", "pt-BR"), ("hi", "hi"), ("ar-EG", "ar")],
)
def test_each_holder_is_answered_in_their_language(api, client, person, locale, language):
    api.put("/recipients/cust-1", {"locale": locale})
    (stopped,) = replies(text(client, "STOP"))
    assert stopped.startswith("Acme") and STOPPED_IN[language] in stopped and "START" in stopped
    assert [other for other, words in STOPPED_IN.items() if words in stopped] == [language]
    (helped,) = replies(text(client, "HELP"))
    assert "help@acme.example" in helped and "STOP" in helped
    (started,) = replies(text(client, "START"))
    assert "HELP" in started and "STOP" in started and started != stopped


def test_the_support_team_is_named_in_the_holders_language():
    from prefs.services.sms import reply_text

    assert "über unser Support-Team." in reply_text("help", "Acme", None, "de")
    assert "our support team" in reply_text("help", "Acme", "", "en")
    assert "nuestro equipo de soporte" in reply_text("help", "Acme", None, "es")
    assert reply_text("stop", "50% Off & Co", None, "fr").startswith("50% Off & Co : Vous êtes désabonné")


def test_the_console_names_a_plain_language_stop_in_words():
    from prefs.console.wording import via_words

    assert via_words("plain_language:no-more-texts") == "text in plain words (no more texts)"
    assert via_words("keyword:STOP") == "text keyword STOP"
