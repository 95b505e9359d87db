"""`forumctl backup --out FILE` and `forumctl restore --from FILE` (format: BACKUP_FORMAT.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console

from forumctl.backup_format import (
    End,
    Header,
    TableEnd,
    TableStart,
    dump_line,
    is_compressed,
    open_write,
    read_section,
    scan_file,
)
from forumctl.codec import TableChecksum, to_json_item
from forumctl.context import App, check_output_file, common_options, verify_option, write_options
from forumctl.errors import AwsError, UsageProblem
from forumctl.loader import LoadJob, load_and_report, require_tables
from forumctl.output import print_table, table
from forumctl.scan import scan_pages, segments_for
from forumctl.sync import table_is_empty
from forumctl.tables_cmd import describe
from forumdb import __version__
from forumdb.ids import utc_now
from forumdb.tables import KINDS, Kind, key_schema, table_def

FORMAT_HELP = (
    "Format (version 1, documented in BACKUP_FORMAT.md): JSON Lines, gzip when FILE ends in "
    ".gz; a header line, then per table a 'table' line, one 'item' line per item with its "
    "DynamoDB AttributeValues exactly (N as strings, B/BS as base64, SS/NS/L/M/BOOL/NULL as "
    "is), and a 'table-end' line with the count and checksum; then an 'end' line."
)


@click.command(epilog=FORMAT_HELP)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Backup file to write (.gz compresses).",
)
@click.option(
    "--segments",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Parallel Scan segments per table, at most (small tables use fewer).",
)
@click.option("--only", type=click.Choice(KINDS), multiple=True, help="Only these kinds.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("--dry-run", is_flag=True, help="Say what would be backed up; write no file.")
@common_options
def backup(
    app: App, out: Path, segments: int, only: tuple[Kind, ...], force: bool, dry_run: bool
) -> None:
    """Write the tables' items to a versioned, checksummed JSON Lines file.

    Each table is read with a parallel segmented Scan (strongly consistent) and streamed to
    the file page by page, so memory stays flat whatever the table size. The file appears
    under its name only when complete. Tables are read one after the other: the backup is
    consistent per table, not across tables (use PITR or AWS Backup for that).
    """
    kinds = only or KINDS
    check_output_file(app.path_option(out, "--out"), "--out")
    if out.exists() and not force and not dry_run:
        # the file is fine; the request is not (replace it?): a usage problem, not bad data
        raise UsageProblem(
            f"--out {out} exists", hint="pass --force to replace it, or choose another --out"
        )
    require_tables(app, kinds)
    tgt = app.target
    rows = _planned_rows(app, kinds) if dry_run else _write_backup(app, out, kinds, segments)
    result = {"file": str(out), "dryRun": dry_run, "target": tgt.describe(), "tables": rows}

    def human(c: Console) -> None:
        title = f"backup {out}" + (" (dry run: no file written)" if dry_run else "")
        print_table(
            c,
            table(
                title,
                ["kind", "table", "items", "checksum"],
                [[r["kind"], r["table"], r["items"], (r.get("checksum") or "")[:16]] for r in rows],
            ),
        )

    app.output.emit(result, human)


def _planned_rows(app: App, kinds: tuple[Kind, ...]) -> list[dict[str, Any]]:
    """--dry-run: each table and the item count DynamoDB last reported for it."""
    tgt = app.target
    client = tgt.pool().get()
    rows = []
    for kind in kinds:
        desc = describe(client, tgt.tables[kind]) or {}
        rows.append({"kind": kind, "table": tgt.tables[kind], "items": desc.get("ItemCount")})
    return rows


def _write_backup(
    app: App, out: Path, kinds: tuple[Kind, ...], segments: int
) -> list[dict[str, Any]]:
    """Write FILE.partial, then rename it to FILE once complete and on disk; one row per
    table (kind, name, count, checksum)."""
    tgt = app.target
    tmp = out.with_name(out.name + ".partial")
    rows: list[dict[str, Any]] = []
    try:
        with open_write(tmp, compress=is_compressed(out)) as fh:
            header = Header(
                createdAt=utc_now(), tool=f"forumctl {__version__}", source=tgt.describe()
            )
            fh.write(dump_line(header))
            for kind in kinds:
                rows.append(_write_table(app, fh, kind, segments))
            ends = {r["kind"]: {"count": r["items"], "checksum": r["checksum"]} for r in rows}
            fh.write(dump_line(End(tables=ends)))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _write_table(app: App, fh: IO[str], kind: Kind, segments: int) -> dict[str, Any]:
    """One table's section: its 'table' line, its items page by page, its 'table-end' line."""
    tgt = app.target
    pool = tgt.pool()
    name = tgt.tables[kind]
    fh.write(
        dump_line(TableStart(kind=kind, name=name, keySchema=key_schema(table_def(kind).key_attrs)))
    )
    total = TableChecksum()
    with app.output.progress(f"backing up {name}", None) as advance:
        for page in scan_pages(pool, name, segments=segments_for(pool, name, segments)):
            for item in page:
                total.add(item)
                fh.write(dump_line({"type": "item", "item": to_json_item(item)}))
            advance(len(page))
    fh.write(dump_line(TableEnd(kind=kind, count=total.count, checksum=total.hexdigest)))
    return {"kind": kind, "table": name, "items": total.count, "checksum": total.hexdigest}


@click.command(epilog=FORMAT_HELP)
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Backup file written by `forumctl backup`.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Restore into tables that already hold items: items with the same keys are "
    "overwritten (their version raised), a post the backup has in another thread replaces "
    "the table's copy, other items are kept.",
)
@write_options
@verify_option
@click.option("--dry-run", is_flag=True, help="Check the file and the targets; write nothing.")
@common_options
def restore(
    app: App,
    source: Path,
    force: bool,
    workers: int,
    max_attempts: int,
    verify: bool,
    dry_run: bool,
) -> None:
    """Load a backup into the target tables (names from the target, not from the file).

    The whole file is checked first (structure, and every table's count and checksum), so a
    damaged or truncated backup is refused (exit 4) before anything is written. Target tables
    must be empty unless --force. Items are written like migrate (batches of 25, parallel,
    retried) and each table is verified against the backup's checksum afterwards (exit 1).
    """
    header, sections = scan_file(source)
    kinds = [s.kind for s in sections]
    require_tables(app, kinds)
    tgt = app.target
    pool = tgt.pool()
    jobs = []
    for section in sections:
        name = tgt.tables[section.kind]
        empty = table_is_empty(pool, name)
        if not empty and not force:
            raise AwsError(
                f"table {name} in {tgt.region} is not empty; restore refuses to mix data",
                hint="restore into fresh tables (--table-prefix), or pass --force to overwrite "
                "items with the same keys",
            )
        jobs.append(
            LoadJob(
                section.kind,
                read_section(source, section),
                section.count,
                expected=section.checksum,
                compare=not empty,
                # An empty table must end up equal to the section: totals suffice.
                track_digests=not empty,
            )
        )
    load_and_report(
        app,
        jobs,
        title=f"restore {source}",
        extra={
            "file": str(source),
            "backupCreatedAt": header.createdAt,
            "backupSource": header.source,
            "target": tgt.describe(),
            "dryRun": dry_run,
        },
        dry_run=dry_run,
        workers=workers,
        verify=verify,
        max_attempts=max_attempts,
    )
