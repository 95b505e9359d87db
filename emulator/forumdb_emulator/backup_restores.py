"""AWS Backup restore jobs of DynamoDB recovery points (StartRestoreJob, DescribeRestoreJob).

Sources: StartRestoreJob and DescribeRestoreJob API references and the botocore Backup model
(RestoreJobStatus PENDING | RUNNING | COMPLETED | ABORTED | FAILED; Metadata required); the
AWS Backup developer guide, "Restore testing inferred metadata" (DynamoDB's keys
`targetTableName`, `encryptionType`, `deletionProtection`, `kmsMasterKeyArn`; "key values are
not case sensitive") and "Restore a DynamoDB table" (a recovery point whose ARN begins with
arn:aws:backup is restored by AWS Backup; one beginning with arn:aws:dynamodb also can be).

A job is PENDING for AwsRules.job_created_seconds, then RUNNING for job_running_seconds (the
new table exists from RUNNING on, made from the recovery point's data as RestoreTableFromBackup
makes it), then COMPLETED with CreatedResourceArn. A target table that already exists fails the
job (Status FAILED with a StatusMessage; AWS's text is not published, this one names the table).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from moto.backup.exceptions import InvalidParameterValueException, ResourceNotFoundException
from moto.core.utils import unix_time
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Backup, RestoredTable

from .aws_errors import BackupError
from .backup_model import PendingJob
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.backup")


def snapshot_of(account: str, region: str, point_arn: str) -> Backup | None:
    """The data of a recovery point: AWS Backup's own (advanced backups, copies) or the
    DynamoDB backup a non-advanced recovery point is."""
    kept = STATE.backup.at(account, region).snapshots.get(point_arn)
    if kept is not None:
        return kept  # type: ignore[no-any-return]
    return dynamodb_backends[account][region].backups.get(point_arn)


def _find_point(account: str, region: str, arn: str) -> dict[str, Any]:
    for points in STATE.backup.at(account, region).recovery_points.values():
        if arn in points:
            return points[arn]
    raise ResourceNotFoundException(msg=f"Recovery point {arn} not found in {region}")


def _metadata_value(metadata: dict[str, str], key: str) -> str | None:
    """AWS Backup's restore metadata keys are not case sensitive (developer guide)."""
    for name, value in metadata.items():
        if name.lower() == key.lower():
            return value
    return None


def start_restore_job(
    account: str,
    region: str,
    *,
    recovery_point_arn: str,
    metadata: dict[str, str],
    iam_role_arn: str | None,
    resource_type: str | None,
) -> dict[str, Any]:
    """A PENDING restore job of a DynamoDB recovery point of this account and region."""
    point = _find_point(account, region, recovery_point_arn)
    if resource_type not in (None, point["ResourceType"]):
        raise InvalidParameterValueException(
            msg=f"ResourceType {resource_type} does not match recovery point "
            f"{recovery_point_arn} ({point['ResourceType']})"
        )
    target = _metadata_value(metadata, "targetTableName")
    if not target:
        # MissingParameterValueException: one of StartRestoreJob's errors in the botocore model
        raise BackupError(
            "MissingParameterValueException",
            f"Metadata targetTableName is required to restore DynamoDB recovery point "
            f"{recovery_point_arn} in {region}",
        )
    if snapshot_of(account, region, recovery_point_arn) is None:
        raise ResourceNotFoundException(
            msg=f"Recovery point {recovery_point_arn} has no data in {region}"
        )
    job: dict[str, Any] = {
        "AccountId": account,
        "RestoreJobId": str(uuid.uuid4()).upper(),
        "RecoveryPointArn": recovery_point_arn,
        "SourceResourceArn": point["ResourceArn"],
        "BackupVaultArn": point["BackupVaultArn"],
        "CreationDate": unix_time(),
        "Status": "PENDING",
        "PercentDone": "0.00%",
        "BackupSizeInBytes": point.get("BackupSizeInBytes", 0),
        "ResourceType": point["ResourceType"],
        "RecoveryPointCreationDate": point["CreationDate"],
    }
    if iam_role_arn:
        job["IamRoleArn"] = iam_role_arn
    STATE.backup.at(account, region).restore_jobs[job["RestoreJobId"]] = job
    running_at = time.monotonic() + STATE.rules.job_created_seconds
    STATE.backup.pending.append(
        PendingJob(
            kind="restore",
            account=account,
            region=region,
            job_id=job["RestoreJobId"],
            running_at=running_at,
            done_at=running_at + STATE.rules.job_running_seconds,
            backup_arn=recovery_point_arn,
            target_table=target,
        )
    )
    log.info(
        "restore job created",
        extra={"job": job["RestoreJobId"], "from": recovery_point_arn, "table": target},
    )
    return job


def _fail(job: dict[str, Any], problem: str) -> None:
    job.update(Status="FAILED", StatusMessage=problem, CompletionDate=unix_time())
    log.info("restore job failed", extra={"job": job["RestoreJobId"], "cause": problem})


def begin(pending: PendingJob, job: dict[str, Any]) -> bool:
    """PENDING -> RUNNING: the table is created from the recovery point's data. False when the
    job failed instead."""
    dynamodb = dynamodb_backends[pending.account][pending.region]
    target = pending.target_table or ""
    data = snapshot_of(pending.account, pending.region, pending.backup_arn or "")
    if data is None:
        _fail(job, f"recovery point {pending.backup_arn} was deleted")
        return False
    if target in dynamodb.tables:
        _fail(job, f"Table already exists: {target} ({pending.region})")
        return False
    table = RestoredTable(target, account_id=pending.account, region=pending.region, backup=data)
    table.source_backup_arn = job["RecoveryPointArn"]
    dynamodb.tables[target] = table
    job.update(Status="RUNNING", PercentDone="50.00%", CreatedResourceArn=table.table_arn)
    return True


def complete(job: dict[str, Any]) -> None:
    job.update(Status="COMPLETED", PercentDone="100.00%", CompletionDate=unix_time())
    log.info(
        "restore job completed",
        extra={"job": job["RestoreJobId"], "table": job.get("CreatedResourceArn")},
    )
