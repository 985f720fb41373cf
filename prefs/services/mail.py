"""Outbound email (SPEC §14): the messages prefs sends people itself (a fresh preference link, a request to
confirm a subscription), queued through the outbox in the caller's transaction and sent by the worker over
SMTP (services/mail_delivery.py, prefs/outbound/smtp.py).

Other services call `queue_mail(deps, template, to, language, context, ordering_key)`; `mail_enabled(deps)`
says whether mail is configured at all (without PREFS_SMTP_URL and PREFS_MAIL_FROM, `queue_mail` raises
PrefsError `mail_off`).

Rendered when queued, not at delivery. The outbox payload carries the finished message (subject, plain
text, HTML, Message-ID) and the address, not the template's name and context. Why:
- the message is fixed when the change that causes it commits: a deploy that changes a template or a
  catalogue between the commit and the send (or between two retries) never changes what the person gets,
  and every retry sends the same bytes with the same Message-ID (so a relay or mailbox that sees a message
  twice, which at-least-once allows, can tell it is one message);
- a template or context mistake fails the caller's request, where it is a bug with a traceback, instead of
  a message the worker retries for a day and then drops;
- the worker needs no templates or catalogues: it only speaks SMTP.
What it costs: a few kilobytes per message instead of a few hundred bytes. Either way the payload holds the
address and a signed link, so it is kept no longer than needed: the worker moves it from the outbox into
its `outbound_mails` row and clears it (address and message) as soon as the message is sent or has failed
for good; the row without them is the receipt, pruned after the deliveries' RETENTION (30 days) like the
webhook deliveries and the providers' pushes. The address is never logged.

Templates are templates/mail/<name>.txt and .html (Jinja, rendered here without Flask: the worker and the
CLI have no request), translated through the recipient pages' catalogues (prefs/translations, babel.cfg,
scripts/translations.sh) in the person's language, with the brand's name as the sender's display name and
the signature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import delete, update

from ..db.driver import DriverSql
from ..db.statements import INSERT_OUTBOUND_MAIL
from ..deps import Deps
from ..errors import PrefsError
from ..extensions import db
from ..languages import DEFAULT, direction, match, translations
from ..models import OutboundMail, OutboxMessage, utcnow
from .outbox import enqueue

MAIL_KIND = "email"  # the outbox kind the worker sends over SMTP
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "mail"


def N_(message: str) -> str:  # noqa: N802 (the marker pybabel extracts, babel.cfg)
    return message


# Each template: its subject (a catalogue message; %(brand)s is the brand's name) and the context it needs.
TEMPLATES: dict[str, tuple[str, frozenset[str]]] = {
    "preference_link": (N_("Your link to your preferences at %(brand)s"), frozenset({"url"})),
    "confirm_subscription": (
        N_("Please confirm your subscription to %(brand)s"),
        frozenset({"url", "topics", "expires_days"}),
    ),
}


def mail_enabled(deps: Deps) -> bool:
    """Whether email sending is configured (PREFS_SMTP_URL and PREFS_MAIL_FROM)."""
    return deps.mail is not None


def mail_off() -> PrefsError:
    return PrefsError(
        "mail_off", "Email sending is not configured on this service (PREFS_SMTP_URL and PREFS_MAIL_FROM are not set)."
    )


def queue_mail(
    deps: Deps,
    template: str,
    to: str,
    language: str,
    context: dict[str, Any],
    ordering_key: str,
    sql: DriverSql | None = None,
) -> None:
    """Queue one message to `to`, rendered from `template` in `language` (any tag; an unknown one gets
    English), in the caller's transaction (`sql`: the caller's driver connection on the fast path).
    `ordering_key` (e.g. the recipient's id) keeps one person's messages in commit order. Raises
    PrefsError `mail_off` when mail is not configured; ValueError for an unknown template or a context
    without what the template needs (a bug in the caller)."""
    if deps.mail is None:
        raise mail_off()
    message = render(deps, template, to, language, context)
    enqueue(template, ordering_key, message, sql=sql, kind=MAIL_KIND)


def render(deps: Deps, template: str, to: str, language: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The outbox payload of one message: envelope, headers and both parts, as `build_message` reads them."""
    if deps.mail is None:
        raise mail_off()
    if template not in TEMPLATES:
        raise ValueError(f"no mail template {template!r}")
    subject, needs = TEMPLATES[template]
    missing = needs - set(context)
    if missing:
        raise ValueError(f"mail template {template!r} needs {', '.join(sorted(missing))} in its context")
    if "@" not in to or any(ch in to for ch in "\r\n<>,"):
        raise ValueError("not an address to send to")
    tag = match(language) or DEFAULT
    brand = deps.mail.brand_name
    subject = translations(tag).gettext(subject) % {"brand": brand}
    values = {**context, "brand": brand, "subject": subject, "lang": tag, "dir": direction(tag)}
    environment = _environment(tag)
    return {
        "template": template,
        "to": to,
        "from": deps.mail.from_address,
        "from_name": deps.mail.from_name,
        "language": tag,
        "subject": subject,
        "text": environment.get_template(f"{template}.txt").render(values),
        "html": environment.get_template(f"{template}.html").render(values),
        "message_id": make_msgid(domain=deps.mail.from_address.rpartition("@")[2]),
        "date": format_datetime(utcnow()),
    }


def fan_out_mails(sql: DriverSql, messages: Sequence[tuple[Any, Any, Any]], now: datetime) -> int:
    """The worker's fan-out: one outbound_mails row per (template, ordering_key, payload) of `email` outbox
    messages, due at once. Returns the rows."""
    stamp = sql.time(now)
    rows = [
        (template, ordering_key, payload if isinstance(payload, str) else json.dumps(payload), stamp, stamp, stamp)
        for template, ordering_key, payload in messages
    ]
    sql.many(INSERT_OUTBOUND_MAIL, rows)
    return len(rows)


def build_message(payload: Mapping[str, Any]) -> EmailMessage:
    """The MIME message of a queued payload: multipart/alternative, plain text first, then HTML."""
    message = EmailMessage()
    message["From"] = formataddr((payload["from_name"], payload["from"]))
    message["To"] = _address(payload["to"])
    message["Subject"] = payload["subject"]
    message["Date"] = payload["date"]
    message["Message-ID"] = payload["message_id"]
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    message["Content-Language"] = payload["language"]  # after the parts: set_content drops Content-* headers
    return message


def _address(to: str) -> Address | str:
    local, _, domain = to.rpartition("@")
    try:
        return Address(addr_spec=to) if to.isascii() else Address(username=local, domain=domain)
    except (ValueError, IndexError):
        return to


@cache
def _environment(tag: str) -> Environment:
    """One Jinja environment per language, its gettext bound to that language's catalogue."""
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.install_gettext_translations(translations(tag), newstyle=True)  # type: ignore[attr-defined]
    return environment


def cancel_mail_to(ordering_key: str, why: str, queued_through: datetime | None = None) -> int:
    """Nothing more is mailed to the person whose messages carry `ordering_key` (their recipient id): erased, or
    no longer holding the address (services/forgetting.py).
    Messages still in the outbox are deleted; those the worker took but has not sent yet become `cancelled`,
    keeping neither address nor message (like a sent or failed one, and pruned like them). A message the
    worker is sending at this very moment is not stopped: on PostgreSQL this waits for its row lock, and it
    is then sent already. With `queued_through`, only messages queued by then (a message the worker took
    later than that is left to its guard: mail_delivery.claim_due_mails). Returns how many were stopped."""
    queued = [] if queued_through is None else [OutboxMessage.created_at <= queued_through]
    taken = [] if queued_through is None else [OutboundMail.created_at <= queued_through]
    dropped = db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.kind == MAIL_KIND, OutboxMessage.ordering_key == ordering_key, *queued)
    )
    cancelled = db.session.execute(
        update(OutboundMail)
        .where(OutboundMail.ordering_key == ordering_key, OutboundMail.status == "pending", *taken)
        .values(status="cancelled", payload=None, last_error=why, updated_at=utcnow())
    )
    return int(getattr(dropped, "rowcount", 0) or 0) + int(getattr(cancelled, "rowcount", 0) or 0)
