"""`flask --app app demo`: sample data and a working link to try."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from .terminal import operator_name


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Sample topics and recipients, and a working unsubscribe link to try (safe to run twice)."""
    from ..services.events import Actor, ChangeContext
    from ..services.links import links_for
    from ..services.recipients import find_recipient, readable_recipient, upsert_recipient
    from ..services.topics import after_topic_commit, create_topic, get_topic

    samples: list[dict[str, Any]] = [
        {"key": "newsletter", "name": "Newsletter", "description": "News and stories, once a month.", "channels": ["email", "sms"],
         "default_subscribed": {"email": True}},
        {"key": "offers", "name": "Offers", "description": "Discounts and sales.", "channels": ["email", "sms", "post"],
         "default_subscribed": {"email": True, "post": True}},
    ]  # fmt: skip

    def create() -> None:
        for fields in samples:
            try:
                get_topic(fields["key"])
            except PrefsError:
                create_topic(fields, "cli", operator_name())
        context = ChangeContext(Actor("system", "demo", "cli"), "demo data")
        for n, (email, phone) in enumerate((("ann@example.com", "+14155550101"), ("bob@example.com", "+14155550102")), start=1):
            if find_recipient(f"demo-{n}") is None:
                upsert_recipient(runtime(), f"demo-{n}", {"email": email, "phone": phone, "locale": "en-US"}, context)

    try:
        unit_of_work(create)
    except PrefsError as error:
        raise click.ClickException(f"demo data not added: {error.message}") from None
    after_topic_commit(runtime().catalogue)
    recipient = readable_recipient("demo-1")
    links = links_for(runtime(), recipient.id, recipient.pk, "email", runtime().catalogue.get("newsletter"), "demo-message", None)
    click.echo("Topics newsletter and offers, recipients demo-1 and demo-2 are ready.", err=True)
    click.echo(f"Preference center: {links['preferences_url']}", err=True)
    click.echo(links["unsubscribe_url"])
