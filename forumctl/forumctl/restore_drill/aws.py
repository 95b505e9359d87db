"""The AWS side of a restore drill: find what to restore from, restore into new tables, tag
them, wait for ACTIVE, delete them.

A recovery point is restored the way AWS allows for its kind (DynamoDB developer guide, Using
AWS Backup with DynamoDB: with AWS Backup's advanced DynamoDB backup, "Backup resource names
(ARNs) will change from arn:aws:dynamodb to arn:aws:backup"):
- arn:aws:dynamodb:REGION:ACCOUNT:table/T/backup/ID, a DynamoDB backup: RestoreTableFromBackup;
- arn:aws:backup:REGION:ACCOUNT:recovery-point:ID, an AWS Backup resource (advanced DynamoDB
  backup, on by default for accounts new to AWS Backup since November 2021, or a copy): only
  AWS Backup restores it, with StartRestoreJob (Metadata targetTableName, the IAM role AWS
  Backup assumes) followed with DescribeRestoreJob.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
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

# The role AWS Backup uses unless told otherwise (the operator's default, CRD
# spec.backups.iamRoleArn): the restore job assumes the same role as the backups.
DEFAULT_BACKUP_ROLE = "arn:{partition}:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"

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


def is_backup_recovery_point(arn: str | None) -> bool:
    """An AWS Backup resource (arn:PARTITION:backup:REGION:ACCOUNT:recovery-point:ID), restored
    only through AWS Backup restore jobs."""
    parts = (arn or "").split(":", 5)
    return len(parts) == 6 and parts[2] == "backup" and parts[5].startswith("recovery-point:")


def _is_dynamodb_backup(arn: str) -> bool:
    return ":dynamodb:" in arn and "/backup/" in arn


def default_restore_role(recovery_point_arn: str) -> str:
    """AWS Backup's default service role in the recovery point's partition and account."""
    parts = recovery_point_arn.split(":", 5)
    return DEFAULT_BACKUP_ROLE.format(partition=parts[1], account=parts[4])


def _table_name(arn: str | None) -> str | None:
    """The table name of a DynamoDB table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)."""
    if not arn or ":dynamodb:" not in arn or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0]


def _newest_completed(points: Iterable[dict[str, Any]]) -> tuple[datetime, str] | None:
    """The newest COMPLETED one of AWS Backup's recovery points (either List call's entries)."""
    newest: tuple[datetime, str] | None = None
    for point in points:
        if point.get("Status") == "COMPLETED":
            newest = _newer(newest, _utc(point.get("CreationDate")), point["RecoveryPointArn"])
    return newest


def _newest_in_vault(
    backup: Any, vault: str, wanted: Any, by_resource_arn: str | None
) -> tuple[datetime, str] | None:
    """The newest COMPLETED recovery point in the vault whose resource ARN `wanted` accepts."""
    kwargs: dict[str, Any] = {"BackupVaultName": vault}
    if by_resource_arn:
        kwargs["ByResourceArn"] = by_resource_arn
    pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(**kwargs)
    return _newest_completed(
        rp
        for page in pages
        for rp in page.get("RecoveryPoints", [])
        if wanted(rp.get("ResourceArn"))
    )


def _newest_dynamodb_backup(dynamodb: Any, table: str) -> tuple[datetime, str] | None:
    """The newest AVAILABLE backup that DynamoDB's ListBackups lists for the table.

    BackupType ALL: without it ListBackups lists USER backups only (botocore DynamoDB model,
    ListBackupsInput.BackupType: "USER - On-demand backup created by you. (The default setting
    if no other backup types are specified.)"; "ALL - All types of on-demand backups (USER and
    SYSTEM)."). Backups made by AWS Backup are not among them (ListBackups lists backups that
    "weren't made with Amazon Web Services Backup"): _newest_of_resource finds those."""
    newest: tuple[datetime, str] | None = None
    pages = dynamodb.get_paginator("list_backups").paginate(TableName=table, BackupType="ALL")
    for page in pages:
        for b in page.get("BackupSummaries", []):
            if b.get("BackupStatus") == "AVAILABLE":
                newest = _newer(newest, _utc(b.get("BackupCreationDateTime")), b["BackupArn"])
    return newest


def _points_of_resource(backup: Any, table_arn: str) -> Iterator[dict[str, Any]]:
    """AWS Backup's recovery points of the table, in whichever vault."""
    pages = backup.get_paginator("list_recovery_points_by_resource").paginate(ResourceArn=table_arn)
    for page in pages:
        yield from page.get("RecoveryPoints", [])


