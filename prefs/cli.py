"""Operator commands: `flask --app app keys …`."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .errors import PrefsError
from .extensions import db
from .models import ApiKey
from .services.api_keys import SCOPES, create_key, revoke_key
from .runtime import runtime
from .transactions import commit

keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")


def _operator() -> str:
    import getpass

    return getpass.getuser()


@keys_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="Repeat for several.")
def keys_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once, alone on the last line, and only its hash is kept."""
    try:
        key = commit(lambda: create_key(name, list(scopes), "cli", _operator()))
    except PrefsError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created API key {name!r} with scopes: {' '.join(scopes)}. Store it now; it cannot be shown again.", err=True)
    click.echo(key)


@keys_cli.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke a key; every worker refuses it within 5 seconds."""
    try:
        commit(lambda: revoke_key(name, "cli", _operator()))
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
