"""Operator commands: `flask --app app keys …`."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from .db.transactions import unit_of_work
from .errors import PrefsError
from .extensions import db
from .models import ApiKey
from .runtime import runtime
from .services.api_keys import SCOPES, create_key, revoke_key

keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")


def operator_name() -> str:
    """Who ran the command, for the admin events: the operating-system account."""
    import getpass

    return getpass.getuser()


@keys_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="Repeat for several.")
def keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once, alone on the last line, and only its hash is kept."""
    try:
        key = unit_of_work(lambda: create_key(name, list(scopes), "cli", operator_name()))
    except PrefsError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created API key {name!r} with scopes: {' '.join(scopes)}. Store it now; it cannot be shown again.", err=True)
    click.echo(key)


@keys_cli.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke a key; every worker refuses it within 5 seconds."""
    try:
        unit_of_work(lambda: revoke_key(name, "cli", operator_name()))
    except PrefsError as error:
        raise click.ClickException(error.message) from None
    runtime().api_keys.clear()  # this process at once; other workers within the cache TTL
    click.echo(f"Revoked API key {name!r}.")


@keys_cli.command("list")
def keys_list() -> None:
    """Names, scopes and state of every key (never the keys themselves)."""
    for api_key in db.session.execute(select(ApiKey).order_by(ApiKey.name)).scalars():
        state = f"revoked {api_key.revoked_at:%Y-%m-%d}" if api_key.revoked_at else "active"
        click.echo(f"{api_key.name}\t{api_key.scopes}\t{state}")


recipients_cli = AppGroup("recipients", help="Bulk operations on recipients.")
suppressions_cli = AppGroup("suppressions", help="The suppression list.")


def _progress(description: str):
    """A rich progress bar on stderr, advanced by bytes read (no need to count lines first)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class _CountingReader:
    """Wraps a text file to tell the progress bar how far into the file the reader is."""

    def __init__(self, handle, advance):
        self._handle = handle
        self._advance = advance

    def __iter__(self):
        for line in self._handle:
            self._advance(len(line.encode()))
            yield line


@recipients_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--processes", default=2, show_default=True, help="Processes that validate rows while this one writes.")
def recipients_import(path: str, processes: int) -> None:
    """Import recipients from a CSV file: id,email,phone,locale and optional topic:channel yes/no columns.

    Upserts in batches; an empty cell leaves a field as it is. Bad rows are reported by line number and
    skipped, good rows kept; exit status 1 when any row was bad. Importing the same file again changes nothing.
    """
    import os

    from .db.write_gate import gate
    from .services.imports import ImportFileError, import_recipients

    rt = runtime()

    def write_batch(operation) -> None:
        with gate(rt.write_gate):
            operation()
            db.session.commit()

    with open(path, newline="", encoding="utf-8-sig") as handle, _progress("importing") as progress:
        task = progress.add_task("import", total=os.path.getsize(path))
        reader = _CountingReader(handle, lambda size: progress.advance(task, size))
        try:
            report = import_recipients(
                reader,
                os.path.basename(path),
                dict(rt.catalogue.all()),
                rt.phone_region,
                rt.suppression_key,
                write_batch,
                processes=processes,
            )
        except ImportFileError as error:
            db.session.rollback()
            raise click.ClickException(f"{path}: {error}; nothing was imported") from None
        except UnicodeDecodeError as error:
            db.session.rollback()
            raise click.ClickException(
                f"{path}: not UTF-8 text (byte {error.start}); rows before it were imported, save the file as UTF-8"
            ) from None
    for bad in report.bad:
        click.echo(f"line {bad.line}: {bad.reason}", err=True)
    click.echo(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, {len(report.bad)} bad rows")
    if report.bad:
        raise SystemExit(1)


@suppressions_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="import", show_default=True, help="Recorded with each suppression.")
def suppressions_import(path: str, source: str) -> None:
    """Suppress every address in a file, one email or phone number a line (blank lines and # comments skipped).

    Only keyed hashes are stored. Bad lines are reported by number; exit status 1 when any line was bad.
    """
    import os

    from .addresses import normalize_email, normalize_phone
    from .services.suppressions import suppress

    rt = runtime()
    bad, added, batch = [], 0, []

    def flush() -> None:
        unit_of_work(lambda: [suppress(kind, address, source[:32]) for kind, address in batch])

    with open(path, encoding="utf-8-sig") as handle, _progress("suppressing") as progress:
        task = progress.add_task("suppress", total=os.path.getsize(path))
        for number, line in enumerate(_CountingReader(handle, lambda size: progress.advance(task, size)), start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                batch.append(
                    ("email", normalize_email(text)) if "@" in text else ("phone", normalize_phone(text, rt.phone_region))
                )
            except PrefsError as error:
                bad.append(f"line {number}: {error.message}")
                continue
            if len(batch) >= 1000:
                flush()
                added += len(batch)
                batch = []
        if batch:
            flush()
            added += len(batch)
    for message in bad:
        click.echo(message, err=True)
    click.echo(f"{added} addresses suppressed (already suppressed ones included), {len(bad)} bad lines")
    if bad:
        raise SystemExit(1)


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Sample topics and recipients, and a working unsubscribe link to try (safe to run twice)."""
    from .services.events import Actor, ChangeContext
    from .services.links import links_for
    from .services.recipients import find_recipient, upsert_recipient
    from .services.topics import after_topic_commit, create_topic, get_topic

    samples = [
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
                upsert_recipient(f"demo-{n}", {"email": email, "phone": phone, "locale": "en-US"}, context)

    try:
        unit_of_work(create)
    except PrefsError as error:
        raise click.ClickException(f"demo data not added: {error.message}") from None
    after_topic_commit()
    recipient = find_recipient("demo-1")
    links = links_for(recipient.id, recipient.pk, "email", runtime().catalogue.get("newsletter"), "demo-message", None)
    click.echo("Topics newsletter and offers, recipients demo-1 and demo-2 are ready.", err=True)
    click.echo(f"Preference center: {links['preferences_url']}", err=True)
    click.echo(links["unsubscribe_url"])
