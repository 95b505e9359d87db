"""`forumctl restore-drill`: prove that the tables can be restored, then clean up."""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from rich.console import Console

from forumctl.context import App, common_options
from forumctl.errors import AwsError, CheckFailed
from forumctl.output import print_table, table
from forumctl.restore_drill.model import TAG_DRILL, DrillRow, Method, drill_id
from forumctl.restore_drill.plan import plan_drill, restore_role, vault_and_owner
from forumctl.restore_drill.run import DrillRunner, row_for
from forumdb.tables import KINDS, Kind

WHAT_IS_CHECKED = (
    "What a drill proves: the restore call succeeds, the new table becomes ACTIVE with the "
    "layout's keys and indexes, and its items equal the source's item by item (count and "
    "the SHA-256 content checksum of forumctl backup/migrate). Source items written after the "
    "restore point (by their updatedAt/createdAt) are left out of the comparison and counted "
    "as changedSince; restored items the source no longer has were deleted after the restore "
    "point: counted as deletedSince, they do not fail the drill (to a past time, the latest "
    "restorable time, or a recovery point). Items missing from the restore, and items that "
    "differ though not changed since the restore point, fail it. Against moto (tests): moto's "
    "RestoreTableToPointInTime ignores the time and copies the current table, unless the test "
    "harness's PITR model is active (it keeps a change log and rewinds to the time). Recovery "
    "points: a DynamoDB backup (arn:aws:dynamodb:...:table/T/backup/ID) is restored with "
    "RestoreTableFromBackup; an AWS Backup recovery point (arn:aws:backup:...:recovery-point:ID, "
    "what AWS Backup makes while the account's advanced DynamoDB backup is on, the default) "
    "with an AWS Backup restore job (StartRestoreJob, followed with DescribeRestoreJob), which "
    "assumes --iam-role-arn, else the ForumDatabase's spec.backups.iamRoleArn, else the role the "
    "backup used (it needs backup:StartRestoreJob, backup:DescribeRestoreJob, "
    "backup:DescribeRecoveryPoint, backup:ListRecoveryPointsByResource, backup:ListRestoreJobs "
    "and iam:PassRole of that role to "
    "backup.amazonaws.com)."
)


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("restore-drill", epilog=WHAT_IS_CHECKED)
@click.option(
    "--table",
    "table_kind",
    type=click.Choice([*KINDS, "all"]),
    default="all",
    show_default=True,
    help="Which source table(s) to drill.",
)
@click.option(
    "--method",
    type=click.Choice(["both", "pitr", "recovery-point"]),
    default="both",
    show_default=True,
    help="pitr: RestoreTableToPointInTime; recovery-point: from a backup; both: each.",
)
@click.option(
    "--point-in-time",
    callback=_parse_time,
    metavar="ISO",
    help="PITR restore to this time (ISO 8601; UTC when no offset is given).",
)
@click.option(
    "--latest",
    is_flag=True,
    help="PITR restore to the latest restorable time (the default).",
)
@click.option(
    "--from-recovery-point",
    "recovery_point_arn",
    metavar="ARN",
    help="Restore this DynamoDB backup / recovery point ARN (needs a single --table).",
)
@click.option(
    "--latest-recovery-point",
    is_flag=True,
    help="Restore the newest completed recovery point of each table (the default): from "
    "the operator's backup vault when known, else from the table's DynamoDB backups and "
    "AWS Backup's recovery points of it in any vault.",
)
@click.option(
    "--backup-vault", help="Vault to take recovery points from (default: the operator's)."
)
@click.option(
    "--owner",
    metavar="NAMESPACE/NAME",
    help="The ForumDatabase the tables belong to, without reading it (vault name, owner tag).",
)
@click.option(
    "--iam-role-arn",
    "role_arn",
    metavar="ARN",
    help="Role AWS Backup assumes to restore an arn:aws:backup recovery point (default: the "
    "ForumDatabase's spec.backups.iamRoleArn, else the role the backup used).",
)
@click.option("--keep", is_flag=True, help="Keep the drill tables (tagged forumdb.io/drill).")
@click.option("--dry-run", is_flag=True, help="Check what would be restored; create nothing.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Seconds to wait for each restored table to become ACTIVE.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=10.0,
    show_default=True,
    help="Seconds between status checks while waiting.",
)
@common_options
def restore_drill(
    app: App,
    table_kind: str,
    method: str,
    point_in_time: datetime | None,
    latest: bool,
    recovery_point_arn: str | None,
    latest_recovery_point: bool,
    backup_vault: str | None,
    owner: str | None,
    role_arn: str | None,
    keep: bool,
    dry_run: bool,
    timeout: float,
    poll_interval: float,
) -> None:
    """Prove the tables can be restored: restore, compare with the source, clean up.

    Each table is restored into new tables named TABLE-drill-TIMESTAMP-pitr (point in time)
    and TABLE-drill-TIMESTAMP-rp (latest recovery point), tagged forumdb.io/drill; the drill
    waits for ACTIVE, compares them with the source (item counts and content checksums),
    reports per table, and deletes them (unless --keep; also on failure, Ctrl-C, SIGTERM).

    Recovery points that are AWS Backup resources (arn:aws:backup:...:recovery-point:ID:
    backups made while advanced DynamoDB backup is on, and cross-region copies) are restored
    by AWS Backup restore jobs; in a DR region whose backup vault holds only copies of the
    primary region's tables, the newest copy is restored. No recovery point at all, not even
    a copy, fails.

    Exit 0 when no restore fails (skipped ones do not); 1 when one differs or cannot be
    restored (the report says why); 3 on AWS or configuration errors (a missing source
    table or backup vault, or a drill table that could not be deleted); 130 (Ctrl-C) or 143
    (SIGTERM) when interrupted, after the drill tables are deleted (under -o json stdout then
    holds the CLI's error document: error, hint, exitCode).
    """
    methods = _methods(
        method,
        table_kind,
        point_in_time=point_in_time,
        latest=latest,
        recovery_point_arn=recovery_point_arn,
        latest_recovery_point=latest_recovery_point,
    )
    kinds: tuple[Kind, ...] = KINDS if table_kind == "all" else (table_kind,)  # type: ignore[assignment]
    tgt = app.target
    vault, owner = vault_and_owner(tgt, backup_vault, owner)
    role_arn = restore_role(tgt, role_arn)
    drill = drill_id()
    plans = plan_drill(
        tgt,
        kinds,
        methods,
        drill,
        point_in_time=point_in_time,
        recovery_point_arn=recovery_point_arn,
        vault=vault,
        role_arn=role_arn,
    )
    rows = [row_for(p) for p in plans]
    left: list[str] = []
    if not dry_run:
        runner = DrillRunner(tgt, app.output, drill, owner, timeout=timeout, poll=poll_interval)
        try:
            left = runner.run(plans, rows, keep=keep)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the runner has cleaned up
            _interrupted(app, drill, rows, exc, keep=keep)
    _report(app, drill, rows, dry_run=dry_run, keep=keep)
    if left:
        raise AwsError(
            f"drill tables left behind in {tgt.region}: {', '.join(left)}",
            hint=f"delete them (tag {TAG_DRILL}={drill}) with `aws dynamodb delete-table`",
        )
    failed = [r for r in rows if r.state == "fail"]
    if failed:
        raise CheckFailed(
            f"{len(failed)} of {len(rows)} drill restores failed in {tgt.region}: "
            + "; ".join(f"{r.target}: {r.reason}" for r in failed)
        )