def _newest_of_resource(
    backup: Any, table_arn: str, region: str | None
) -> tuple[datetime, str] | None:
    """The newest COMPLETED recovery point AWS Backup made of the table, in whichever vault
    (ListRecoveryPointsByResource): an arn:aws:backup resource (advanced DynamoDB backup) or a
    DynamoDB backup of type AWS_BACKUP. None as well when the caller may not list them."""
    try:
        return _newest_completed(_points_of_resource(backup, table_arn))
    except ClientError as exc:
        if aws_code(exc) != "AccessDeniedException":
            raise
        log.warning(
            "AWS Backup's recovery points of the table cannot be listed: only its "
            "DynamoDB backups are looked at",
            extra={"table": table_arn, "region": region, "cause": str(exc)},
        )
        return None


def find_latest_recovery_point(
    backup: Any, dynamodb: Any, plan: DrillRestore, region: str | None
) -> None:
    """The newest completed recovery point of the source table: in the vault when one is
    known (AWS Backup), else among the table's DynamoDB backups and the recovery points AWS
    Backup made of it in any vault.

    In a DR region (after a failover) the vault holds cross-region copies of the primary
    region's table: their resource ARN names the same table in another region. When it holds
    only copies, the newest copy is restored (an AWS Backup recovery point: a restore job in
    this region)."""
    table_arn = dynamodb.describe_table(TableName=plan.source)["Table"]["TableArn"]
    newest: tuple[datetime, str] | None = None
    if plan.vault:
        newest = _newest_in_vault(
            backup, plan.vault, lambda arn: arn in (None, table_arn), table_arn
        )
        if newest is None:
            newest = _newest_in_vault(
                backup, plan.vault, lambda arn: _table_name(arn) == plan.source, None
            )
            if newest is not None:
                log.info(
                    "only cross-region copies in the vault: restoring the newest",
                    extra={"vault": plan.vault, "source": plan.source, "copy": newest[1]},
                )
        where = f"vault {plan.vault}"
    else:
        newest = _newest_dynamodb_backup(dynamodb, plan.source)
        made_by_backup = _newest_of_resource(backup, table_arn, region)
        if made_by_backup is not None:
            newest = _newer(newest, *made_by_backup)
        where = (
            "its DynamoDB backups nor AWS Backup's recovery points of it "
            "(no backup vault known: --forumdb, --owner, --backup-vault)"
        )
    if newest is None:
        raise RestoreProblem(f"no completed recovery point of {plan.source} ({region}) in {where}")
    plan.restore_point, plan.recovery_point_arn = newest


def describe_recovery_point(
    dynamodb: Any, backup: Any, plan: DrillRestore, region: str | None
) -> None:
    """Check that the recovery point is a completed backup of the source table: a DynamoDB
    backup (RestoreTableFromBackup) or an AWS Backup recovery point (StartRestoreJob); its
    creation time is the restore point."""
    arn = plan.recovery_point_arn or ""
    if is_backup_recovery_point(arn):
        _describe_backup_point(dynamodb, backup, plan, region)
        return
    if not _is_dynamodb_backup(arn):
        raise RestoreProblem(
            f"recovery point {arn} of {plan.source} ({region}) is neither a DynamoDB backup "
            "(arn:aws:dynamodb:REGION:ACCOUNT:table/T/backup/ID) nor an AWS Backup recovery "
            "point (arn:aws:backup:REGION:ACCOUNT:recovery-point:ID)"
        )
    details = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]
    created = _utc(details["BackupDetails"].get("BackupCreationDateTime"))
    plan.restore_point = created or plan.restore_point
    source = details.get("SourceTableDetails", {}).get("TableName")
    if source and source != plan.source:
        raise RestoreProblem(f"recovery point {arn} is a backup of {source}, not of {plan.source}")


