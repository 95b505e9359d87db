"""`forumctl restore-drill`: prove that the tables can be restored, then clean up."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Console

from forumdb.cli.app import App, common_options
from forumdb.cli.errors import AwsError, CheckFailed
from forumdb.cli.output import table
from forumdb.cli.restore_drill_aws import (
    RestoreProblem,
    as_problem,
    aws_code,
    check_pitr,
    delete_table,
    describe_recovery_point,
    drill_tags,
    find_latest_recovery_point,
    start_restore,
    tag_table,
    wait_active,
)
from forumdb.cli.restore_drill_compare import compare_tables
from forumdb.cli.restore_drill_model import (
    TAG_DRILL,
    DrillRestore,
    DrillRow,
    Method,
    drill_id,
    drill_table_name,
)
from forumdb.cli.tables_cmd import describe, layout_problems
from forumdb.cli.target import Target
from forumdb.tables import KINDS, Kind, table_def

WHAT_IS_CHECKED = (
    "What a drill proves: the restore call succeeds, the new table becomes ACTIVE with the "
    "layout's keys and indexes, and its items equal the source's item by item (count and "
    "the SHA-256 content checksum of forumctl backup/migrate). Source items written after the "
    "restore point (by their updatedAt/createdAt) are left out of the comparison; items "
    "deleted from the source since then show as 'extra'. Against moto (tests): moto's "
    "RestoreTableToPointInTime ignores the time and copies the current table, unless the test "
    "harness's PITR model is active (it keeps a change log and rewinds to the time); AWS "
    "Backup recovery points are moto DynamoDB backups restored with RestoreTableFromBackup."
)


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C (a drill must not leave tables behind when killed)."""

    def _raise(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _vault_and_owner(
    tgt: Target, backup_vault: str | None, owner: str | None
) -> tuple[str | None, str | None]:
    from forumdb_operator import naming

    fdb = tgt.forumdb
    if fdb:
        owner = owner or naming.owner_value(fdb.namespace, fdb.name)
        backups_status = fdb.status.get("backups") or {}
        backups_spec = fdb.spec.get("backups") or {}
        backup_vault = backup_vault or backups_status.get("vaultName")
        backup_vault = backup_vault or backups_spec.get("vaultName")
    if owner and not backup_vault:
        ns, _, name = owner.partition("/")
        if not name:
            raise click.BadParameter(f"{owner!r}: expected NAMESPACE/NAME", param_hint="--owner")
        backup_vault = naming.vault_name(ns, name)
    return backup_vault, owner


def _plan(
    app: App,
    kinds: tuple[Kind, ...],
    methods: tuple[Method, ...],
    drill: str,
    point_in_time: datetime | None,
    recovery_point_arn: str | None,
    vault: str | None,
) -> list[DrillRestore]:
    tgt = app.target
    dynamodb, backup = tgt.pool().get(), tgt.pool().get("backup")
    plans = []
    for kind in kinds:
        source = tgt.tables[kind]
        for method in methods:
            plan = DrillRestore(
                kind=kind,
                method=method,
                source=source,
                target=drill_table_name(source, drill, method),
                point_in_time=point_in_time if method == "pitr" else None,
                recovery_point_arn=recovery_point_arn if method == "recovery-point" else None,
                vault=vault if method == "recovery-point" else None,
            )
            try:
                if describe(dynamodb, source) is None:
                    raise RestoreProblem(f"source table {source} does not exist in {tgt.region}")
                if describe(dynamodb, plan.target) is not None:
                    raise RestoreProblem(f"{plan.target} already exists in {tgt.region}")
                if method == "pitr":
                    check_pitr(dynamodb, plan, tgt.region)
                elif plan.recovery_point_arn:
                    describe_recovery_point(backup, dynamodb, plan, tgt.region)
                else:
                    find_latest_recovery_point(backup, dynamodb, plan, tgt.region)
            except RestoreProblem as exc:
                plan.problem = str(exc)
            except ClientError as exc:
                problem = as_problem(exc, f"{method} restore of {source} in {tgt.region}")
                if problem is None:
                    raise
                plan.problem = str(problem)
            plans.append(plan)
    return plans


def _row(plan: DrillRestore) -> DrillRow:
    return DrillRow(
        kind=plan.kind,
        method=plan.method,
        source=plan.source,
        target=plan.target,
        recovery_point_arn=plan.recovery_point_arn,
        restore_point=plan.restore_point,
        reason=plan.problem,
        ok=plan.problem is None,
    )


class _Drill:
    """Runs the planned restores, checks them, and always deletes what it created."""

    def __init__(
        self, app: App, drill: str, owner: str | None, *, timeout: float, poll: float
    ) -> None:
        self.app = app
        self.tgt = app.target
        self.drill = drill
        self.owner = owner
        self.timeout = timeout
        self.poll = poll
        self.dynamodb = self.tgt.pool().get()

    def start(self, plan: DrillRestore, row: DrillRow) -> bool:
        """Start one restore and tag the new table; False (with the reason) if it cannot."""
        try:
            desc = start_restore(self.dynamodb, plan)
        except ClientError as exc:
            problem = as_problem(exc, f"{plan.method} restore of {plan.source} in {self.region}")
            if problem is None:
                raise
            row.reason, row.ok = str(problem), False
            return False
        row.created, row.status = True, desc.get("TableStatus")
        row.restore_point = plan.restore_point
        self.tag(desc["TableArn"], plan, row, allow_busy=True)
        return True

    def tag(self, arn: str, plan: DrillRestore, row: DrillRow, *, allow_busy: bool) -> None:
        try:
            tag_table(self.dynamodb, arn, drill_tags(plan, self.drill, self.owner))
            row.tagged = True
        except ClientError as exc:
            if not (allow_busy and aws_code(exc) == "ResourceInUseException"):
                raise  # tagged once ACTIVE

    def check(self, plan: DrillRestore, row: DrillRow) -> None:
        """Wait for ACTIVE, check the layout, compare the content with the source."""
        try:
            row.status = wait_active(
                self.dynamodb, plan.target, timeout=self.timeout, poll=self.poll
            )
            desc = self.dynamodb.describe_table(TableName=plan.target)["Table"]
            if not row.tagged:
                self.tag(desc["TableArn"], plan, row, allow_busy=False)
            row.layout_problems = layout_problems(table_def(plan.kind), desc)
            comparison = compare_tables(
                self.tgt.pool(),
                plan.source,
                plan.target,
                self.tgt.key_names(plan.kind),
                plan.restore_point,
            )
        except RestoreProblem as exc:
            row.reason, row.ok = str(exc), False
            return
        except ClientError as exc:
            problem = as_problem(exc, f"checking {plan.target} in {self.region}")
            if problem is None:
                raise
            row.reason, row.ok = str(problem), False
            return
        row.comparison = comparison
        row.source_count = comparison.source_count
        row.restored_count = comparison.restored_count
        row.checksum_match = comparison.checksum_match
        reasons = [r for r in (comparison.reason(),) if r]
        if row.layout_problems:
            reasons.append("layout differs: " + "; ".join(row.layout_problems))
        row.ok = not reasons
        row.reason = "; ".join(reasons) or None

    def cleanup(self, rows: list[DrillRow]) -> list[str]:
        """Delete every table the drill created; returns those that could not be deleted."""
        left = []
        for row in rows:
            if not row.created:
                continue
            row.cleaned_up = delete_table(
                self.dynamodb, row.target, timeout=self.timeout, poll=self.poll
            )
            if not row.cleaned_up:
                left.append(row.target)
        return left

    @property
    def region(self) -> str | None:
        return self.tgt.region


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
    "the operator's backup vault when known, else from the table's DynamoDB backups.",
)
@click.option(
    "--backup-vault", help="Vault to take recovery points from (default: the operator's)."
)
@click.option(
    "--owner",
    metavar="NAMESPACE/NAME",
    help="The ForumDatabase the tables belong to, without reading it (vault name, owner tag).",
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
    keep: bool,
    dry_run: bool,
    timeout: float,
    poll_interval: float,
) -> None:
    """Restore each table into new tables named TABLE-drill-TIMESTAMP-pitr (point in time)
    and TABLE-drill-TIMESTAMP-rp (latest recovery point), tagged forumdb.io/drill, wait for
    ACTIVE, compare them with the source (item counts and content checksums), report per
    table, and delete them (unless --keep; also on failure, Ctrl-C and SIGTERM).

    Exit 0 only when every restore passes; 1 when one differs or cannot be restored (the
    report says why); 3 on AWS or configuration errors.
    """
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
    kinds: tuple[Kind, ...] = KINDS if table_kind == "all" else (table_kind,)  # type: ignore[assignment]
    tgt = app.target
    vault, owner = _vault_and_owner(tgt, backup_vault, owner)
    drill = drill_id()
    plans = _plan(app, kinds, methods, drill, point_in_time, recovery_point_arn, vault)
    rows = [_row(p) for p in plans]
    left: list[str] = []
    if not dry_run:
        runner = _Drill(app, drill, owner, timeout=timeout, poll=poll_interval)
        with _sigterm_as_interrupt():
            try:
                started = []
                for plan, row in zip(plans, rows, strict=True):
                    if plan.problem is None:
                        row_start = time.monotonic()
                        if runner.start(plan, row):
                            started.append((plan, row, row_start))
                for plan, row, row_start in started:
                    runner.check(plan, row)
                    row.duration_seconds = round(time.monotonic() - row_start, 3)
            except BaseException:
                if not keep:
                    app.output.note("restore-drill: interrupted; deleting the drill tables")
                raise
            finally:
                if not keep:
                    left = runner.cleanup(rows)
    _report(app, drill, rows, dry_run=dry_run, keep=keep)
    if left:
        raise AwsError(
            f"drill tables left behind in {tgt.region}: {', '.join(left)}",
            hint=f"delete them (tag {TAG_DRILL}={drill}) with `aws dynamodb delete-table`",
        )
    failed = [r for r in rows if not r.ok]
    if failed:
        raise CheckFailed(
            f"{len(failed)} of {len(rows)} drill restores failed in {tgt.region}: "
            + "; ".join(f"{r.target}: {r.reason}" for r in failed)
        )