def _methods(
    method: str,
    table_kind: str,
    *,
    point_in_time: datetime | None,
    latest: bool,
    recovery_point_arn: str | None,
    latest_recovery_point: bool,
) -> tuple[Method, ...]:
    """The restore methods asked for; a usage error (exit 2) for options that exclude each
    other or need another --method or --table."""
    if point_in_time is not None and latest:
        raise click.UsageError("--point-in-time and --latest exclude each other")
    if recovery_point_arn and latest_recovery_point:
        raise click.UsageError(
            "--from-recovery-point and --latest-recovery-point exclude each other"
        )
    if recovery_point_arn and table_kind == "all":
        raise click.UsageError("--from-recovery-point restores one table: pass --table KIND")
    methods: tuple[Method, ...] = (
        ("pitr", "recovery-point") if method == "both" else (method,)  # type: ignore[assignment]
    )
    if point_in_time is not None and "pitr" not in methods:
        raise click.UsageError("--point-in-time needs --method pitr or both")
    if recovery_point_arn and "recovery-point" not in methods:
        raise click.UsageError("--from-recovery-point needs --method recovery-point or both")
    return methods


def _interrupted(
    app: App, drill: str, rows: list[DrillRow], exc: KeyboardInterrupt, *, keep: bool
) -> NoReturn:
    """Exit 128 + the signal (130 Ctrl-C, 143 SIGTERM), with the CLI's error document on
    stdout under -o json, after the drill tables were deleted (or kept with --keep)."""
    signum = int(getattr(exc, "signum", signal.SIGINT))
    created = [r.target for r in rows if r.created]
    left = [r.target for r in rows if r.cleaned_up is False]
    if keep:
        what = f"drill tables kept (--keep): {', '.join(created) or 'none'}"
    elif left:
        what = f"drill tables left behind: {', '.join(left)}"
    else:
        what = f"drill tables deleted: {', '.join(created) or 'none created'}"
    message = (
        f"restore drill {drill} in {app.target.region} interrupted by "
        f"{signal.Signals(signum).name} before it finished: {what}"
    )
    hint = f"delete them (tag {TAG_DRILL}={drill})" if left or keep else None
    code = 128 + signum
    app.output.error(message, hint, code)
    sys.stderr.write(f"forumctl: error: {message}\n")
    click.get_current_context().exit(code)


