"""AWS Backup jobs: backups of DynamoDB tables into vaults, copies into other regions' vaults.

A backup job of a DynamoDB table makes a real moto DynamoDB backup (type AWS_BACKUP), so the
recovery point ARN restores with RestoreTableFromBackup; a copy is a recovery point of its own
(a backup ARN) in the destination vault. Jobs complete at once. Running a plan "now" does
what the scheduler does for each rule: one job per selected resource, then the rule's
CopyActions.
"""

from __future__ import annotations

import fnmatch
import logging
import uuid
from typing import Any

from moto.backup.exceptions import InvalidParameterValueException, ResourceNotFoundException
from moto.backup.models import BackupBackend, Plan, Vault, backup_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import unix_time
from moto.dynamodb.models import dynamodb_backends

from .backup_model import RegionalBackup
from .models import RunPlanRequest
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.backup")

DAY_SECONDS = 86_400


def backup_backend(account: str, region: str) -> BackupBackend:
    return backup_backends[account][region]


def regional(account: str, region: str) -> RegionalBackup:
    return STATE.backup.at(account, region)


def _new_id() -> str:
    return str(uuid.uuid4()).upper()


def _parse_arn(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise InvalidParameterValueException(msg=f"Invalid ARN: {arn}")
    return parts[2], parts[3], parts[4], parts[5]


def _calculated_lifecycle(created: float, lifecycle: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lifecycle and lifecycle.get("DeleteAfterDays"):
        out["DeleteAt"] = created + int(lifecycle["DeleteAfterDays"]) * DAY_SECONDS
    if lifecycle and lifecycle.get("MoveToColdStorageAfterDays"):
        out["MoveToColdStorageAt"] = (
            created + int(lifecycle["MoveToColdStorageAfterDays"]) * DAY_SECONDS
        )
    return out


def _add_recovery_point(account: str, region: str, vault: Vault, point: dict[str, Any]) -> None:
    regional(account, region).recovery_points.setdefault(vault.backup_vault_name, {})[
        point["RecoveryPointArn"]
    ] = point
    vault.num_of_recovery_points += 1


def start_backup_job(
    account: str,
    region: str,
    *,
    vault_name: str,
    resource_arn: str,
    iam_role_arn: str,
    lifecycle: dict[str, Any] | None = None,
    created_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Back `resource_arn` up into the vault; the job completes (or fails) at once."""
    vault = backup_backend(account, region).describe_backup_vault(vault_name)
    now = unix_time()
    job: dict[str, Any] = {
        "AccountId": account,
        "BackupJobId": _new_id(),
        "BackupVaultName": vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "ResourceArn": resource_arn,
        "ResourceType": "DynamoDB",
        "IamRoleArn": iam_role_arn,
        "CreationDate": now,
        "StartBy": now + 8 * 3600,
        "IsParent": False,
    }
    if created_by:
        job["CreatedBy"] = created_by
    service, resource_region, resource_account, resource = _parse_arn(resource_arn)
    table_name = resource.split("/", 1)[1] if resource.startswith("table/") else None
    problem = None
    if service != "dynamodb" or table_name is None:
        problem = f"resource {resource_arn} is not a DynamoDB table (only DynamoDB is emulated)"
    elif (resource_region, resource_account) != (region, account):
        problem = f"resource {resource_arn} is not in this account and region ({account}, {region})"
    elif table_name not in dynamodb_backends[account][region].tables:
        problem = f"table {table_name} not found in {region}"
    if problem is not None:
        job.update(State="FAILED", StatusMessage=problem, PercentDone="0.0")
        log.info("backup job failed", extra={"job": job["BackupJobId"], "cause": problem})
    else:
        backup = dynamodb_backends[account][region].create_backup(
            table_name, f"AwsBackup-{job['BackupJobId']}"
        )
        backup.type = "AWS_BACKUP"
        size = max(1, len(backup.table)) * 100
        point = {
            "RecoveryPointArn": backup.arn,
            "BackupVaultName": vault_name,
            "BackupVaultArn": vault.backup_vault_arn,
            "ResourceArn": resource_arn,
            "ResourceType": "DynamoDB",
            "ResourceName": table_name,
            "IamRoleArn": iam_role_arn,
            "Status": "COMPLETED",
            "CreationDate": now,
            "CompletionDate": now,
            "BackupSizeInBytes": size,
            "IsEncrypted": False,
            "StorageClass": "WARM",
            "Lifecycle": lifecycle or {},
            "CalculatedLifecycle": _calculated_lifecycle(now, lifecycle),
        }
        if created_by:
            point["CreatedBy"] = created_by
        _add_recovery_point(account, region, vault, point)
        job.update(
            State="COMPLETED",
            PercentDone="100.0",
            CompletionDate=now,
            RecoveryPointArn=backup.arn,
            BackupSizeInBytes=size,
        )
        log.info(
            "backup job completed",
            extra={"job": job["BackupJobId"], "resource": resource_arn, "vault": vault_name},
        )
    regional(account, region).backup_jobs[job["BackupJobId"]] = job
    return job


def find_recovery_point(account: str, region: str, vault_name: str, arn: str) -> dict[str, Any]:
    point = regional(account, region).recovery_points.get(vault_name, {}).get(arn)
    if point is None:
        raise ResourceNotFoundException(
            msg=f"Recovery point {arn} not found in vault {vault_name} ({region})"
        )
    return point


def start_copy_job(
    account: str,
    region: str,
    *,
    source_vault_name: str,
    recovery_point_arn: str,
    destination_vault_arn: str,
    iam_role_arn: str,
    lifecycle: dict[str, Any] | None = None,
    created_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy a recovery point into a vault, usually of another region: a new recovery point."""
    source_vault = backup_backend(account, region).describe_backup_vault(source_vault_name)
    source = find_recovery_point(account, region, source_vault_name, recovery_point_arn)
    service, dest_region, dest_account, resource = _parse_arn(destination_vault_arn)
    if service != "backup" or not resource.startswith("backup-vault:"):
        raise InvalidParameterValueException(
            msg=f"Invalid destination backup vault ARN: {destination_vault_arn}"
        )
    dest_vault_name = resource.split(":", 1)[1]
    now = unix_time()
    job: dict[str, Any] = {
        "AccountId": account,
        "CopyJobId": _new_id(),
        "SourceBackupVaultArn": source_vault.backup_vault_arn,
        "SourceRecoveryPointArn": recovery_point_arn,
        "DestinationBackupVaultArn": destination_vault_arn,
        "ResourceArn": source["ResourceArn"],
        "ResourceType": source["ResourceType"],
        "IamRoleArn": iam_role_arn,
        "CreationDate": now,
        "BackupSizeInBytes": source["BackupSizeInBytes"],
        "IsParent": False,
    }
    if created_by:
        job["CreatedBy"] = created_by
    try:
        dest_vault = backup_backend(dest_account, dest_region).describe_backup_vault(
            dest_vault_name
        )
    except ResourceNotFoundException:
        dest_vault = None
    if dest_vault is None:
        problem = f"destination vault {dest_vault_name} does not exist in {dest_region}"
        job.update(State="FAILED", StatusMessage=problem)
        log.info("copy job failed", extra={"job": job["CopyJobId"], "cause": problem})
    else:
        point_arn = (
            f"arn:aws:backup:{dest_region}:{dest_account}:recovery-point:{_new_id().lower()}"
        )
        point = {
            **source,
            "RecoveryPointArn": point_arn,
            "BackupVaultName": dest_vault_name,
            "BackupVaultArn": dest_vault.backup_vault_arn,
            "SourceBackupVaultArn": source_vault.backup_vault_arn,
            "CreationDate": now,
            "CompletionDate": now,
            "Lifecycle": lifecycle or {},
            "CalculatedLifecycle": _calculated_lifecycle(now, lifecycle),
        }
        _add_recovery_point(dest_account, dest_region, dest_vault, point)
        job.update(State="COMPLETED", CompletionDate=now, DestinationRecoveryPointArn=point_arn)
        log.info(
            "copy job completed",
            extra={"job": job["CopyJobId"], "from": recovery_point_arn, "to": point_arn},
        )
    regional(account, region).copy_jobs[job["CopyJobId"]] = job
    return job


def selected_resources(account: str, region: str, selection: dict[str, Any]) -> list[str]:
    """The ARNs a backup selection picks: listed ARNs (wildcards match existing tables),
    tables with matching tags, minus NotResources."""
    tables = dynamodb_backends[account][region].tables
    chosen: list[str] = []
    for pattern in selection.get("Resources") or []:
        if "*" in pattern:
            chosen += [
                t.table_arn for t in tables.values() if fnmatch.fnmatch(t.table_arn, pattern)
            ]
        else:
            chosen.append(pattern)
    for condition in selection.get("ListOfTags") or []:
        if condition.get("ConditionType", "STRINGEQUALS") != "STRINGEQUALS":
            continue
        for table in tables.values():
            tags = {tag["Key"]: tag.get("Value") for tag in table.tags}
            if tags.get(condition["ConditionKey"]) == condition["ConditionValue"]:
                chosen.append(table.table_arn)
    excluded = selection.get("NotResources") or []
    unique = dict.fromkeys(
        arn for arn in chosen if not any(fnmatch.fnmatch(arn, ex) for ex in excluded)
    )
    return list(unique)


def _find_plan(account: str, region: str | None, plan_id: str) -> tuple[str, Plan]:
    regions = [region] if region else list(backup_backends[account].keys())
    for candidate in regions:
        plan = backup_backend(account, candidate).plans.get(plan_id)
        if plan is not None and plan.deletion_date is None:
            return candidate, plan
    raise LookupError(f"backup plan {plan_id} not found (account {account}, regions {regions})")


def run_plan_now(request: RunPlanRequest) -> dict[str, Any]:
    """Run the plan's rules as the scheduler would, now."""
    account = request.account_id or DEFAULT_ACCOUNT_ID
    region, plan = _find_plan(account, request.region, request.plan_id)
    rules = [
        rule
        for rule in plan.backup_plan["Rules"]
        if request.rule_name is None or rule["RuleName"] == request.rule_name
    ]
    if not rules:
        raise LookupError(f"backup plan {plan.backup_plan_id} has no rule {request.rule_name!r}")
    selections = regional(account, region).selections.get(plan.backup_plan_id, {})
    backup_jobs: list[dict[str, Any]] = []
    copy_jobs: list[dict[str, Any]] = []
    for rule in rules:
        created_by = {
            "BackupPlanId": plan.backup_plan_id,
            "BackupPlanArn": plan.backup_plan_arn,
            "BackupPlanVersion": plan.version_id,
            "BackupRuleId": rule["RuleId"],
        }
        for selection in selections.values():
            created = {**created_by, "BackupSelectionId": selection["SelectionId"]}
            for arn in selected_resources(account, region, selection["BackupSelection"]):
                job = start_backup_job(
                    account,
                    region,
                    vault_name=rule["TargetBackupVaultName"],
                    resource_arn=arn,
                    iam_role_arn=selection["BackupSelection"]["IamRoleArn"],
                    lifecycle=rule.get("Lifecycle"),
                    created_by=created,
                )
                backup_jobs.append(job)
                if job["State"] != "COMPLETED":
                    continue
                for action in rule.get("CopyActions") or []:
                    copy_jobs.append(
                        start_copy_job(
                            account,
                            region,
                            source_vault_name=rule["TargetBackupVaultName"],
                            recovery_point_arn=job["RecoveryPointArn"],
                            destination_vault_arn=action["DestinationBackupVaultArn"],
                            iam_role_arn=selection["BackupSelection"]["IamRoleArn"],
                            lifecycle=action.get("Lifecycle"),
                            created_by=created,
                        )
                    )
    plan.last_execution_date = unix_time()
    return {
        "region": region,
        "backup_jobs": backup_jobs,
        "copy_jobs": copy_jobs,
    }
