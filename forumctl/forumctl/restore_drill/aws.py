"""The AWS side of a restore drill: find what to restore from, restore into new tables, tag
them, wait for ACTIVE, delete them."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from forumctl.restore_drill.model import (
    TAG_DRILL,
    TAG_DRILL_METHOD,
    TAG_DRILL_SOURCE,
    DrillRestore,
)
from forumdb.naming import TAG_OWNER

log = logging.getLogger(__name__)

# Codes that mean "this restore cannot run" (a finding of the drill, not a crash).
_FINDING_CODES = {
    "ResourceNotFoundException",
    "TableNotFoundException",
    "SourceTableNotFoundException",
    "BackupNotFoundException",
    "PointInTimeRecoveryUnavailableException",
    "InvalidRestoreTimeException",
    "TableAlreadyExistsException",
    "ValidationException",
    "InvalidParameterValueException",
    "LimitExceededException",
}


class RestoreProblem(Exception):
    """A restore that cannot run, with the reason (table, region and cause)."""


def aws_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def as_problem(exc: ClientError, what: str) -> RestoreProblem | None:
    if aws_code(exc) not in _FINDING_CODES:
        return None
    err = exc.response.get("Error", {})
    return RestoreProblem(f"{what}: {exc.operation_name}: {err.get('Code')}: {err.get('Message')}")


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


# -- planning --------------------------------------------------------------------------------


def check_pitr(dynamodb: Any, plan: DrillRestore, region: str | None) -> None:
    """PITR must be on and the requested time inside its window; sets `restore_point`."""
    desc = dynamodb.describe_continuous_backups(TableName=plan.source)
    pitr = desc["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    status = pitr.get("PointInTimeRecoveryStatus")
    if status != "ENABLED":
        raise RestoreProblem(
            f"point-in-time recovery of {plan.source} in {region} is {status or 'unknown'}: "
            "nothing to restore from (enable PITR, e.g. spec.pointInTimeRecovery)"
        )
    earliest = _utc(pitr.get("EarliestRestorableDateTime"))
    latest = _utc(pitr.get("LatestRestorableDateTime"))
    if plan.point_in_time is None:
        plan.restore_point = latest
        return
    wanted = plan.point_in_time
    if (earliest and wanted < earliest) or (latest and wanted > latest):
        raise RestoreProblem(
            f"{wanted.isoformat()} is outside the restorable window of {plan.source} in "
            f"{region} ({earliest.isoformat() if earliest else '?'} .. "
            f"{latest.isoformat() if latest else '?'})"
        )
    plan.restore_point = wanted


def _newer(
    newest: tuple[datetime, str] | None, created: datetime | None, arn: str
) -> tuple[datetime, str] | None:
    if created is None or (newest is not None and newest[0] >= created):
        return newest
    return created, arn


def _table_name(arn: str | None) -> str | None:
    """The table name of a DynamoDB table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)."""
    if not arn or ":dynamodb:" not in arn or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0]


def _newest_in_vault(
    backup: Any, vault: str, wanted: Any, by_resource_arn: str | None
) -> tuple[datetime, str] | None:
    """The newest COMPLETED recovery point in the vault whose resource ARN `wanted` accepts."""
    newest: tuple[datetime, str] | None = None
    kwargs: dict[str, Any] = {"BackupVaultName": vault}
    if by_resource_arn:
        kwargs["ByResourceArn"] = by_resource_arn
    while True:
        page = backup.list_recovery_points_by_backup_vault(**kwargs)
        for rp in page.get("RecoveryPoints", []):
            created = _utc(rp.get("CreationDate"))
            usable = rp.get("Status") == "COMPLETED" and created is not None
            if usable and wanted(rp.get("ResourceArn")):
                newest = _newer(newest, created, rp["RecoveryPointArn"])
        if not page.get("NextToken"):
            return newest
        kwargs["NextToken"] = page["NextToken"]


def find_latest_recovery_point(
    backup: Any, dynamodb: Any, plan: DrillRestore, region: str | None
) -> None:
    """The newest completed recovery point of the source table: in the vault when one is
    known (AWS Backup), else among the table's DynamoDB backups.

    In a DR region (after a failover) the vault holds cross-region copies of the primary
    region's table: their resource ARN names the same table in another region. Such copies
    restore only through AWS Backup restore jobs, which a drill does not run, so when only
    copies are found the restore is skipped (`plan.skip`), not failed."""
    table_arn = dynamodb.describe_table(TableName=plan.source)["Table"]["TableArn"]
    newest: tuple[datetime, str] | None = None
    if plan.vault:
        newest = _newest_in_vault(
            backup, plan.vault, lambda arn: arn in (None, table_arn), table_arn
        )
        if newest is None:
            copy = _newest_in_vault(
                backup, plan.vault, lambda arn: _table_name(arn) == plan.source, None
            )
            if copy is not None:
                plan.restore_point, plan.recovery_point_arn = copy
                plan.skip = (
                    f"recovery-point half not verified: vault {plan.vault} ({region}) holds "
                    f"only cross-region copies of {plan.source} (newest {copy[1]}), which "
                    "restore through AWS Backup restore jobs; restore-drill does not run "
                    "those (point-in-time recovery is still drilled)"
                )
                return
        where = f"vault {plan.vault}"
    else:
        kwargs: dict[str, Any] = {"TableName": plan.source}
        while True:
            page = dynamodb.list_backups(**kwargs)
            for b in page.get("BackupSummaries", []):
                created = _utc(b.get("BackupCreationDateTime"))
                if b.get("BackupStatus") == "AVAILABLE" and created is not None:
                    newest = _newer(newest, created, b["BackupArn"])
            if not page.get("LastEvaluatedBackupArn"):
                break
            kwargs["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
        where = "its DynamoDB backups (no backup vault known: --forumdb, --owner, --backup-vault)"
    if newest is None:
        raise RestoreProblem(f"no completed recovery point of {plan.source} ({region}) in {where}")
    plan.restore_point, plan.recovery_point_arn = newest


def describe_recovery_point(dynamodb: Any, plan: DrillRestore, region: str | None) -> None:
    """Check that the recovery point is a DynamoDB backup of the source table (what
    RestoreTableFromBackup restores); its creation time is the restore point."""
    arn = plan.recovery_point_arn or ""
    if ":dynamodb:" not in arn or "/backup/" not in arn:
        raise RestoreProblem(
            f"recovery point {arn} of {plan.source} ({region}) is not a DynamoDB backup ARN "
            "(arn:aws:dynamodb:REGION:ACCOUNT:table/T/backup/ID): copies and AWS Backup "
            "advanced DynamoDB backups restore through AWS Backup restore jobs, which "
            "restore-drill does not run"
        )
    details = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]
    created = _utc(details["BackupDetails"].get("BackupCreationDateTime"))
    plan.restore_point = created or plan.restore_point
    source = details.get("SourceTableDetails", {}).get("TableName")
    if source and source != plan.source:
        raise RestoreProblem(f"recovery point {arn} is a backup of {source}, not of {plan.source}")


# -- restoring -------------------------------------------------------------------------------


def start_restore(dynamodb: Any, plan: DrillRestore) -> dict[str, Any]:
    """Start the restore into `plan.target` (on-demand billing: a drill has no capacity plan)."""
    common = {"TargetTableName": plan.target, "BillingModeOverride": "PAY_PER_REQUEST"}
    if plan.method == "pitr":
        kwargs: dict[str, Any] = {"SourceTableName": plan.source, **common}
        if plan.point_in_time is None:
            kwargs["UseLatestRestorableTime"] = True
        else:
            kwargs["RestoreDateTime"] = plan.point_in_time
        desc = dynamodb.restore_table_to_point_in_time(**kwargs)["TableDescription"]
    else:
        desc = dynamodb.restore_table_from_backup(BackupArn=plan.recovery_point_arn, **common)[
            "TableDescription"
        ]
    log.info(
        "drill restore started",
        extra={"source": plan.source, "target": plan.target, "method": plan.method},
    )
    summary = desc.get("RestoreSummary") or {}
    if plan.method == "pitr" and summary.get("RestoreDateTime") is not None:
        plan.restore_point = _utc(summary["RestoreDateTime"]) or plan.restore_point
    return desc


def drill_tags(plan: DrillRestore, drill: str, owner: str | None) -> list[dict[str, str]]:
    tags = {TAG_DRILL: drill, TAG_DRILL_SOURCE: plan.source, TAG_DRILL_METHOD: plan.method}
    if owner:
        tags[TAG_OWNER] = owner
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_table(dynamodb: Any, arn: str, tags: list[dict[str, str]]) -> None:
    dynamodb.tag_resource(ResourceArn=arn, Tags=tags)


def wait_active(dynamodb: Any, table: str, *, timeout: float, poll: float) -> str:
    """Wait until the table is ACTIVE; returns its status (raises RestoreProblem on timeout)."""
    attempts = max(1, int(timeout // max(poll, 0.001)) + 1)
    try:
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": poll, "MaxAttempts": attempts}
        )
    except WaiterError as exc:
        status = (exc.last_response or {}).get("Table", {}).get("TableStatus", "unknown")
        raise RestoreProblem(
            f"{table} is still {status} after {timeout:g} s (--timeout): restore not finished"
        ) from None
    return str(dynamodb.describe_table(TableName=table)["Table"]["TableStatus"])


def delete_table(dynamodb: Any, table: str, *, timeout: float, poll: float) -> bool:
    """Delete a drill table; a table still being restored is waited for first (DynamoDB
    refuses to delete it while CREATING). True when it is gone or going."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            dynamodb.delete_table(TableName=table)
            log.info("drill table deleted", extra={"table": table})
            return True
        except ClientError as exc:
            code = aws_code(exc)
            if code == "ResourceNotFoundException":
                return True
            if code != "ResourceInUseException" or time.monotonic() >= deadline:
                log.warning("drill table not deleted", extra={"table": table, "cause": str(exc)})
                return False
        time.sleep(poll)
