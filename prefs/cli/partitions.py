"""`flask --app app partitions ensure [--months N]`: consent_events' monthly partitions on PostgreSQL."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..models import utcnow
from ..services.partitions import MONTHS_AHEAD, ensure_event_partitions

partitions_cli = AppGroup("partitions", help="The monthly partitions of consent_events (PostgreSQL).")


@partitions_cli.command("ensure")
@click.option(
    "--months",
    default=MONTHS_AHEAD,
    show_default=True,
    type=click.IntRange(0, 120),
    help="Months after the current one that must have their partition.",
)
def partitions_ensure(months: int) -> None:
    """Create the partitions of consent_events for this month and the next MONTHS that are missing.

    Safe to run any time and as often as you like (the worker runs it when it starts and once a day). Events
    that went to the default partition for want of their month's move into it. SQLite: nothing to do.
    """
    report = unit_of_work(lambda: ensure_event_partitions(utcnow(), months))
    if not report.partitioned:
        click.echo("consent_events is not partitioned on this database (SQLite, or before migration 0014): nothing to do")
        return
    for name in report.created:
        click.echo(f"created {name}")
    click.echo(
        f"{len(report.created)} partitions created, {report.moved} events moved out of the default partition;"
        f" every month up to {report.covered_until} has its own"
    )
