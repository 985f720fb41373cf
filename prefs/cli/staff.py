"""Operator commands: `flask --app app staff create EMAIL --role ROLE`, `staff disable EMAIL`, `staff list`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from ..services.staff import ROLES, create_staff, list_staff, set_disabled, staff_by_email
from .terminal import operator_name

staff_cli = AppGroup("staff", help="Create, disable and list console staff accounts.")


def read_password() -> str:
    """From a hidden prompt (typed twice) at a terminal; else the first line of stdin, for scripts."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def refusal(error: PrefsError) -> click.ClickException:
    problems = [
        f"{field}: {' '.join(map(str, messages))}" for field, messages in error.details.items() if isinstance(messages, list)
    ]
    return click.ClickException(" ".join([error.message, *problems]))


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="viewer reads; agent also changes people; admin does all.")
def staff_create(email: str, role: str) -> None:
    """Create an account; the password comes from a prompt, or from stdin when it is not a terminal."""
    password = read_password()
    try:
        hasher = runtime().password_hasher
        staff = unit_of_work(lambda: create_staff(email, role, password, "cli", operator_name(), hasher=hasher))
    except PrefsError as error:
        raise refusal(error) from None
    click.echo(f"Created {staff.role} account {staff.email}.")


@staff_cli.command("disable")
@click.argument("email")
def staff_disable(email: str) -> None:
    """Disable an account: its sessions end at once and it cannot sign in."""
    try:
        changed = unit_of_work(lambda: set_disabled(staff_by_email(email), True, "cli", operator_name()))
    except PrefsError as error:
        raise refusal(error) from None
    click.echo(f"Disabled {email.strip().lower()}." if changed else f"{email.strip().lower()} was disabled already.")


@staff_cli.command("list")
def staff_list() -> None:
    """Email, role and state of every account (never a password or its hash)."""
    for staff in list_staff():
        state = f"disabled {staff.disabled_at:%Y-%m-%d}" if staff.disabled_at else "active"
        click.echo(f"{staff.email}\t{staff.role}\t{state}")
