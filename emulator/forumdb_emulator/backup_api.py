"""AWS Backup API calls moto lacks, added to moto's BackupResponse and URL map, and AWS's
rules on moto's own calls.

Added: selections (Create/Get/List/Delete), UpdateBackupPlan, StartBackupJob,
DescribeBackupJob, ListBackupJobs, StartCopyJob, DescribeCopyJob, ListCopyJobs,
StartRestoreJob, DescribeRestoreJob, ListRestoreJobs (DynamoDB recovery points),
DescribeRecoveryPoint, DeleteRecoveryPoint, ListRecoveryPointsByBackupVault,
ListRecoveryPointsByResource, DescribeRegionSettings and UpdateRegionSettings (the account's
settings per region: advanced DynamoDB backup, which copies of DynamoDB backups need). moto
routes each request to the operation by the botocore model; these methods serve them.

AWS's rules (AwsRules; sources in emulator/README.md):
- DescribeBackupVault and ListRecoveryPointsByBackupVault of a vault that does not exist answer
  AccessDeniedException (HTTP 403), not ResourceNotFoundException;
- DeleteBackupPlan of a plan with selections and DeleteBackupVault of a vault with recovery
  points are refused (InvalidRequestException);
- StartBackupJob answers a RecoveryPointArn (arn:aws:backup:...) for a DynamoDB table only
  while advanced DynamoDB backup is on (it is returned "only ... for Amazon EFS and Advanced
  DynamoDB resources"); otherwise DescribeBackupJob shows it once the job runs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.backup import urls as backup_urls
from moto.backup.exceptions import (
    AlreadyExistsException,
    InvalidParameterValueException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.backup.models import Plan, Vault
from moto.backup.responses import BackupResponse
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random

from . import backup_restores, backup_runs
from .aws_errors import backup_access_denied
from .backup_runs import backup_backend, regional
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.backup")

# Paths of the added operations (moto's own patterns already cover /backup/plans/...). List
# calls end in a slash; each path is given with and without it, since moto's server turns
# "/?$" into a Flask rule that a longer sibling rule can shadow.
_LIST_PATHS = (
    "{0}/backup-jobs",
    "{0}/copy-jobs",
    "{0}/restore-jobs",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points",
    "{0}/resources/(?P<arn>.+)/recovery-points",
)
_EXTRA_PATHS = (
    *(path + end for path in _LIST_PATHS for end in ("$", "/$")),
    "{0}/backup-jobs/(?P<job_id>[^/]+)$",
    "{0}/copy-jobs/(?P<job_id>[^/]+)$",
    "{0}/restore-jobs/(?P<job_id>[^/]+)$",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$",
    "{0}/account-settings$",
)


def install() -> None:
    for path in _EXTRA_PATHS:
        backup_urls.url_paths.setdefault(path, BackupResponse.dispatch)
    for name, handler in _HANDLERS.items():
        setattr(BackupResponse, name, _when_active(name, handler))
    for name, rule in _RULES.items():
        setattr(BackupResponse, name, _ruled(getattr(BackupResponse, name), rule))
    # moto serialises DescribeBackupVault from attributes named after the API's fields;
    # its counter has another name, so DescribeBackupVault never showed it.
    Vault.number_of_recovery_points = property(lambda vault: vault.num_of_recovery_points)


def _when_active(name: str, handler: Callable[[BackupResponse], str]) -> Callable[..., str]:
    def method(self: BackupResponse) -> str:
        if not STATE.active:
            raise NotImplementedError(f"The {name} action has not been implemented")
        return handler(self)

    method.__name__ = name
    return method


def _ruled(
    original: Callable[[BackupResponse], Any], rule: Callable[[BackupResponse], None]
) -> Callable[[BackupResponse], Any]:
    """moto's handler, after the rule (which raises AWS's refusal) when the extension is on."""

    def method(self: BackupResponse) -> Any:
        if STATE.active:
            rule(self)
        return original(self)

    method.__name__ = original.__name__
    return method


# -- AWS's rules on existing calls ----------------------------------------------------------


def _vault_must_exist(self: BackupResponse) -> None:
    """A vault that does not exist is "Insufficient privileges" (HTTP 403) on AWS."""
    if not STATE.rules.backup_missing_vault_access_denied:
        return
    account, region = _where(self)
    name = _segments(self)[1]
    if name not in backup_backend(account, region).vaults:
        log.info("missing vault answered AccessDenied", extra={"vault": name, "region": region})
        raise backup_access_denied()


def _plan_without_selections(self: BackupResponse) -> None:
    if not STATE.rules.backup_delete_guards:
        return
    account, region = _where(self)
    plan_id = _segments(self)[2]
    if regional(account, region).selections.get(plan_id):
        raise InvalidRequestException(
            msg="Related backup plan selections must be deleted prior to backup plan deletion"
        )


def _vault_without_recovery_points(self: BackupResponse) -> None:
    if not STATE.rules.backup_delete_guards:
        return
    account, region = _where(self)
    name = _segments(self)[1]
    if regional(account, region).recovery_points.get(name):
        raise InvalidRequestException(
            msg="Backup vault cannot be deleted because it contains recovery points."
        )


# -- request helpers -------------------------------------------------------------------------


def _segments(self: BackupResponse) -> list[str]:
    return [unquote(part) for part in self.path.strip("/").split("/")]


def _body(self: BackupResponse) -> dict[str, Any]:
    return json.loads(self.body) if self.body else {}


def _query(self: BackupResponse, name: str) -> str | None:
    values = self.querystring.get(name)
    if isinstance(values, list):
        return values[0] if values else None
    return values


def _where(self: BackupResponse) -> tuple[str, str]:
    return self.current_account, self.region


def _filter(items: list[dict[str, Any]], **wanted: str | None) -> list[dict[str, Any]]:
    return [
        item
        for item in items
        if all(value is None or item.get(field) == value for field, value in wanted.items())
    ]


# -- selections and plans --------------------------------------------------------------------


def create_backup_selection(self: BackupResponse) -> str:
    account, region = _where(self)
    plan_id = _segments(self)[2]
    backup_backend(account, region).get_backup_plan(plan_id, None)  # ResourceNotFound if absent
    params = _body(self)
    selection = params.get("BackupSelection") or {}
    for required in ("SelectionName", "IamRoleArn"):
        if not selection.get(required):
            raise InvalidParameterValueException(msg=f"BackupSelection.{required} is required")
    selections = regional(account, region).selections.setdefault(plan_id, {})
    if any(
        s["BackupSelection"]["SelectionName"] == selection["SelectionName"]
        for s in selections.values()
    ):
        raise AlreadyExistsException(
            msg=f"Backup selection {selection['SelectionName']} already exists in plan {plan_id}"
        )
    entry = {
        "SelectionId": str(mock_random.uuid4()),
        "BackupPlanId": plan_id,
        "BackupSelection": selection,
        "CreationDate": unix_time(),
        "CreatorRequestId": params.get("CreatorRequestId"),
    }
    selections[entry["SelectionId"]] = entry
    return json.dumps({k: entry[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})


def _selection(self: BackupResponse) -> tuple[str, dict[str, Any]]:
    account, region = _where(self)
    parts = _segments(self)
    plan_id, selection_id = parts[2], parts[4]
    entry = regional(account, region).selections.get(plan_id, {}).get(selection_id)
    if entry is None:
        raise ResourceNotFoundException(
            msg=f"Backup selection {selection_id} not found in plan {plan_id} ({region})"
        )
    return plan_id, entry


def get_backup_selection(self: BackupResponse) -> str:
    _, entry = _selection(self)
    return json.dumps({k: v for k, v in entry.items() if v is not None})


def delete_backup_selection(self: BackupResponse) -> str:
    plan_id, entry = _selection(self)
    account, region = _where(self)
    del regional(account, region).selections[plan_id][entry["SelectionId"]]
    return "{}"


def list_backup_selections(self: BackupResponse) -> str:
    account, region = _where(self)
    plan_id = _segments(self)[2]
    backup_backend(account, region).get_backup_plan(plan_id, None)
    entries = regional(account, region).selections.get(plan_id, {}).values()
    listed = [
        {
            "SelectionId": e["SelectionId"],
            "SelectionName": e["BackupSelection"]["SelectionName"],
            "BackupPlanId": plan_id,
            "CreationDate": e["CreationDate"],
            "IamRoleArn": e["BackupSelection"]["IamRoleArn"],
            **({"CreatorRequestId": e["CreatorRequestId"]} if e["CreatorRequestId"] else {}),
        }
        for e in entries
    ]
    return json.dumps({"BackupSelectionsList": listed})


def update_backup_plan(self: BackupResponse) -> str:
    account, region = _where(self)
    plan_id = _segments(self)[2]
    plan = backup_backend(account, region).get_backup_plan(plan_id, None)
    if plan.deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Backup plan {plan_id} was deleted")
    new_plan = _body(self).get("BackupPlan")
    if not new_plan or not new_plan.get("Rules"):
        raise InvalidParameterValueException(msg="BackupPlan with at least one rule is required")
    # Reuse moto's defaults (schedule, windows, rule ids) by building a throwaway Plan.
    fresh = Plan(new_plan, plan.creator_request_id, backup_backend(account, region))
    plan.backup_plan = fresh.backup_plan
    plan.advanced_backup_settings = fresh.advanced_backup_settings
    plan.version_id = fresh.version_id
    log.info("backup plan updated", extra={"plan": plan_id, "region": region})
    return json.dumps(
        {
            "BackupPlanId": plan.backup_plan_id,
            "BackupPlanArn": plan.backup_plan_arn,
            "CreationDate": plan.creation_date,
            "VersionId": plan.version_id,
            "AdvancedBackupSettings": plan.advanced_backup_settings,
        }
    )


# -- backup jobs -----------------------------------------------------------------------------


def start_backup_job(self: BackupResponse) -> str:
    account, region = _where(self)
    params = _body(self)
    for required in ("BackupVaultName", "ResourceArn", "IamRoleArn"):
        if not params.get(required):
            raise InvalidParameterValueException(msg=f"{required} is required")
    job = backup_runs.start_backup_job(
        account,
        region,
        vault_name=params["BackupVaultName"],
        resource_arn=params["ResourceArn"],
        iam_role_arn=params["IamRoleArn"],
        lifecycle=params.get("Lifecycle"),
    )
    answer = {
        "BackupJobId": job["BackupJobId"],
        "CreationDate": job["CreationDate"],
        "IsParent": False,
    }
    # RecoveryPointArn: "only returned for Amazon EFS and Advanced DynamoDB resources"
    if job.get("RecoveryPointArn"):
        answer["RecoveryPointArn"] = job["RecoveryPointArn"]
    return json.dumps(answer)


def describe_backup_job(self: BackupResponse) -> str:
    account, region = _where(self)
    job_id = _segments(self)[1]
    job = regional(account, region).backup_jobs.get(job_id)
    if job is None:
        raise ResourceNotFoundException(msg=f"Backup job {job_id} not found in {region}")
    return json.dumps(job)


def list_backup_jobs(self: BackupResponse) -> str:
    account, region = _where(self)
    jobs = _filter(
        list(regional(account, region).backup_jobs.values()),
        ResourceArn=_query(self, "resourceArn"),
        State=_query(self, "state"),
        BackupVaultName=_query(self, "backupVaultName"),
        ResourceType=_query(self, "resourceType"),
    )
    return json.dumps({"BackupJobs": jobs})


# -- copy jobs -------------------------------------------------------------------------------


def start_copy_job(self: BackupResponse) -> str:
    account, region = _where(self)
    params = _body(self)
    for required in (
        "RecoveryPointArn",
        "SourceBackupVaultName",
        "DestinationBackupVaultArn",
        "IamRoleArn",
    ):
        if not params.get(required):
            raise InvalidParameterValueException(msg=f"{required} is required")
    job = backup_runs.start_copy_job(
        account,
        region,
        source_vault_name=params["SourceBackupVaultName"],
        recovery_point_arn=params["RecoveryPointArn"],
        destination_vault_arn=params["DestinationBackupVaultArn"],
        iam_role_arn=params["IamRoleArn"],
        lifecycle=params.get("Lifecycle"),
    )
    return json.dumps(
        {"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": False}
    )


def describe_copy_job(self: BackupResponse) -> str:
    account, region = _where(self)
    job_id = _segments(self)[1]
    job = regional(account, region).copy_jobs.get(job_id)
    if job is None:
        raise ResourceNotFoundException(msg=f"Copy job {job_id} not found in {region}")
    return json.dumps({"CopyJob": job})


def list_copy_jobs(self: BackupResponse) -> str:
    account, region = _where(self)
    jobs = _filter(
        list(regional(account, region).copy_jobs.values()),
        ResourceArn=_query(self, "resourceArn"),
        State=_query(self, "state"),
        DestinationBackupVaultArn=_query(self, "destinationVaultArn"),
    )
    return json.dumps({"CopyJobs": jobs})


# -- restore jobs ----------------------------------------------------------------------------


def start_restore_job(self: BackupResponse) -> str:
    account, region = _where(self)
    params = _body(self)
    if not params.get("RecoveryPointArn"):
        raise InvalidParameterValueException(msg="RecoveryPointArn is required")
    job = backup_restores.start_restore_job(
        account,
        region,
        recovery_point_arn=params["RecoveryPointArn"],
        metadata=params.get("Metadata") or {},
        iam_role_arn=params.get("IamRoleArn"),
        resource_type=params.get("ResourceType"),
    )
    return json.dumps({"RestoreJobId": job["RestoreJobId"]})


def describe_restore_job(self: BackupResponse) -> str:
    account, region = _where(self)
    job_id = _segments(self)[1]
    job = regional(account, region).restore_jobs.get(job_id)
    if job is None:
        raise ResourceNotFoundException(msg=f"Restore job {job_id} not found in {region}")
    return json.dumps(job)


def list_restore_jobs(self: BackupResponse) -> str:
    account, region = _where(self)
    jobs = _filter(
        list(regional(account, region).restore_jobs.values()),
        Status=_query(self, "status"),
        ResourceType=_query(self, "resourceType"),
    )
    return json.dumps({"RestoreJobs": jobs})


# -- recovery points -------------------------------------------------------------------------


def list_recovery_points_by_backup_vault(self: BackupResponse) -> str:
    account, region = _where(self)
    vault_name = _segments(self)[1]
    _vault_must_exist(self)
    backup_backend(account, region).describe_backup_vault(vault_name)
    points = list(regional(account, region).recovery_points.get(vault_name, {}).values())
    points = _filter(
        points,
        ResourceArn=_query(self, "resourceArn"),
        ResourceType=_query(self, "resourceType"),
    )
    # ByBackupPlanId (ListRecoveryPointsByBackupVault API reference): the points a plan made
    plan_id = _query(self, "backupPlanId")
    if plan_id is not None:
        points = [p for p in points if (p.get("CreatedBy") or {}).get("BackupPlanId") == plan_id]
    return json.dumps({"RecoveryPoints": points})


def _recovery_point_ref(self: BackupResponse) -> tuple[str, str]:
    parts = _segments(self)
    return parts[1], "/".join(parts[3:])


def describe_recovery_point(self: BackupResponse) -> str:
    account, region = _where(self)
    vault_name, arn = _recovery_point_ref(self)
    return json.dumps(backup_runs.find_recovery_point(account, region, vault_name, arn))


def delete_recovery_point(self: BackupResponse) -> str:
    account, region = _where(self)
    vault_name, arn = _recovery_point_ref(self)
    backup_runs.find_recovery_point(account, region, vault_name, arn)
    del regional(account, region).recovery_points[vault_name][arn]
    regional(account, region).snapshots.pop(arn, None)
    vault = backup_backend(account, region).describe_backup_vault(vault_name)
    vault.num_of_recovery_points = max(0, vault.num_of_recovery_points - 1)
    return "{}"


def list_recovery_points_by_resource(self: BackupResponse) -> str:
    account, region = _where(self)
    parts = _segments(self)
    resource_arn = "/".join(parts[1:-1])
    points = [
        {
            "RecoveryPointArn": p["RecoveryPointArn"],
            "BackupVaultName": p["BackupVaultName"],
            "CreationDate": p["CreationDate"],
            "Status": p["Status"],
            "BackupSizeBytes": p["BackupSizeInBytes"],
            "ResourceName": p.get("ResourceName"),
        }
        for vault in regional(account, region).recovery_points.values()
        for p in vault.values()
        if p["ResourceArn"] == resource_arn
    ]
    return json.dumps({"RecoveryPoints": points})


# -- the account's settings in a region -------------------------------------------------------

_SETTING_KEY = re.compile(r"^[a-zA-Z0-9\-\_\.]{1,50}$")  # UpdateRegionSettings: key pattern


def describe_region_settings(self: BackupResponse) -> str:
    """GET /account-settings: ResourceTypeOptInPreference and ResourceTypeManagementPreference
    ("DynamoDB": false where advanced DynamoDB backup is off) of this account and region."""
    account, region = _where(self)
    settings = regional(account, region)
    return json.dumps(
        {
            "ResourceTypeOptInPreference": dict(settings.opt_in_preference),
            "ResourceTypeManagementPreference": dict(settings.management_preference),
        }
    )


def update_region_settings(self: BackupResponse) -> str:
    """PUT /account-settings: the given resource types' preferences change, the rest stay; an
    empty body (HTTP 200) as AWS answers. A resource type the map does not know is refused
    (InvalidParameterValueException): the emulator's stand-in for AWS's list of types."""
    account, region = _where(self)
    settings = regional(account, region)
    body = _body(self)
    for field_name, current in (
        ("ResourceTypeOptInPreference", settings.opt_in_preference),
        ("ResourceTypeManagementPreference", settings.management_preference),
    ):
        wanted = body.get(field_name) or {}
        for key, value in wanted.items():
            if not _SETTING_KEY.match(key) or not isinstance(value, bool):
                raise InvalidParameterValueException(msg=f"{field_name}: invalid entry {key!r}")
            if key not in current:
                raise InvalidParameterValueException(
                    msg=f"{field_name}: resource type {key} is not supported in {region}"
                )
        current.update(wanted)
    log.info("region settings updated", extra={"account": account, "region": region})
    return ""


_HANDLERS: dict[str, Callable[[BackupResponse], str]] = {
    f.__name__: f
    for f in (
        create_backup_selection,
        get_backup_selection,
        delete_backup_selection,
        list_backup_selections,
        update_backup_plan,
        start_backup_job,
        describe_backup_job,
        list_backup_jobs,
        start_copy_job,
        describe_copy_job,
        list_copy_jobs,
        start_restore_job,
        describe_restore_job,
        list_restore_jobs,
        list_recovery_points_by_backup_vault,
        describe_recovery_point,
        delete_recovery_point,
        list_recovery_points_by_resource,
        describe_region_settings,
        update_region_settings,
    )
}

# moto's own handlers that AWS's rules guard
_RULES: dict[str, Callable[[BackupResponse], None]] = {
    "describe_backup_vault": _vault_must_exist,
    "delete_backup_plan": _plan_without_selections,
    "delete_backup_vault": _vault_without_recovery_points,
}