def _report(app: App, drill: str, rows: list[DrillRow], *, dry_run: bool, keep: bool) -> None:
    tgt = app.target
    result = {
        "drillId": drill,
        "region": tgt.region,
        "target": tgt.describe(),
        "dryRun": dry_run,
        "kept": keep and not dry_run,
        # a drill table left behind (cleanedUp false) is a failure too: exit 3 says so
        "ok": all(r.state != "fail" and r.cleaned_up is not False for r in rows),
        "summary": _summary(rows),
        "tables": [r.model_dump(mode="json", by_alias=True) for r in rows],
    }

    def human(c: Console) -> None:
        title = f"restore drill {drill} in {tgt.region}" + (" (dry run)" if dry_run else "")
        print_table(c, table(title, _COLUMNS, [_human_row(r) for r in rows]))
        for r in rows:
            if r.reason:
                c.print(f"{r.target}: {r.reason}", highlight=False)
            if r.comparison and (r.comparison.changed_since or r.comparison.deleted_since):
                c.print(
                    f"{r.target}: not compared: {r.comparison.changed_since} changed since the "
                    f"restore point, {r.comparison.deleted_since} deleted since",
                    highlight=False,
                )
        c.print(result["summary"], highlight=False)

    app.output.emit(result, human)


_COLUMNS = [
    "method",
    "drill table",
    "restore point",
    "source items",
    "restored items",
    "checksum",
    "seconds",
    "result",
]


def _human_row(r: DrillRow) -> list[Any]:
    checksum = {None: "", True: "match", False: "DIFFERS"}[r.checksum_match]
    return [
        r.method,
        r.target,
        r.restore_point.isoformat(timespec="seconds") if r.restore_point else "",
        r.source_count,
        r.restored_count,
        checksum,
        r.duration_seconds,
        {"pass": "[green]ok[/]", "skipped": "[yellow]skipped[/]"}.get(r.state, "[red]FAIL[/]"),
    ]


def _summary(rows: list[DrillRow]) -> str:
    """One line saying what was verified and what was not (skipped rows are neither)."""

    def names(state: str) -> str:
        return ", ".join(f"{r.source} {r.method}" for r in rows if r.state == state) or "none"

    text = f"verified: {names('pass')}; failed: {names('fail')}"
    if any(r.state == "skipped" for r in rows):
        text += f"; not verified (skipped): {names('skipped')}"
    return text
