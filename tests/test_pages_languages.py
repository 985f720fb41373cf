"""Which language each recipient page speaks (issue 13, acceptance 2; SPEC §16): `?lang=` over the person's
stored `locale` over Accept-Language over English, `<html lang>` and `dir="rtl"` for Arabic, on every page
kind and every error page a person may land on."""

from __future__ import annotations

import re
from html import unescape

import pytest
from test_outages import apps_without_database, links_for
from test_pages import expired_links, links, path_of

from prefs import languages

# A sentence each page kind shows, in each language (from the shipped catalogues: if a translation changes,
# change it here too). English is the message id.
HEADINGS = {
    "preferences": {
        "en": "Choose what you get from",
        "ar": "اختر ما يصلك من",
        "de": "Wählen Sie, was Sie von",
        "es": "Elija lo que recibe de",
    },
    "unsubscribe": {"en": "Unsubscribe from", "ar": "هل تريد إلغاء الاشتراك في", "de": "abmelden?", "es": "¿Darse de baja de"},
    "unsubscribed": {
        "en": "You're unsubscribed",
        "ar": "تم إلغاء اشتراكك",
        "de": "Sie sind abgemeldet",
        "es": "Se ha dado de baja",
    },
    "undone": {"en": "Welcome back", "ar": "مرحبًا بعودتك", "de": "Willkommen zurück", "es": "Le damos la bienvenida de nuevo"},
    "saved": {
        "en": "Your choices are saved.",
        "ar": "تم حفظ اختياراتك.",
        "de": "Ihre Auswahl ist gespeichert.",
        "es": "Sus opciones se guardaron.",
    },
}
ANONYMOUS = {
    "home": {"en": "This is where you choose", "ar": "هنا تختار الرسائل", "es": "Aquí usted elige"},
    "link request": {
        "en": "Get a link to your preferences",
        "ar": "احصل على رابط لتفضيلاتك",
        "es": "Obtenga un enlace a sus preferencias",
    },
    "link request answer": {
        "en": "We can't send links by email",
        "ar": "لا يمكننا إرسال الروابط",
        "es": "En este momento no podemos enviar enlaces",
    },
    "404": {"en": "We can't find that page", "ar": "لم نعثر على هذه الصفحة", "es": "No encontramos esa página"},
    "405": {"en": "That didn't work", "ar": "لم ينجح ذلك", "es": "Eso no funcionó"},
    "bad link": {"en": "This link doesn't work", "ar": "هذا الرابط لا يعمل", "es": "Este enlace no funciona"},
    "expired link": {"en": "This link has expired", "ar": "انتهت صلاحية هذا الرابط", "es": "Este enlace ha caducado"},
    "erased person": {
        "en": "We can't find these preferences",
        "ar": "لم نعثر على هذه التفضيلات",
        "es": "No encontramos estas preferencias",
    },
}
ARABIC = re.compile(r"[\u0600-\u06ff]")


def html_tag(html: str) -> str:
    found = re.search(r"<html[^>]*>", html)
    assert found, html[:200]
    return found.group(0)


def assert_language(response, tag: str, sentence: str) -> None:
    html = unescape(response.get_data(as_text=True))
    direction = ' dir="rtl"' if tag == "ar" else ""
    assert html_tag(html) == f'<html lang="{tag}"{direction}>'
    assert sentence in html, (tag, sentence)
    if tag != "ar":
        body = re.sub(r'<nav class="languages".*?</nav>', "", html, flags=re.S)  # the menu names each language in itself
        assert not ARABIC.search(body)


@pytest.fixture
def pages(api, client, newsletter, person):
    """A request for each page kind that knows whose it is: (method, path, form) by name."""
    unsubscribe = path_of(links(api, topic="newsletter")["unsubscribe_url"])
    preferences = path_of(links(api)["preferences_url"])
    return {
        "preferences": ("GET", preferences, None),
        "unsubscribe": ("GET", unsubscribe, None),
        "unsubscribed": ("POST", unsubscribe, {"confirm": "yes"}),
        "undone": ("POST", unsubscribe + "/undo", {}),
        "saved": ("POST", preferences, {"shown": ["newsletter:email=1"]}),  # unticks the newsletter by email
    }


