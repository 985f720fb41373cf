"""Outbound email (SPEC §12, §14): settings, queueing in the caller's transaction, rendering in the person's
language, and delivery by the real worker to a real SMTP server on loopback (tests/smtp_server.py), with
the webhooks' retries. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from conftest import BASE_SETTINGS
from conftest import _reset as reset_database
from prometheus_client import REGISTRY
from smtp_server import SmtpServer, smtp_server  # noqa: F401  (a fixture)
from sqlalchemy import func, select
from test_webhooks import Clock, deliver

from prefs import create_app, say_what_is_off
from prefs.config import ConfigError, build_config
from prefs.db.transactions import unit_of_work
from prefs.errors import PrefsError
from prefs.extensions import db
from prefs.models import OutboundMail, OutboxMessage
from prefs.outbound.smtp import parse_smtp_url
from prefs.runtime import runtime
from prefs.services.delivery import prune
from prefs.services.events import Actor, ChangeContext
from prefs.services.mail import mail_enabled, queue_mail
from prefs.services.recipients import upsert_recipient

SETTINGS = {**BASE_SETTINGS, "PREFS_DATABASE_URL": "sqlite:///unused.sqlite3"}  # build_config only reads it

FROM = "news@acme.example"
ADDRESS = "ann@example.com"


def mail_settings(server: SmtpServer, **more: str) -> dict[str, str]:
    return {"PREFS_SMTP_URL": server.url, "PREFS_MAIL_FROM": FROM, "PREFS_RETRY_SCHEDULE": "5,60", **more}


@pytest.fixture
def settings_override(smtp_server):  # noqa: F811
    return mail_settings(smtp_server)


def queue(app, template="preference_link", to=ADDRESS, language="en", context=None, key="cust-1") -> None:
    """A message to `to` for recipient `key`, who holds that address (the worker mails no one else)."""
    context = context if context is not None else {"url": "https://prefs.example.com/p/TOKEN"}

    def the_recipient_and_the_message() -> None:
        upsert_recipient(runtime(), key, {"email": to}, ChangeContext(Actor("api", "test", "api")))
        queue_mail(runtime(), template, to, language, context, ordering_key=key)

    with app.app_context():
        unit_of_work(the_recipient_and_the_message)


def rows(app) -> list[OutboundMail]:
    with app.app_context():
        found = list(db.session.execute(select(OutboundMail).order_by(OutboundMail.id)).scalars())
        db.session.expunge_all()
        return found


def counted(result: str) -> float:
    return REGISTRY.get_sample_value("prefs_deliveries_total", {"kind": "email", "result": result}) or 0.0


# --- settings ---------------------------------------------------------------------------------------------
def test_smtp_urls_are_parsed_once():
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.security, plain.username) == ("mail.example.com", 25, "none", None)
    starttls = parse_smtp_url("smtp://us%40er:p%3Ass@mail.example.com?starttls=true")
    assert (starttls.port, starttls.security, starttls.username, starttls.password) == (587, "starttls", "us@er", "p:ss")
    assert "p:ss" not in repr(starttls) and "p:ss" not in starttls.describe()
    tls = parse_smtp_url("smtps://u:p@mail.example.com:2465")
    assert (tls.port, tls.security) == (2465, "tls")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"PREFS_SMTP_URL": "http://mail.example.com"}, "PREFS_SMTP_URL must start with smtp:// or smtps://"),
        ({"PREFS_SMTP_URL": "smtp://:secret@"}, "PREFS_SMTP_URL names no host"),
        ({"PREFS_SMTP_URL": "smtp://u:secret@mail.example.com:99999"}, "PREFS_SMTP_URL has a port that is not a number"),
        ({"PREFS_SMTP_URL": "smtp://mail.example.com?starttls=maybe"}, "PREFS_SMTP_URL starttls must be true or false"),
        ({"PREFS_SMTP_URL": "smtps://mail.example.com?starttls=true"}, "PREFS_SMTP_URL smtps:// is TLS from the start"),
        ({"PREFS_SMTP_URL": "smtp://mail.example.com?tls=1"}, "PREFS_SMTP_URL has an unknown option 'tls'"),
        ({"PREFS_MAIL_FROM": "not an address"}, "PREFS_MAIL_FROM must be an email address"),
        ({"PREFS_MAIL_FROM": None}, "PREFS_SMTP_URL and PREFS_MAIL_FROM go together"),
        ({"PREFS_SMTP_URL": None}, "PREFS_SMTP_URL and PREFS_MAIL_FROM go together"),
    ],
)
def test_a_malformed_mail_setting_refuses_to_start(tmp_path, settings, message):
    given = {**SETTINGS, "PREFS_SMTP_URL": "smtp://user:secret@mail.example.com:587?starttls=true", "PREFS_MAIL_FROM": FROM}
    given.update(settings)
    with pytest.raises(ConfigError) as refused:
        build_config({}, str(tmp_path), {k: v for k, v in given.items() if v is not None})
    assert str(refused.value).startswith(message)
    assert "secret" not in str(refused.value)


def test_the_display_name_is_the_brands_unless_mail_from_has_one(tmp_path):
    base = {**SETTINGS, "PREFS_SMTP_URL": "smtp://mail.example.com"}
    assert build_config({}, str(tmp_path), {**base, "PREFS_MAIL_FROM": FROM})["PREFS_MAIL"].from_name == "Acme"
    named = build_config({}, str(tmp_path), {**base, "PREFS_MAIL_FROM": "Acme News <news@acme.example>"})["PREFS_MAIL"]
    assert (named.from_name, named.from_address, named.brand_name) == ("Acme News", FROM, "Acme")


def test_without_mail_settings_the_app_starts_says_mail_is_off_and_queue_mail_refuses(database_url, caplog):
    app = create_app({**BASE_SETTINGS, "PREFS_DATABASE_URL": database_url})
    with caplog.at_level(logging.WARNING, logger="prefs"):
        say_what_is_off(app)
    assert (
        "Email sending (email-me-my-link, confirmation mails) is off because PREFS_SMTP_URL and PREFS_MAIL_FROM are not set."
        in caplog.messages
    )
    with app.app_context():
        assert not mail_enabled(runtime())
        with pytest.raises(PrefsError) as refused:
            unit_of_work(lambda: queue_mail(runtime(), "preference_link", ADDRESS, "en", {"url": "u"}, ordering_key="k"))
        assert (refused.value.code, refused.value.status) == ("mail_off", 422)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        db.session.remove()
        db.engine.dispose()


# --- queueing -------------------------------------------------------------------------------------------
def test_queue_mail_writes_one_outbox_message_in_the_callers_transaction(app):
    with app.app_context():

        def queue_then_fail() -> None:
            queue_mail(runtime(), "preference_link", ADDRESS, "en", {"url": "u"}, ordering_key="cust-1")
            raise RuntimeError("the change fails")

        with pytest.raises(RuntimeError):
            unit_of_work(queue_then_fail)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    queue(app)
    with app.app_context():
        [message] = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "email")).scalars()
        assert (message.kind, message.type, message.ordering_key) == ("email", "preference_link", "cust-1")


def test_a_template_without_its_context_is_the_callers_bug(app):
    with app.app_context(), pytest.raises(ValueError, match="needs expires_days, topics"):
        queue_mail(runtime(), "confirm_subscription", ADDRESS, "en", {"url": "u"}, ordering_key="k")
    with app.app_context(), pytest.raises(ValueError, match="no mail template"):
        queue_mail(runtime(), "newsletter", ADDRESS, "en", {}, ordering_key="k")


# --- delivery -------------------------------------------------------------------------------------------
def test_the_worker_sends_text_and_html_in_the_persons_language_from_mail_from(app, smtp_server, caplog):  # noqa: F811
    before = counted("delivered")
    url = "https://prefs.example.com/p/TOKEN"
    with caplog.at_level(logging.DEBUG):
        queue(app, language="fr", context={"url": url})
        assert smtp_server.messages == []  # nothing leaves before the worker runs
        deliver(app)
    [message] = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0].mail_from == FROM and smtp_server.envelopes[0].rcpt_tos == (ADDRESS,)
    assert message["From"] == f"Acme <{FROM}>" and message["To"] == ADDRESS
    assert message["Subject"] == "Votre lien vers vos préférences chez Acme"
    assert message["Content-Language"] == "fr" and message["Message-ID"].endswith("@acme.example>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Quelqu’un a demandé un lien vers vos préférences chez Acme" in text and url in text
    assert text.rstrip().endswith("Acme")  # signed with the brand's name
    assert '<html lang="fr" dir="ltr">' in html and f'href="{url}"' in html and "Bonjour," in html
    assert counted("delivered") - before == 1
    ours = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("mail.log"))  # not aiosmtpd's
    assert ADDRESS not in ours and url not in ours
    [row] = rows(app)
    assert (row.status, row.attempts, row.payload, row.last_code) == ("sent", 1, None, 250)  # address and link gone


@pytest.mark.parametrize(
    ("language", "subject", "phrase"),
    [
        ("de", "Ihr Link zu Ihren Einstellungen bei Acme", "Guten Tag,"),
        ("ar", "رابط تفضيلاتك لدى Acme", "مرحبًا،"),
        ("pt-PT", "Seu link para suas preferências em Acme", "Olá,"),
        ("xx", "Your link to your preferences at Acme", "Hello,"),
    ],
)
def test_each_language_gets_its_own_words(app, smtp_server, language, subject, phrase):  # noqa: F811
    queue(app, language=language)
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == subject
    assert phrase in message.get_body(("plain",)).get_content() and phrase in message.get_body(("html",)).get_content()


def test_the_confirmation_mail_lists_the_topics_escaped_in_html(app, smtp_server):  # noqa: F811
    context = {"url": "https://prefs.example.com/c/T", "topics": ["Newsletter", "<b>Offers</b> & more"], "expires_days": 7}
    queue(app, template="confirm_subscription", language="es", context=context)
    deliver(app)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Confirme su suscripción a Acme"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "- <b>Offers</b> & more" in text and "7 días" in text
    assert "<li>&lt;b&gt;Offers&lt;/b&gt; &amp; more</li>" in html and "<b>Offers" not in html


def test_a_relay_that_is_down_gets_the_message_on_a_later_try(app, smtp_server):  # noqa: F811
    retried = counted("retry")
    smtp_server.stop()
    clock = Clock()
    queue(app)
    deliver(app, clock)
    [row] = rows(app)
    assert (row.status, row.attempts, row.payload is not None) == ("pending", 1, True)
    assert row.last_error == "cannot reach the relay: ConnectionRefusedError" and ADDRESS not in row.last_error
    assert counted("retry") - retried == 1
    smtp_server.start()
    deliver(app, clock)  # not due yet: the first retry waits 5 s ±20%
    assert smtp_server.messages == []
    clock.advance(6.1)
    deliver(app, clock)
    assert len(smtp_server.wait_for(1)) == 1
    [row] = rows(app)
    assert (row.status, row.attempts, row.payload) == ("sent", 2, None)


def test_a_4xx_is_retried_until_the_schedule_ends_and_a_5xx_fails_at_once(app, smtp_server):  # noqa: F811
    failed = counted("failed")
    clock = Clock()
    smtp_server.refuse(451)
    queue(app, key="cust-1")
    for _ in range(3):  # the first try and two retries (PREFS_RETRY_SCHEDULE=5,60), then given up
        deliver(app, clock)
        clock.advance(75)
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_code, row.payload) == ("failed", 3, 451, None)
    smtp_server.refuse(550)  # no such mailbox: asking again would get the same answer
    queue(app, key="cust-2", to="bob@example.com")
    deliver(app, clock)
    assert [(r.status, r.attempts, r.last_code, r.payload) for r in rows(app)][1] == ("failed", 1, 550, None)
    assert counted("failed") - failed == 2 and smtp_server.messages == []


def test_a_relay_refusing_the_session_with_a_5xx_is_retried_not_given_up(app, smtp_server):  # noqa: F811
    """A 5xx to EHLO and HELO (or at the greeting) is the relay blocking us for now, not this message: it failed
    the message permanently, so a relay's block dropped every queued mail at once (found in review)."""
    clock = Clock()
    smtp_server.refuse_session(554)
    queue(app)
    deliver(app, clock)
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_code, row.payload is not None) == ("pending", 1, None, True)
    assert row.last_error == "the relay refused the session (554)"
    smtp_server.refuse_session(None)
    clock.advance(6.1)
    deliver(app, clock)
    assert len(smtp_server.wait_for(1)) == 1
    assert rows(app)[0].status == "sent"


