"""Loading items into the three tables and verifying them: shared by migrate, seed, restore."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from forumctl.batch import DEFAULT_POLICY, RetryPolicy
from forumctl.codec import Item, TableChecksum
from forumctl.contents import ContentReport, verify_contents
from forumctl.context import App
from forumctl.errors import AwsError, CheckFailed
from forumctl.output import print_table, table
from forumctl.sync import SyncResult, sync_items
from forumctl.tables_cmd import describe
from forumdb.tables import Kind, table_def

log = logging.getLogger(__name__)


@dataclass
class LoadJob:
    kind: Kind
    items: Iterable[Item]
    total: int | None  # for the progress bar; None if unknown (streamed)
    expected: TableChecksum | None = None  # what the items must add up to (restore)
    compare: bool | None = None  # None: compare only if the table holds items already
    track_digests: bool = True  # keep per-item digests to verify item by item


def require_tables(app: App, kinds: Iterable[Kind]) -> None:
    tgt = app.target
    client = tgt.pool().get()
    for kind in kinds:
        name = tgt.tables[kind]
        desc = describe(client, name)
        if desc is None:
            raise AwsError(
                f"table {name} does not exist in {tgt.region or 'the default region'}",
                hint="create it (`forumctl tables create`, or a ForumDatabase), or point at "
                "the region/prefix that holds it (--region, --table-prefix, --forumdb)",
            )
        if desc["TableStatus"] not in ("ACTIVE", "UPDATING"):
            raise AwsError(
                f"table {name} in {tgt.region} is {desc['TableStatus']}, not ACTIVE",
                hint="wait until it is ACTIVE (`forumctl tables list`)",
            )


def load(
    app: App,
    jobs: list[LoadJob],
    *,
    dry_run: bool,
    workers: int,
    verify: bool,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> tuple[list[SyncResult], list[ContentReport]]:
    tgt = app.target
    pool = tgt.pool(max_attempts=policy.max_attempts)
    results: list[SyncResult] = []
    reports: list[ContentReport] = []
    for job in jobs:
        name = tgt.tables[job.kind]
        verb = "checking" if dry_run else "writing"
        with app.output.progress(f"{verb} {name}", job.total) as advance:
            res = sync_items(
                pool,
                name,
                tgt.key_names(job.kind),
                job.items,
                workers=workers,
                dry_run=dry_run,
                compare=job.compare,
                track_digests=job.track_digests,
                # A post's id names it; its thread is part of its key only for the index.
                one_per_hash=table_def(job.kind).range_key is not None,
                policy=policy,
                progress=advance,
            )
        log.info(
            "table loaded",
            extra={
                "table": name,
                "written": res.written,
                "unchanged": res.unchanged,
                "removed": res.removed,
                "dryRun": dry_run,
            },
        )
        results.append(res)
        if job.expected is not None and job.expected != res.source:
            raise CheckFailed(
                f"{name}: the items read add up to {res.source}, expected {job.expected}"
            )
        if verify and not dry_run:
            reports.append(
                verify_contents(pool, name, tgt.key_names(job.kind), res.source, res.digests)
            )
    return results, reports


def load_and_report(
    app: App,
    jobs: list[LoadJob],
    *,
    title: str,
    extra: dict[str, Any],
    dry_run: bool,
    workers: int,
    verify: bool,
    max_attempts: int,
) -> None:
    """What migrate, seed and restore share: load, summarise, print, and fail loudly when
    the content did not verify."""
    results, reports = load(
        app,
        jobs,
        dry_run=dry_run,
        workers=workers,
        verify=verify,
        policy=RetryPolicy(max_attempts=max_attempts),
    )
    summary = summarize(results, reports)
    summary.update(extra)
    heading = title + (" (dry run)" if dry_run else "")
    app.output.emit(summary, lambda c: render(c, heading, summary))
    fail_if_unverified(reports)


def summarize(results: list[SyncResult], reports: list[ContentReport]) -> dict[str, Any]:
    by_table = {r.table: r for r in reports}
    rows = []
    for r in results:
        row: dict[str, Any] = {
            "table": r.table,
            "sourceItems": r.source.count,
            "sourceChecksum": r.source.hexdigest,
            ("wouldWrite" if r.dry_run else "written"): r.written,
            "unchanged": r.unchanged,
            # the same ids under another key (a post moved to another thread)
            ("wouldRemove" if r.dry_run else "removed"): r.removed,
            "compared": r.compared,
        }
        if r.table in by_table:
            row["verify"] = by_table[r.table].model_dump(by_alias=True)
            row["verify"]["ok"] = by_table[r.table].ok
        rows.append(row)
    return {"tables": rows, "ok": all(rep.ok for rep in reports)}


def render(c: Console, title: str, summary: dict[str, Any]) -> None:
    rows = []
    for r in summary["tables"]:
        v = r.get("verify")
        rows.append(
            [
                r["table"],
                r["sourceItems"],
                r.get("written", r.get("wouldWrite")),
                r["unchanged"],
                r.get("removed", r.get("wouldRemove")),
                "-" if v is None else ("ok" if v["ok"] else "MISMATCH"),
                r["sourceChecksum"][:16],
            ]
        )
    dry = any("wouldWrite" in r for r in summary["tables"])
    written, removed = ("would write", "would remove") if dry else ("written", "removed")
    columns = ["table", "items", written, "unchanged", removed, "verified", "checksum"]
    print_table(c, table(title, columns, rows))


def fail_if_unverified(reports: list[ContentReport]) -> None:
    bad = [r for r in reports if not r.ok]
    if bad:
        raise CheckFailed(
            "content did not verify: " + "; ".join(r.summary() for r in bad),
            hint="run the command again (it writes only what differs); if it persists, "
            "something else is writing to the tables",
        )
