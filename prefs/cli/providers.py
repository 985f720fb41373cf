"""`flask --app app providers reconcile TARGET [--fix]`: a mail provider's suppression list against prefs (SPEC §15).

The sync through the outbox keeps the lists in step from the moment a target is configured; this command
finds what it could not: addresses stopped before the target was added, pushes that failed for good, or
changes made on the provider's side. Addresses are shown masked only (j***@example.com), never whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..extensions import db
from ..outbound.mail_providers import REQUESTS_PER_SECOND, PushResult, TargetSettings, client_for
from ..runtime import runtime
from ..services.provider_sync import ReconcilePlan, plan_reconcile, record_reconcile
from .terminal import operator_name

providers_cli = AppGroup("providers", help="The mail providers' suppression lists.")


@providers_cli.command("reconcile")
@click.argument("target")
@click.option("--fix", is_flag=True, help="Push what is missing and remove what prefs knows may get marketing.")
def reconcile(target: str, fix: bool) -> None:
    """Compare TARGET's suppression list (one of PREFS_SYNC_TARGETS) with what prefs says must be on it, and
    report the differences: addresses missing there, addresses there whose holder may get marketing, and what
    is left alone (the provider's own bounces and complaints, addresses prefs does not know). With --fix,
    push the missing ones and remove the extra ones (never one the provider reported itself). Exit status 1
    while differences remain.
    """
    settings = _target(target)
    client = client_for(settings)
    try:
        plan = plan_reconcile(runtime().address_hash, settings.name, client.listed())
    except Exception as failure:  # the SDKs raise their own kinds; no address is in what is said
        raise click.ClickException(f"could not read {settings.name}'s list: {_describe(failure)}") from None
    finally:
        db.session.rollback()
    _report(plan)
    remaining = len(plan.missing) + len(plan.extra)
    if fix and remaining:
        pushed = _each(plan.missing.values(), client.suppress, settings.name)
        removed = _each(plan.extra.values(), client.unsuppress, settings.name)
        unit_of_work(lambda: record_reconcile(settings.name, operator_name(), plan, pushed, removed))
        click.echo(f"{settings.name}: fixed: {pushed} pushed, {removed} removed, {remaining - pushed - removed} failed")
        remaining -= pushed + removed
    if remaining:
        raise SystemExit(1)


def _target(name: str) -> TargetSettings:
    targets = {target.name: target for target in current_app.config["PREFS_SYNC_TARGETS"]}
    if name not in targets:
        configured = ", ".join(targets) or "none"
        raise click.ClickException(f"{name!r} is not in PREFS_SYNC_TARGETS (configured: {configured})")
    return targets[name]


def _report(plan: ReconcilePlan) -> None:
    click.echo(f"{plan.target}: {plan.listed} addresses listed")
    click.echo(f"  missing there (prefs says no marketing): {len(plan.missing)}  {' '.join(plan.masked(plan.missing))}".rstrip())
    click.echo(f"  there, but their holder may get marketing: {len(plan.extra)}  {' '.join(plan.masked(plan.extra))}".rstrip())
    click.echo(f"  left alone: {plan.providers_own} recorded by {plan.target} itself, {plan.unknown} unknown to prefs")
    if plan.unreadable:
        click.echo(f"  left alone: {plan.unreadable} entries that are not email addresses")


def _each(addresses, call: Callable[[str], PushResult], target: str) -> int:
    """Make one request per address at the target's pace; returns how many succeeded (failures said, masked)."""
    pause = 1.0 / REQUESTS_PER_SECOND[target]
    succeeded = 0
    for address in sorted(addresses):
        result = call(address)
        if result.ok:
            succeeded += 1
        else:
            local, _, domain = address.partition("@")
            click.echo(f"  {local[:1]}***@{domain}: {result.error}", err=True)
        time.sleep(pause)
    return succeeded


def _describe(failure: Exception) -> str:
    status = getattr(getattr(failure, "response", None), "status_code", None) or getattr(failure, "status_code", None)
    return f"HTTP {status}" if status else type(failure).__name__