def which(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return next(url for url in ("first", "second", "other") if f"\n{url}\n" in text.replace("\r\n", "\n"))


def test_one_persons_messages_leave_in_order_and_a_failing_one_holds_back_only_theirs(app, smtp_server):  # noqa: F811
    clock = Clock()
    smtp_server.refuse(451)
    queue(app, key="cust-1", context={"url": "first"})
    deliver(app, clock)
    smtp_server.refuse(None)
    queue(app, key="cust-1", context={"url": "second"})
    queue(app, key="cust-2", to="bob@example.com", context={"url": "other"})
    deliver(app, clock)
    assert [which(message) for message in smtp_server.wait_for(1)] == ["other"]
    clock.advance(6.1)
    deliver(app, clock)
    assert [which(message) for message in smtp_server.wait_for(3)] == ["other", "first", "second"]


def test_sent_receipts_are_pruned_with_the_deliveries(app, smtp_server):  # noqa: F811
    queue(app)
    deliver(app)
    with app.app_context():
        unit_of_work(lambda: prune(rows(app)[0].updated_at + timedelta(days=29)))
        assert len(rows(app)) == 1
        unit_of_work(lambda: prune(rows(app)[0].updated_at + timedelta(days=31)))
        assert rows(app) == []


def test_the_outbox_payload_holds_the_rendered_message_until_sent(app):
    queue(app, language="hi")
    with app.app_context():
        [message] = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "email")).scalars()
        payload = message.payload if isinstance(message.payload, dict) else json.loads(message.payload)
    assert payload["to"] == ADDRESS and payload["language"] == "hi" and "नमस्ते," in payload["text"]


