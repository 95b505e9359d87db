"""`forumctl seed`: deterministic sample data into DynamoDB or a JSON data folder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from forumctl import sample
from forumctl.codec import Item, serialize_record
from forumctl.context import App, common_options, verify_option, write_options
from forumctl.errors import UsageProblem
from forumctl.loader import LoadJob, load_and_report, require_tables
from forumctl.output import print_table, table
from forumdb.tables import KINDS, Kind, table_def
from forumdb_services.storage.jsonstore import LOCK_NAME, SNAPSHOT_NAME


@click.command()
@click.option(
    "--users",
    "n_users",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Users to write (ids 1..N).",
)
@click.option(
    "--threads",
    "n_threads",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help="Threads to write (ids 1..N; each names one of the users as author).",
)
@click.option(
    "--posts",
    "n_posts",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Posts to write (ids 1..N; each in one of the threads, by one of the users).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same data.")
@click.option(
    "--storage-mode",
    type=click.Choice(["dynamodb", "json"]),
    help="Where to write (default: STORAGE_MODE, else json).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="JSON mode: the data folder (default: DATA_DIR, else ./data).",
)
@click.option(
    "--force",
    is_flag=True,
    help="JSON mode: replace a data folder that holds records (a db.json or a journal); its "
    "journals are kept beside it as journal-*.jsonl.replaced-<time>.",
)
@write_options
@verify_option
@click.option("--dry-run", is_flag=True, help="Say what would be written; write nothing.")
@common_options
def seed(
    app: App,
    n_users: int,
    n_threads: int,
    n_posts: int,
    seed: int,
    storage_mode: str | None,
    data_dir: Path | None,
    force: bool,
    workers: int,
    max_attempts: int,
    verify: bool,
    dry_run: bool,
) -> None:
    """Write deterministic sample users, threads and posts (ids 1..N, fixed timestamps).

    In dynamodb mode the items go through the same idempotent loader as migrate (a second
    run writes nothing; other sizes or another --seed replace what changed, raising the
    versions of what they overwrite). Threads need users, and posts need threads and users.
    In json mode DATA_DIR/<kind>/db.json files are written in the
    sample format, which the JSON backend reads.
    """
    _check_references(n_users, n_threads, n_posts)
    app.override_target(storage_mode=storage_mode, data_dir=data_dir)
    tgt = app.target
    sizes = {"n_users": n_users, "n_threads": n_threads, "n_posts": n_posts, "seed": seed}
    counts: dict[Kind, int] = {"users": n_users, "threads": n_threads, "posts": n_posts}
    if tgt.storage_mode == "json":
        _seed_json(app, tgt.data_dir, sizes, counts, force=force, dry_run=dry_run)
        return
    require_tables(app, KINDS)
    jobs = [LoadJob(kind, _items(kind, sizes), counts[kind]) for kind in KINDS]
    load_and_report(
        app,
        jobs,
        title="seed",
        extra={"target": tgt.describe(), "dryRun": dry_run, "seed": seed},
        dry_run=dry_run,
        workers=workers,
        verify=verify,
        max_attempts=max_attempts,
    )


def _check_references(n_users: int, n_threads: int, n_posts: int) -> None:
    """Threads name their author and posts their thread and author: without any, they would
    point at records that do not exist."""
    if n_threads and not n_users:
        raise click.UsageError(
            f"--threads {n_threads} needs --users 1 or more: every thread names its author"
        )
    if n_posts and not (n_threads and n_users):
        raise click.UsageError(
            f"--posts {n_posts} needs --threads 1 or more and --users 1 or more: every post "
            f"names its thread and its author (got --threads {n_threads} --users {n_users})"
        )


def _items(kind: Kind, sizes: dict[str, int]) -> Iterator[Item]:
    td = table_def(kind)
    return (serialize_record(td.to_item(r)) for r in sample.generate(kind, **sizes))


def _seed_json(
    app: App,
    data_dir: Path,
    sizes: dict[str, int],
    counts: dict[Kind, int],
    *,
    force: bool,
    dry_run: bool,
) -> None:
    rows: list[dict[str, Any]] = []
    held = {kind: _records_held(data_dir / kind) for kind in KINDS}
    if any(held.values()) and not force:  # checked for every kind before the first write
        files = [str(p) for paths in held.values() for p in paths]
        raise UsageProblem(
            "the data folder holds records: " + "; ".join(f"{f} exists" for f in files),
            hint="pass --force to replace them, or choose another --data-dir",
        )
    for kind in KINDS:
        path = data_dir / kind / SNAPSHOT_NAME
        if not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _store_writer_lock(path.parent):
                journals = _records_held(path.parent)  # again: the service may have written
                _write_snapshot(path, kind, sizes)
                _set_aside(journals)
        rows.append({"kind": kind, "file": str(path), "records": counts[kind]})
    result = {"storageMode": "json", "dataDir": str(data_dir), "dryRun": dry_run, "files": rows}

    def human(c: Console) -> None:
        title = f"seed {data_dir}" + (" (dry run: nothing written)" if dry_run else "")
        print_table(c, table(title, ["kind", "file", "records"], [list(r.values()) for r in rows]))

    app.output.emit(result, human)


def _records_held(folder: Path) -> list[Path]:
    """The files through which a JSON store holds records: its db.json and every non-empty
    journal (a store that never compacted keeps everything in its journal)."""
    found = [folder / SNAPSHOT_NAME] if (folder / SNAPSHOT_NAME).exists() else []
    found += [p for p in sorted(folder.glob("journal-*.jsonl")) if p.stat().st_size > 0]
    return found


@contextlib.contextmanager
def _store_writer_lock(folder: Path) -> Iterator[None]:
    """The lock the services' JSON store holds while it writes (jsonstore.LOCK_NAME): a running
    service's write never interleaves with the replacement, and reloads after it."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_snapshot(path: Path, kind: Kind, sizes: dict[str, int]) -> None:
    tmp = path.with_suffix(".json.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        # Streamed record by record: the sample format is one object holding a list.
        fh.write(f'{{"{kind}": [\n')
        for i, rec in enumerate(sample.generate(kind, **sizes)):
            fh.write(("" if i == 0 else ",\n") + json.dumps(rec, ensure_ascii=False))
        fh.write("\n]}\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _set_aside(held: list[Path]) -> None:
    """Journals of the replaced db.json: renamed, not deleted (--force replaces, loses nothing
    on disk), so that the store neither reads them nor warns about them."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for p in held:
        if p.name != SNAPSHOT_NAME:
            p.rename(p.with_name(f"{p.name}.replaced-{stamp}"))