def _report(app: App, drill: str, rows: list[DrillRow], *, dry_run: bool, keep: bool) -> None:
    tgt = app.target
    result = {
        "drillId": drill,
        "region": tgt.region,
        "target": tgt.describe(),
        "dryRun": dry_run,
        "kept": keep and not dry_run,
        "ok": all(r.ok for r in rows),
        "tables": [r.model_dump(mode="json", by_alias=True) for r in rows],
    }

    def human(c: Console) -> None:
        title = f"restore drill {drill} in {tgt.region}" + (" (dry run)" if dry_run else "")
        c.print(
            table(
                title,
                [
                    "table",
                    "method",
                    "drill table",
                    "restore point",
                    "source",
                    "restored",
                    "checksum",
                    "seconds",
                    "result",
                ],
                [
                    [
                        r.source,
                        r.method,
                        r.target,
                        r.restore_point.isoformat(timespec="seconds") if r.restore_point else "",
                        r.source_count,
                        r.restored_count,
                        ""
                        if r.checksum_match is None
                        else ("match" if r.checksum_match else "DIFFERS"),
                        r.duration_seconds,
                        "[green]ok[/]" if r.ok else "[red]FAIL[/]",
                    ]
                    for r in rows
                ],
            )
        )
        for r in rows:
            if r.reason:
                c.print(f"{r.target}: {r.reason}", highlight=False)

    app.output.emit(result, human)