@contextmanager
def app_with(database_url, seeded_rows, settings) -> Iterator:
    """An app of its own (a relay other than the fixture's), emptied after as conftest's `app` is."""
    app = create_app({**BASE_SETTINGS, **settings, "PREFS_DATABASE_URL": database_url})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            reset_database(seeded_rows)
            db.engine.dispose()


@pytest.mark.parametrize("auth", [None, ("relay-user", "p@ss word")])
def test_starttls_with_and_without_login(database_url, seeded_rows, auth):
    with SmtpServer(starttls=True, auth=auth) as server, app_with(database_url, seeded_rows, mail_settings(server)) as app:
        with app.app_context():
            assert runtime().mail.smtp.security == "starttls"
        queue(app)
        deliver(app)
        [message] = server.wait_for(1)
        assert message["To"] == ADDRESS


def test_a_wrong_password_is_retried_not_given_up(database_url, seeded_rows):
    with SmtpServer(starttls=True, auth=("relay-user", "right")) as server:
        settings = mail_settings(server, PREFS_SMTP_URL=server.url.replace(":right@", ":wrong@"))
        with app_with(database_url, seeded_rows, settings) as app:
            queue(app)
            deliver(app)
            [row] = rows(app)
            assert (row.status, row.last_error) == ("pending", "the relay refused the credentials (535)")
            assert server.messages == []


