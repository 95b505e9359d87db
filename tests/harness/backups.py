"""An AWS Backup plan as tests need one, built in one place: a vault, a daily rule into it
(optionally copying each recovery point to a vault in another region, as the operator's
`backups.copyRegion` does) and a selection of resources.

    plan = daily_backup_plan(
        boto3.client("backup", region_name="us-east-1"),
        plan_name="forumdb-daily", vault="forumdb", resources=[table_arn],
        copy_to=boto3.client("backup", region_name="us-west-2"), copy_vault="forumdb-dr",
    )
    control.run_backup_plan_now(plan.plan_id)   # the emulator runs it as the scheduler would
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/forumdb-backup"
DAILY = "cron(0 3 * * ? *)"


@dataclass(frozen=True)
class BackupPlan:
    plan_id: str
    version_id: str
    vault: str
    copy_vault_arn: str | None  # the vault in the copy's region, if the rule copies
    selection_id: str | None  # None: no resources selected


def daily_backup_plan(
    backup: Any,
    *,
    plan_name: str,
    vault: str,
    resources: Sequence[str] = (),
    copy_to: Any | None = None,
    copy_vault: str | None = None,
    selection_name: str = "forumdb-tables",
    role_arn: str = ROLE,
    keep_days: int | None = None,
    copy_keep_days: int | None = None,
    tags: dict[str, str] | None = None,
) -> BackupPlan:
    """Create the vault(s), the plan (one rule, `daily`) and, given `resources`, a selection.

    `backup` is a boto3 backup client of the plan's region; `copy_to` one of the copy's region,
    whose vault is `copy_vault` (default: the same name as `vault`). `keep_days` and
    `copy_keep_days` are the rule's and the copy's lifecycles (DeleteAfterDays); `tags` the
    plan's (BackupPlanTags), e.g. the operator's ownership record."""
    backup.create_backup_vault(BackupVaultName=vault)
    rule: dict[str, Any] = {
        "RuleName": "daily",
        "TargetBackupVaultName": vault,
        "ScheduleExpression": DAILY,
    }
    if keep_days is not None:
        rule["Lifecycle"] = {"DeleteAfterDays": keep_days}
    copy_vault_arn = None
    if copy_to is not None:
        created = copy_to.create_backup_vault(BackupVaultName=copy_vault or vault)
        copy_vault_arn = str(created["BackupVaultArn"])
        action: dict[str, Any] = {"DestinationBackupVaultArn": copy_vault_arn}
        if copy_keep_days is not None:
            action["Lifecycle"] = {"DeleteAfterDays": copy_keep_days}
        rule["CopyActions"] = [action]
    plan = backup.create_backup_plan(
        BackupPlan={"BackupPlanName": plan_name, "Rules": [rule]},
        **({"BackupPlanTags": tags} if tags else {}),
    )
    selection_id = None
    if resources:
        selection_id = backup.create_backup_selection(
            BackupPlanId=plan["BackupPlanId"],
            BackupSelection={
                "SelectionName": selection_name,
                "IamRoleArn": role_arn,
                "Resources": list(resources),
            },
        )["SelectionId"]
    return BackupPlan(
        plan_id=str(plan["BackupPlanId"]),
        version_id=str(plan["VersionId"]),
        vault=vault,
        copy_vault_arn=copy_vault_arn,
        selection_id=selection_id,
    )
