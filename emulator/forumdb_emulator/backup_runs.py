"""AWS Backup jobs: backups of DynamoDB tables into vaults, copies into other regions' vaults.

What a backup job of a DynamoDB table makes depends on the account's advanced DynamoDB backup
setting in the region (ResourceTypeManagementPreference "DynamoDB") when the job starts, as on
AWS ("Backup resource names (ARNs) will change from arn:aws:dynamodb to arn:aws:backup",
DynamoDB developer guide, Using AWS Backup with DynamoDB, usage notes):
- on (a new account's default): an AWS Backup resource, recovery point
  arn:aws:backup:REGION:ACCOUNT:recovery-point:ID, restorable only through AWS Backup
  (StartRestoreJob, `backup_restores`); DynamoDB's backup calls do not know it;
- off: a real moto DynamoDB backup (type AWS_BACKUP), arn:aws:dynamodb:...:table/T/backup/ID,
  which RestoreTableFromBackup restores.
A copy is a recovery point of its own (arn:aws:backup:...) in the destination vault. Jobs go
CREATED -> RUNNING -> COMPLETED (or FAILED) over time, as on AWS (BackupJob.State,
CopyJob.State in the service model): CREATED for AwsRules.job_created_seconds, then RUNNING
for job_running_seconds; restore jobs go PENDING -> RUNNING -> COMPLETED likewise. A backup job
takes its snapshot when it starts running and adds its recovery point when it completes; a
plan's CopyActions start when the backup job completes. `advance` moves them on; it runs before
every request. Running a plan "now" does what the scheduler does for each rule: one job per
selected resource, copies after.
"""

from __future__ import annotations

import fnmatch
import logging
import time
import uuid
from typing import Any

from moto.backup.exceptions import InvalidParameterValueException, ResourceNotFoundException
from moto.backup.models import BackupBackend, Plan, Vault, backup_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import unix_time
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Backup
from moto.utilities.utils import get_partition

from . import backup_restores
from .backup_model import PendingJob, RegionalBackup
from .models import RunPlanRequest
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.backup")

DAY_SECONDS = 86_400
WAIT_LIMIT_SECONDS = 120.0  # run_backup_plan_now(wait=True) gives up after this


def backup_backend(account: str, region: str) -> BackupBackend:
    return backup_backends[account][region]


def regional(account: str, region: str) -> RegionalBackup:
    return STATE.backup.at(account, region)


def _new_id() -> str:
    return str(uuid.uuid4()).upper()


def new_recovery_point_arn(account: str, region: str) -> str:
    """An AWS Backup recovery point ARN, as the API reference's example:
    arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45."""
    return f"arn:{get_partition(region)}:backup:{region}:{account}:recovery-point:{_new_id()}"


def advanced_dynamodb(account: str, region: str) -> bool:
    """The account's advanced DynamoDB backup setting in the region (UpdateRegionSettings)."""
    return regional(account, region).management_preference.get("DynamoDB", False)


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