def visit(client, request, query: str = "", headers: dict | None = None):
    method, path, form = request
    response = client.open(path + query, method=method, data=form, headers=headers or {})
    assert response.status_code < 400, (path, response.status_code)
    return response


# The pages a person goes through to reach a POST page: each page's form action carries its language
# (`?lang=`), which is how a stored locale reaches the pages after a POST (the one-click POST itself reads
# no more than it must).
STEPS = {"unsubscribed": ["unsubscribe"], "undone": ["unsubscribe", "unsubscribed"], "saved": ["preferences"]}


@pytest.mark.parametrize("kind", list(HEADINGS))
def test_accept_language_then_stored_locale_then_lang(api, client, pages, kind):
    words = HEADINGS[kind]

    def page(query: str = "", headers: dict | None = None):
        steps = [*STEPS.get(kind, []), kind]
        for step, following in zip(steps, steps[1:], strict=False):
            html = visit(client, pages[step], query, headers).get_data(as_text=True)
            query = query or re.search(re.escape(pages[following][1]) + r"(\?lang=[\w-]+)", html).group(1)
        response = visit(client, pages[kind], query, headers)
        if kind == "unsubscribed":  # back as it was, so the next round is asked again
            visit(client, pages["undone"])
        if kind == "saved":  # and the box back off, so the next round saves a change again
            visit(client, ("POST", pages["saved"][1], {"shown": ["newsletter:email=0"], "newsletter:email": "on"}))
        return response

    assert_language(page(headers={"Accept-Language": "ar"}), "ar", words["ar"])
    api.put("/recipients/cust-1", {"locale": "de"})
    assert_language(page(headers={"Accept-Language": "ar, en;q=0.8"}), "de", words["de"])
    assert_language(page("?lang=es", headers={"Accept-Language": "ar"}), "es", words["es"])
    api.put("/recipients/cust-1", {"locale": "pt-PT"})  # Portuguese from Portugal: ours is Brazilian
    assert html_tag(page().get_data(as_text=True)) == '<html lang="pt-BR">'
    api.put("/recipients/cust-1", {"locale": "et"})  # a language we do not have: the browser's, then English
    assert_language(page(headers={"Accept-Language": "ar"}), "ar", words["ar"])
    assert_language(page(), "en", words["en"])


def test_every_language_on_the_preference_center(api, client, pages):
    """Each language's own words, `<html lang>` its public tag, the menu marking it current."""
    for tag in languages.LANGUAGES:
        response = visit(client, pages["preferences"], f"?lang={tag}")
        html = response.get_data(as_text=True)
        assert html_tag(html).startswith(f'<html lang="{tag}"')
        assert ('dir="rtl"' in html_tag(html)) == (tag == "ar")
        assert f'<span aria-current="true" lang="{tag}">' in html
        save = languages.translations(tag).gettext("Save my choices")
        assert save in html and (tag == "en" or save != "Save my choices")


def test_the_topics_the_service_makes_itself_are_named_in_every_language(api, client, pages):
    """Found by this round's review: "Billing" and "Service messages" showed in English on every page."""
    english = re.findall(
        r'<span class="topic">([^<]*)</span>', visit(client, pages["preferences"], "?lang=en").get_data(as_text=True)
    )
    assert {"Billing", "Service messages"} <= set(english)
    for tag in languages.LANGUAGES:
        if tag != "en":
            html = visit(client, pages["preferences"], f"?lang={tag}").get_data(as_text=True)
            names = set(re.findall(r'<span class="topic">([^<]*)</span>', html))
            assert not names & {"Billing", "Service messages"}, (tag, names)
    # An admin's own wording stands: the migration filled only the untouched built-in topics.
    assert api.get("/topics/billing").get_json()["names"]["de"] == "Abrechnung"


