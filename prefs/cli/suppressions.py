"""`flask --app app suppressions import FILE`: addresses onto the suppression list in bulk."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..errors import PrefsError
from ..runtime import runtime
from .terminal import CountingReader, operator_name, progress

suppressions_cli = AppGroup("suppressions", help="The suppression list.")


@suppressions_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="import", show_default=True, help="Recorded with each suppression.")
def suppressions_import(path: str, source: str) -> None:
    """Suppress every address in a file, one email or phone number a line (blank lines and # comments skipped).

    Only keyed hashes are stored. Bad lines are reported by number; exit status 1 when any line was bad.
    """
    from ..addresses import normalize_email, normalize_phone
    from ..services.suppressions import suppress_imported

    rt = runtime()
    bad: list[str] = []
    batch: list[tuple[str, str]] = []  # (kind, normalised address)
    added = new = 0
    file_name, operator = os.path.basename(path), operator_name()

    def flush() -> None:
        nonlocal new
        new += unit_of_work(lambda: suppress_imported(rt.address_hash, batch, source[:32], file_name, operator))

    with open(path, encoding="utf-8-sig") as handle, progress("suppressing") as bar:
        task = bar.add_task("suppress", total=os.path.getsize(path))
        for number, line in enumerate(CountingReader(handle, lambda size: bar.advance(task, size)), start=1):
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
    click.echo(f"{added} addresses suppressed ({new} new to the list), {len(bad)} bad lines")
    if bad:
        raise SystemExit(1)