def _schedule(kind: str, account: str, region: str, job_id: str, **extra: Any) -> None:
    now = time.monotonic()
    running_at = now + STATE.rules.job_created_seconds
    STATE.backup.pending.append(
        PendingJob(
            kind=kind,  # type: ignore[arg-type]
            account=account,
            region=region,
            job_id=job_id,
            running_at=running_at,
            done_at=running_at + STATE.rules.job_running_seconds,
            **extra,
        )
    )


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
    copy_actions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Start backing `resource_arn` up into the vault: a CREATED job (see the module)."""
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
        "State": "CREATED",
        "PercentDone": "0.0",
        "IsParent": False,
        "Lifecycle": lifecycle or {},
    }
    if ":dynamodb:" in resource_arn and advanced_dynamodb(account, region):
        # an AWS Backup resource: its ARN is known from the start (StartBackupJob returns it
        # "only ... for Amazon EFS and Advanced DynamoDB resources")
        job["RecoveryPointArn"] = new_recovery_point_arn(account, region)
    if created_by:
        job["CreatedBy"] = created_by
    regional(account, region).backup_jobs[job["BackupJobId"]] = job
    _schedule("backup", account, region, job["BackupJobId"], copy_actions=copy_actions or [])
    log.info("backup job created", extra={"job": job["BackupJobId"], "resource": resource_arn})
    return job


def _backup_problem(account: str, region: str, resource_arn: str) -> str | None:
    service, resource_region, resource_account, resource = _parse_arn(resource_arn)
    table_name = resource.split("/", 1)[1] if resource.startswith("table/") else None
    if service != "dynamodb" or table_name is None:
        return f"resource {resource_arn} is not a DynamoDB table (only DynamoDB is emulated)"
    if (resource_region, resource_account) != (region, account):
        return f"resource {resource_arn} is not in this account and region ({account}, {region})"
    if table_name not in dynamodb_backends[account][region].tables:
        return f"table {table_name} not found in {region}"
    return None


def _fail(job: dict[str, Any], problem: str) -> None:
    job.update(State="FAILED", StatusMessage=problem, CompletionDate=unix_time())
    log.info(
        "job failed",
        extra={"job": job.get("BackupJobId") or job.get("CopyJobId"), "cause": problem},
    )


def _begin_backup(pending: PendingJob, job: dict[str, Any]) -> bool:
    """CREATED -> RUNNING: take the snapshot. False when the job failed instead."""
    problem = _backup_problem(pending.account, pending.region, job["ResourceArn"])
    if problem is not None:
        _fail(job, problem)
        return False
    table_name = job["ResourceArn"].split(":table/", 1)[1]
    dynamodb = dynamodb_backends[pending.account][pending.region]
    name = f"AwsBackup-{job['BackupJobId']}"
    if job.get("RecoveryPointArn"):  # advanced: AWS Backup keeps the data, DynamoDB knows nothing
        backup = Backup(
            pending.account, pending.region, name, dynamodb.get_table(table_name), "AWS_BACKUP"
        )
        regional(pending.account, pending.region).snapshots[job["RecoveryPointArn"]] = backup
        pending.backup_arn = job["RecoveryPointArn"]
    else:
        backup = dynamodb.create_backup(table_name, name)
        backup.type = "AWS_BACKUP"
        pending.backup_arn = backup.arn
    job.update(
        State="RUNNING",
        PercentDone="50.0",
        RecoveryPointArn=pending.backup_arn,
        BackupSizeInBytes=max(1, len(backup.table)) * 100,
    )
    return True


def _complete_backup(pending: PendingJob, job: dict[str, Any]) -> None:
    """RUNNING -> COMPLETED: the recovery point appears in the vault; copies start."""
    account, region = pending.account, pending.region
    try:
        vault = backup_backend(account, region).describe_backup_vault(job["BackupVaultName"])
    except ResourceNotFoundException:
        _fail(job, f"vault {job['BackupVaultName']} no longer exists in {region}")
        return
    now = unix_time()
    point = {
        "RecoveryPointArn": job["RecoveryPointArn"],
        "BackupVaultName": job["BackupVaultName"],
        "BackupVaultArn": vault.backup_vault_arn,
        "ResourceArn": job["ResourceArn"],
        "ResourceType": "DynamoDB",
        "ResourceName": job["ResourceArn"].split(":table/", 1)[1],
        "IamRoleArn": job["IamRoleArn"],
        "Status": "COMPLETED",
        "CreationDate": job["CreationDate"],
        "CompletionDate": now,
        "BackupSizeInBytes": job["BackupSizeInBytes"],
        "IsEncrypted": False,
        "StorageClass": "WARM",
        "Lifecycle": job["Lifecycle"],
        "CalculatedLifecycle": _calculated_lifecycle(job["CreationDate"], job["Lifecycle"] or None),
    }
    if job.get("CreatedBy"):
        point["CreatedBy"] = job["CreatedBy"]
    _add_recovery_point(account, region, vault, point)
    job.update(State="COMPLETED", PercentDone="100.0", CompletionDate=now)
    log.info(
        "backup job completed",
        extra={
            "job": job["BackupJobId"],
            "resource": job["ResourceArn"],
            "vault": vault.backup_vault_name,
        },
    )
    for action in pending.copy_actions:
        start_copy_job(
            account,
            region,
            source_vault_name=job["BackupVaultName"],
            recovery_point_arn=job["RecoveryPointArn"],
            destination_vault_arn=action["DestinationBackupVaultArn"],
            iam_role_arn=job["IamRoleArn"],
            lifecycle=action.get("Lifecycle"),
            created_by=job.get("CreatedBy"),
        )


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
    """Start copying a recovery point into a vault, usually of another region: a CREATED job
    whose new recovery point appears in the destination when it completes."""
    source_vault = backup_backend(account, region).describe_backup_vault(source_vault_name)
    source = find_recovery_point(account, region, source_vault_name, recovery_point_arn)
    service, _, _, resource = _parse_arn(destination_vault_arn)
    if service != "backup" or not resource.startswith("backup-vault:"):
        raise InvalidParameterValueException(
            msg=f"Invalid destination backup vault ARN: {destination_vault_arn}"
        )
    job: dict[str, Any] = {
        "AccountId": account,
        "CopyJobId": _new_id(),
        "SourceBackupVaultArn": source_vault.backup_vault_arn,
        "SourceRecoveryPointArn": recovery_point_arn,
        "DestinationBackupVaultArn": destination_vault_arn,
        "ResourceArn": source["ResourceArn"],
        "ResourceType": source["ResourceType"],
        "IamRoleArn": iam_role_arn,
        "CreationDate": unix_time(),
        "BackupSizeInBytes": source["BackupSizeInBytes"],
        "State": "CREATED",
        "IsParent": False,
        "Lifecycle": lifecycle or {},
    }
    if created_by:
        job["CreatedBy"] = created_by
    regional(account, region).copy_jobs[job["CopyJobId"]] = job
    _schedule("copy", account, region, job["CopyJobId"])
    log.info("copy job created", extra={"job": job["CopyJobId"], "from": recovery_point_arn})
    return job


def _destination_vault(job: dict[str, Any]) -> tuple[str, str, Vault | None]:
    _, dest_region, dest_account, resource = _parse_arn(job["DestinationBackupVaultArn"])
    name = resource.split(":", 1)[1]
    try:
        return (
            dest_account,
            dest_region,
            backup_backend(dest_account, dest_region).describe_backup_vault(name),
        )
    except ResourceNotFoundException:
        return dest_account, dest_region, None


def _copy_problem(pending: PendingJob, job: dict[str, Any]) -> str | None:
    """Copies of DynamoDB backups need AWS Backup's advanced DynamoDB backup in the source
    account and region (ResourceTypeManagementPreference "DynamoDB": true; AWS Backup developer
    guide, Advanced DynamoDB backup: enabling it unlocks "cross-Region and cross-account copy").
    Judged when the copy starts (a plan's copy starts as its backup completes). AWS's own
    StatusMessage for this case is not published; this text names the setting and the fix."""
    if job.get("ResourceType") != "DynamoDB":
        return None
    settings = regional(pending.account, pending.region)
    if settings.management_preference.get("DynamoDB", False):
        return None
    return (
        f"Copying DynamoDB backups requires advanced features for Amazon DynamoDB backups, "
        f"which are not enabled for account {pending.account} in {pending.region} "
        "(UpdateRegionSettings ResourceTypeManagementPreference DynamoDB=true)"
    )


def _begin_copy(pending: PendingJob, job: dict[str, Any]) -> bool:
    problem = _copy_problem(pending, job)
    if problem is not None:
        _fail(job, problem)
        return False
    _, dest_region, vault = _destination_vault(job)
    if vault is None:
        name = job["DestinationBackupVaultArn"].rsplit(":", 1)[1]
        _fail(job, f"destination vault {name} does not exist in {dest_region}")
        return False
    job.update(State="RUNNING")
    return True


def _complete_copy(pending: PendingJob, job: dict[str, Any]) -> None:
    dest_account, dest_region, vault = _destination_vault(job)
    if vault is None:
        _fail(job, f"destination vault of {job['DestinationBackupVaultArn']} was deleted")
        return
    source_vault_name = job["SourceBackupVaultArn"].rsplit(":", 1)[1]
    try:
        source = find_recovery_point(
            pending.account, pending.region, source_vault_name, job["SourceRecoveryPointArn"]
        )
    except ResourceNotFoundException:
        _fail(job, f"source recovery point {job['SourceRecoveryPointArn']} was deleted")
        return
    now = unix_time()
    point_arn = new_recovery_point_arn(dest_account, dest_region)
    data = backup_restores.snapshot_of(
        pending.account, pending.region, job["SourceRecoveryPointArn"]
    )
    if data is not None:  # the copy restores through StartRestoreJob in its own region
        regional(dest_account, dest_region).snapshots[point_arn] = data
    point = {
        **source,
        "RecoveryPointArn": point_arn,
        "BackupVaultName": vault.backup_vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "SourceBackupVaultArn": job["SourceBackupVaultArn"],
        "CreationDate": job["CreationDate"],
        "CompletionDate": now,
        "Lifecycle": job["Lifecycle"],
        "CalculatedLifecycle": _calculated_lifecycle(job["CreationDate"], job["Lifecycle"] or None),
    }
    _add_recovery_point(dest_account, dest_region, vault, point)
    job.update(State="COMPLETED", CompletionDate=now, DestinationRecoveryPointArn=point_arn)
    log.info(
        "copy job completed",
        extra={"job": job["CopyJobId"], "from": job["SourceRecoveryPointArn"], "to": point_arn},
    )


def _job(pending: PendingJob) -> dict[str, Any] | None:
    jobs = regional(pending.account, pending.region)
    table = {
        "backup": jobs.backup_jobs,
        "copy": jobs.copy_jobs,
        "restore": jobs.restore_jobs,
    }[pending.kind]
    return table.get(pending.job_id)


def _begin(pending: PendingJob, job: dict[str, Any]) -> bool:
    if pending.kind == "backup":
        return _begin_backup(pending, job)
    if pending.kind == "copy":
        return _begin_copy(pending, job)
    return backup_restores.begin(pending, job)


def _complete(pending: PendingJob, job: dict[str, Any]) -> None:
    if pending.kind == "backup":
        _complete_backup(pending, job)
    elif pending.kind == "copy":
        _complete_copy(pending, job)
    else:
        backup_restores.complete(job)


def advance() -> int:
    """Move the jobs whose time has come on (CREATED -> RUNNING -> COMPLETED/FAILED); returns
    how many are still on their way. Runs before every request, under the state lock."""
    now = time.monotonic()
    still: list[PendingJob] = []
    # a completing backup job may start copy jobs: they land in STATE.backup.pending
    due, STATE.backup.pending[:] = list(STATE.backup.pending), []
    for pending in due:
        job = _job(pending)
        if job is None:
            continue
        # restore jobs keep their state in Status (PENDING first), the others in State
        state = "Status" if pending.kind == "restore" else "State"
        due_to_run = job[state] in ("CREATED", "PENDING") and now >= pending.running_at
        if due_to_run and not _begin(pending, job):
            continue
        if job[state] == "RUNNING" and now >= pending.done_at:
            _complete(pending, job)
            continue
        still.append(pending)
    STATE.backup.pending[:0] = still
    return len(STATE.backup.pending)


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
    """Start the plan's rules as the scheduler would, now: one CREATED backup job per selected
    resource (each rule's CopyActions follow when a job completes). Returns the run's
    reference for `run_report`."""
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
    job_ids: list[str] = []
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
                    copy_actions=rule.get("CopyActions") or [],
                )
                job_ids.append(job["BackupJobId"])
    plan.last_execution_date = unix_time()
    return {"account": account, "region": region, "backup_job_ids": job_ids}


def run_report(run: dict[str, Any]) -> dict[str, Any]:
    """The run's backup jobs and the copy jobs they started, as they are now."""
    jobs = regional(run["account"], run["region"])
    backup_jobs = [jobs.backup_jobs[job_id] for job_id in run["backup_job_ids"]]
    points = {job.get("RecoveryPointArn") for job in backup_jobs}
    copy_jobs = [job for job in jobs.copy_jobs.values() if job["SourceRecoveryPointArn"] in points]
    return {"region": run["region"], "backup_jobs": backup_jobs, "copy_jobs": copy_jobs}


def run_finished(run: dict[str, Any]) -> bool:
    """Every backup job of the run, and every copy job it started, has finished."""
    report = run_report(run)
    states = [job["State"] for job in report["backup_jobs"] + report["copy_jobs"]]
    return all(
        state in ("COMPLETED", "FAILED", "ABORTED", "EXPIRED", "PARTIAL") for state in states
    )


def wait_for(run: dict[str, Any]) -> None:
    """Let time pass (outside the state lock, so other calls go on) until the run is over."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while True:
        with STATE.lock:
            advance()
            if run_finished(run):
                return
            upcoming = [
                p.running_at if p.running_at > time.monotonic() else p.done_at
                for p in STATE.backup.pending
            ]
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"backup plan run in {run['region']} not finished after {WAIT_LIMIT_SECONDS} s"
            )
        pause = min(upcoming, default=time.monotonic()) - time.monotonic()
        time.sleep(min(max(pause, 0.01), 0.5))
