"""`flask --app app keys create|revoke|list`: API keys."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from ..services.api_keys import SCOPES, create_key, list_keys, revoke_key
from .terminal import operator_name

keys_cli = AppGroup("keys", help="Create, list and revoke API keys.")


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
    for api_key in list_keys():
        state = f"revoked {api_key.revoked_at:%Y-%m-%d}" if api_key.revoked_at else "active"
        click.echo(f"{api_key.name}\t{api_key.scopes}\t{state}")