@pytest.mark.parametrize("change", ["new_address", "deactivated", "erased_before_it_was_queued"])
def test_a_message_goes_only_to_an_address_its_recipient_still_holds(app, api, smtp_server, change):  # noqa: F811
    """A preference link or a confirmation queued for an address its recipient gave up, or for a recipient
    closed or erased since, is cancelled, not sent. An "email me my link" request reads the recipient without
    a lock, so an erasure can commit between its look-up and its message (found in review: it was mailed)."""
    if change == "erased_before_it_was_queued":
        assert api.put("/recipients/cust-1", {"email": ADDRESS}).status_code == 201
        assert api.delete("/recipients/cust-1").status_code == 204
        with app.app_context():  # the link request's message, written after the erasure's commit
            unit_of_work(lambda: queue_mail(runtime(), "preference_link", ADDRESS, "en", {"url": "u"}, ordering_key="cust-1"))
    else:
        queue(app)
        if change == "new_address":
            assert api.put("/recipients/cust-1", {"email": "ann.new@example.com"}).status_code == 200
        else:
            assert api.post("/recipients/cust-1/deactivate", {"reason": "account closed"}).status_code == 200
    deliver(app)
    assert smtp_server.messages == []
    [row] = rows(app)
    assert (row.status, row.payload, row.last_error) == (
        "cancelled",
        None,
        "the recipient no longer holds the address, or is no longer active",
    )
    queue(app, key="cust-2", to="bob@example.com")  # the next message is sent as ever
    deliver(app)
    assert [message["To"] for message in smtp_server.messages] == ["bob@example.com"]


def test_the_export_lists_the_mails_sent_to_the_person_without_their_text(app, api, smtp_server):  # noqa: F811
    queue(app)
    deliver(app)
    exported = api.get("/recipients/cust-1/export").get_json()
    assert [(m["template"], m["state"], m["attempts"]) for m in exported["mails"]] == [("preference_link", "sent", 1)]
    assert "TOKEN" not in str(exported["mails"])


def test_one_worker_pass_goes_past_cancelled_mail_to_what_is_due_after_it(app, api, smtp_server):  # noqa: F811
    """A round that only cancelled counted as nothing done, so `worker --once` stopped with mail still due
    (found in review): one person's messages leave one a round."""
    queue(app, context={"url": "first"})
    queue(app, context={"url": "second"})
    assert api.put("/recipients/cust-1", {"email": "ann.new@example.com"}).status_code == 200
    queue(app, to="ann.new@example.com", context={"url": "third"})
    deliver(app)
    assert [message["To"] for message in smtp_server.messages] == ["ann.new@example.com"]
    assert [row.status for row in rows(app)] == ["cancelled", "cancelled", "sent"]
