"""`forumctl migrate --from DIR`: a JSON data folder into the DynamoDB tables."""

from __future__ import annotations

from pathlib import Path

import click

from forumctl.context import App, common_options, verify_option, write_options
from forumctl.loader import LoadJob, load_and_report, require_tables
from forumctl.sources import read_records, records_to_items, source_file
from forumdb.tables import KINDS, Kind


@click.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Data folder with users/db.json, threads/db.json, posts/db.json (sample format or "
    "the JSON store's own).",
)
@click.option(
    "--only",
    type=click.Choice(KINDS),
    multiple=True,
    help="Migrate only these kinds (repeatable; default all three).",
)
@write_options
@verify_option
@click.option("--dry-run", is_flag=True, help="Read and compare; write nothing; report counts.")
@common_options
def migrate(
    app: App,
    source: Path,
    only: tuple[Kind, ...],
    workers: int,
    max_attempts: int,
    verify: bool,
    dry_run: bool,
) -> None:
    """Copy a JSON data folder into the DynamoDB tables.

    Ids and timestamps the classic sample lacks are assigned deterministically
    (forumdb.legacy), and each item is compared with the table before it is written, so a
    second run writes nothing and a run that was interrupted can simply be started again.
    Two records with one id in a file are refused (exit 4) before anything is written. A post
    the files now put in another thread replaces its old item (counted as removed). An item
    overwritten with other content gets the table's version + 1, never an older version.
    Writes go in BatchWriteItem batches of 25 from parallel workers; unprocessed items are
    retried with exponential backoff and jitter, and the command fails (exit 3) rather than
    drop any. Afterwards each table is scanned and every migrated item checked by checksum
    (exit 1 on a mismatch).
    """
    kinds = only or KINDS
    require_tables(app, kinds)
    jobs = []
    # Every kind is read and checked before the first write: bad data leaves the tables
    # as they were.
    for kind in kinds:
        records = read_records(source, kind)
        items = records_to_items(source_file(source, kind), kind, records)
        jobs.append(LoadJob(kind, items, len(items)))
    load_and_report(
        app,
        jobs,
        title=f"migrate {source}",
        extra={"source": str(source), "target": app.target.describe(), "dryRun": dry_run},
        dry_run=dry_run,
        workers=workers,
        verify=verify,
        max_attempts=max_attempts,
    )