@pytest.fixture
def anonymous_pages(api, client, newsletter, person):
    expired = path_of(expired_links(api, topic="newsletter")["preferences_url"])
    api.put("/recipients/gone", {"email": "gone@example.com", "locale": "de"})
    erased = path_of(links(api, recipient_id="gone")["preferences_url"])
    assert api.delete("/recipients/gone").status_code == 204
    return {
        "home": ("GET", "/", None, 200),
        "link request": ("GET", "/p", None, 200),
        "link request answer": ("POST", "/p", {"email": "someone@example.com"}, 200),
        "404": ("GET", "/no/such/page", None, 404),
        "405": ("DELETE", "/", None, 405),
        "bad link": ("GET", "/p/not-a-token", None, 400),
        "expired link": ("GET", expired, None, 410),
        "erased person": ("GET", erased, None, 404),
    }


@pytest.mark.parametrize("kind", list(ANONYMOUS))
def test_pages_that_know_nobody_follow_the_header_and_lang(client, anonymous_pages, kind):
    method, path, form, status = anonymous_pages[kind]
    words = ANONYMOUS[kind]
    for headers, query, tag in [
        ({"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"}, "", "ar"),
        ({"Accept-Language": "ar"}, "?lang=es", "es"),
        ({"Accept-Language": "fr;q=0, ar;q=0.1, xx"}, "?lang=zz", "ar"),  # an unknown ?lang= is ignored
        ({}, "", "en"),
    ]:
        if form and "email" in form:  # a new address each time: the form is limited per address
            form = {"email": f"{tag}-{len(query)}@example.com"}
        response = client.open(path + query, method=method, data=form, headers=headers)
        assert response.status_code == status, (kind, response.status_code)
        assert_language(response, tag, words[tag])


def test_the_outage_page_speaks_the_visitors_language(api, newsletter, person):
    unsubscribe, _preferences = links_for(api)
    with apps_without_database("closed port", 1) as (app,):
        client = app.test_client()
        arabic = client.get(unsubscribe, headers={"Accept-Language": "ar"})
        spanish = client.get(unsubscribe + "?lang=es", headers={"Accept-Language": "ar"})
    assert arabic.status_code == 503
    assert_language(arabic, "ar", "نظامنا غير متاح لفترة وجيزة")
    assert_language(spanish, "es", "Nuestro sistema no está disponible")


def test_the_rate_limited_page_speaks_the_visitors_language(client):
    """The email-me-my-link form allows 10 requests an hour from one place: the 11th is the 429 page."""
    answers = [
        client.post("/p?lang=es", data={"email": f"p{n}@example.com"}, headers={"Accept-Language": "ar"}) for n in range(11)
    ]
    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    assert_language(answers[-1], "es", "Demasiados intentos")
    arabic = client.post("/p", data={"email": "same@example.com"}, headers={"Accept-Language": "ar"})
    assert arabic.status_code == 429
    assert_language(arabic, "ar", "محاولات كثيرة جدًا")


@pytest.mark.parametrize("path", ["/%5Cevil.example/x", "/%2F%2Fevil.example/x", "/u/%5Cevil.example"])
def test_the_language_links_stay_on_this_page_whatever_its_path(client, path):
    """The links were the typed path plus `?lang=`: on the 404 page for `/%5Cevil.example/x` that is
    `/\\evil.example/x`, which browsers read as `//evil.example/x`, another site (found in review). They are
    relative to the page now: its own path, another language."""
    response = client.get(path)
    assert response.status_code in (400, 404)  # no such page; a token that is none
    links = re.findall(r'<a href="([^"]*)" lang="[^"]+" hreflang=', response.get_data(as_text=True))
    assert links and all(re.fullmatch(r"\?lang=[\w-]+", link) for link in links), links