def _vault_of(backup: Any, table_arn: str, arn: str) -> str | None:
    """The vault that holds recovery point `arn` of the table (ListRecoveryPointsByResource)."""
    for point in _points_of_resource(backup, table_arn):
        if point.get("RecoveryPointArn") == arn:
            return str(point["BackupVaultName"])
    return None


def _describe_backup_point(
    dynamodb: Any, backup: Any, plan: DrillRestore, region: str | None
) -> None:
    """DescribeRecoveryPoint: a COMPLETED DynamoDB recovery point of the source table; the
    restore job assumes the role the backup used unless one was given."""
    arn = plan.recovery_point_arn or ""
    vault = plan.vault
    if vault is None:
        table_arn = dynamodb.describe_table(TableName=plan.source)["Table"]["TableArn"]
        vault = _vault_of(backup, table_arn, arn)
        if vault is None:
            raise RestoreProblem(
                f"recovery point {arn} is not a recovery point of {plan.source} ({region}) "
                "that AWS Backup lists for the table: name its vault with --backup-vault"
            )
    point = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=arn)
    if point.get("ResourceType") != "DynamoDB" or point.get("Status") != "COMPLETED":
        raise RestoreProblem(
            f"recovery point {arn} in vault {vault} ({region}) is {point.get('Status')} "
            f"{point.get('ResourceType')}, not a COMPLETED DynamoDB recovery point"
        )
    source = _table_name(point.get("ResourceArn"))
    if source and source != plan.source:
        raise RestoreProblem(f"recovery point {arn} is a backup of {source}, not of {plan.source}")
    plan.restore_point = _utc(point.get("CreationDate")) or plan.restore_point
    plan.restore_role_arn = (
        plan.restore_role_arn or point.get("IamRoleArn") or default_restore_role(arn)
    )


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


def start_restore_job(backup: Any, plan: DrillRestore) -> str:
    """AWS Backup restores an arn:aws:backup recovery point into `plan.target` (StartRestoreJob
    with the DynamoDB metadata targetTableName; AWS Backup developer guide, Restore testing
    inferred metadata); returns the restore job's id."""
    arn = plan.recovery_point_arn or ""
    job = backup.start_restore_job(
        RecoveryPointArn=arn,
        IamRoleArn=plan.restore_role_arn or default_restore_role(arn),
        Metadata={"targetTableName": plan.target, "encryptionType": "Default"},
        ResourceType="DynamoDB",
    )
    log.info(
        "drill restore job started",
        extra={"source": plan.source, "target": plan.target, "job": job["RestoreJobId"]},
    )
    return str(job["RestoreJobId"])


def wait_restore_job(
    backup: Any, job_id: str, target: str, *, timeout: float, poll: float
) -> dict[str, Any]:
    """DescribeRestoreJob until COMPLETED; a FAILED or ABORTED job, or one still running after
    `timeout`, is a RestoreProblem naming the job, the table and AWS Backup's message."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = backup.describe_restore_job(RestoreJobId=job_id)
        status = job.get("Status")
        if status == "COMPLETED":
            return job
        if status in ("FAILED", "ABORTED"):
            raise RestoreProblem(
                f"AWS Backup restore job {job_id} into {target} {status}: "
                f"{job.get('StatusMessage') or 'no message'}"
            )
        if time.monotonic() >= deadline:
            raise RestoreProblem(
                f"AWS Backup restore job {job_id} into {target} is still {status} after "
                f"{timeout:g} s (--timeout): restore not finished"
            )
        time.sleep(poll)


def unfinished_restore_jobs(backup: Any, point_arn: str, since: datetime) -> list[str]:
    """Restore jobs of the recovery point started since `since` and still PENDING or RUNNING
    (ListRestoreJobs): how a drill finds a job whose StartRestoreJob answer it never got."""
    found: list[str] = []
    kwargs: dict[str, Any] = {"ByCreatedAfter": since}
    while True:
        page = backup.list_restore_jobs(**kwargs)
        found += [
            str(job["RestoreJobId"])
            for job in page.get("RestoreJobs", [])
            if job.get("RecoveryPointArn") == point_arn
            and job.get("Status") in ("PENDING", "RUNNING")
        ]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


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
