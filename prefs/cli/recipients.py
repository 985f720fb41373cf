"""`flask --app app recipients import FILE`: recipients in bulk from a CSV file."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from ..extensions import db
from ..runtime import runtime
from .terminal import CountingReader, progress

recipients_cli = AppGroup("recipients", help="Bulk operations on recipients.")


@recipients_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--processes", default=2, show_default=True, help="Processes that validate rows while this one writes.")
def recipients_import(path: str, processes: int) -> None:
    """Import recipients from a CSV file: id,email,phone,locale,time_zone and optional topic:channel yes/no columns.

    Upserts in batches; an empty cell leaves a field as it is. Bad rows are reported by line number and
    skipped, good rows kept; exit status 1 when any row was bad. Importing the same file again changes nothing.
    """
    from ..db.write_gate import gate
    from ..services.imports import ImportFileError, import_recipients

    rt = runtime()

    def write_batch(operation) -> None:
        with gate(rt.write_gate):
            operation()
            db.session.commit()

    with open(path, newline="", encoding="utf-8-sig") as handle, progress("importing") as bar:
        task = bar.add_task("import", total=os.path.getsize(path))
        reader = CountingReader(handle, lambda size: bar.advance(task, size))
        try:
            report = import_recipients(
                reader,
                os.path.basename(path),
                dict(rt.catalogue.all()),
                rt.phone_region,
                rt.address_hash,
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
