"""`flask --app app dnc import FILE --as-of YYYY-MM-DD`: the national do-not-call list, replaced whole (SPEC §17)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import partial

import click
from flask.cli import AppGroup

from ..db.transactions import unit_of_work
from ..decision import DNC_MAX_AGE_DAYS
from ..errors import PrefsError
from ..runtime import runtime
from .terminal import operator_name, progress

dnc_cli = AppGroup("dnc", help="The national do-not-call list.")

BATCH = 20_000  # numbers per transaction: short enough for other writers to get the SQLite write lock between them
SHOWN_BAD_LINES = 1000  # a wrong file could have millions; the count says how many there were


@dnc_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--as-of",
    "as_of",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The list's own date (YYYY-MM-DD): 31 days after it, marketing calls and texts answer dnc_list_stale.",
)
def dnc_import(path: str, as_of: datetime) -> None:
    """Load the do-not-call list from a file, one number a line (E.164, or national digits in the default
    region); blank lines and # comments are skipped.

    The new list replaces the one in force in a single commit once every number is in; until then checks use
    the old one. Only keyed hashes are stored. Bad lines are reported by number and skipped; exit status 1
    when any line was bad. A file without a single number changes nothing.
    """
    from ..services.dnc import add_numbers, begin_load, dnc_number, finish_load, superseded_generations

    day = as_of.date()
    today = datetime.now(UTC).date()
    if day > today + timedelta(days=1):
        raise click.BadParameter(f"{day} is in the future: give the date the list was published", param_hint="--as-of")
    rt = runtime()
    generation = unit_of_work(lambda: begin_load(day, os.path.basename(path)))
    bad: list[str] = []
    bad_count = 0
    batch: list[str] = []
    try:
        with open(path, "rb") as handle, progress("loading") as bar:
            task = bar.add_task("load", total=os.path.getsize(path))
            read = 0
            for line_number, raw in enumerate(handle, start=1):
                read += len(raw)
                text = raw.strip()
                if line_number == 1:
                    text = text.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark
                if not text or text.startswith(b"#"):
                    continue
                try:
                    batch.append(dnc_number(text.decode(), rt.phone_region))
                except (PrefsError, UnicodeDecodeError):
                    bad_count += 1
                    if len(bad) < SHOWN_BAD_LINES:
                        bad.append(f"line {line_number}: not a phone number")
                    continue
                if len(batch) >= BATCH:
                    unit_of_work(partial(add_numbers, rt.address_hash, generation, batch))
                    batch = []
                    bar.update(task, completed=read)
            if batch:
                unit_of_work(partial(add_numbers, rt.address_hash, generation, batch))
            bar.update(task, completed=read)
        stored = unit_of_work(lambda: finish_load(generation, bad_count, operator_name()))
    except BaseException as error:
        delete_generation_in_batches(generation)
        if isinstance(error, PrefsError):
            _report_bad(bad, bad_count)
            raise click.ClickException(f"{path}: {error.message}") from None
        raise
    # The switch is committed; the old list's numbers go now, a batch a transaction (should this stop halfway,
    # the next load clears what is left).
    for superseded in unit_of_work(superseded_generations):
        delete_generation_in_batches(superseded)
    _report_bad(bad, bad_count)
    click.echo(f"{stored} numbers in force, as of {day.isoformat()}; {bad_count} bad lines")
    if (today - day).days > DNC_MAX_AGE_DAYS:
        click.echo(
            f"warning: a list as of {day.isoformat()} is already more than 31 days old: marketing calls and texts answer"
            " dnc_list_stale until a fresh one is loaded",
            err=True,
        )
    if bad_count:
        raise SystemExit(1)


def delete_generation_in_batches(generation: int) -> None:
    """A generation not in force goes a range of hashes a transaction, so other writers are never held up long."""
    from ..services.dnc import HASH_RANGES, delete_generation, delete_numbers_between

    for lower, upper in HASH_RANGES:
        unit_of_work(partial(delete_numbers_between, generation, lower, upper))
    unit_of_work(partial(delete_generation, generation))


def _report_bad(bad: list[str], count: int) -> None:
    for message in bad:
        click.echo(message, err=True)
    if count > len(bad):
        click.echo(f"… and {count - len(bad)} more bad lines", err=True)
