"""AWS Backup: the vaults (primary and copy region), the plan and its selection of the tables.
Vaults are never deleted: they hold the recovery points."""

from __future__ import annotations

from typing import Any

from forumdb_operator.desired import DesiredBackups, DesiredState
from forumdb_operator.diff.model import Action, Plan, Problem
from forumdb_operator.observed import Observed, ObservedBackups
from forumdb_operator.spec import partition_of

# AWS Backup's default service role, in the partition of the plan's region (arn:aws-cn:... in
# China, arn:aws-us-gov:... in GovCloud: an arn:aws role names nothing there).
DEFAULT_BACKUP_ROLE = "arn:{partition}:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"


def backup_plan_document(b: DesiredBackups, copy_vault_arn: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "RuleName": b.rule_name,
        "TargetBackupVaultName": b.vault_name,
        "ScheduleExpression": b.schedule,
        "Lifecycle": {"DeleteAfterDays": b.retention_days},
    }
    if b.copy_region and copy_vault_arn:
        rule["CopyActions"] = [
            {
                "DestinationBackupVaultArn": copy_vault_arn,
                "Lifecycle": {"DeleteAfterDays": b.copy_retention_days},
            }
        ]
    return {"BackupPlanName": b.plan_name, "Rules": [rule]}


def _rule_shape(rule: dict[str, Any]) -> tuple[Any, ...]:
    copies = tuple(
        sorted(
            (c.get("DestinationBackupVaultArn"), (c.get("Lifecycle") or {}).get("DeleteAfterDays"))
            for c in rule.get("CopyActions") or []
        )
    )
    return (
        rule.get("TargetBackupVaultName"),
        rule.get("ScheduleExpression"),
        (rule.get("Lifecycle") or {}).get("DeleteAfterDays"),
        copies,
    )


def _plan_matches(want: dict[str, Any], have: dict[str, Any] | None) -> bool:
    if not have:
        return False
    have_rules = {r.get("RuleName"): r for r in have.get("Rules") or []}
    for rule in want["Rules"]:
        got = have_rules.get(rule["RuleName"])
        if got is None or _rule_shape(got) != _rule_shape(rule):
            return False
    return True


def _delete_selection(b: DesiredBackups, ob: ObservedBackups, description: str) -> Action:
    """Delete the observed backup selection (its plan stays)."""
    return Action(
        "backup",
        "backup",
        b.primary_region,
        "delete_backup_selection",
        {"BackupPlanId": ob.plan_id, "SelectionId": ob.selection_id},
        description,
    )


def backup_plan_removal(b: DesiredBackups, ob: ObservedBackups, why: str = "") -> list[Action]:
    """Delete the selection, then the plan; vaults and their recovery points stay."""
    region = b.primary_region
    actions = []
    if ob.plan_id and ob.selection_id:
        actions.append(_delete_selection(b, ob, f"delete backup selection {b.selection_name}{why}"))
    if ob.plan_id:
        actions.append(
            Action(
                "backup",
                "backup",
                region,
                "delete_backup_plan",
                {"BackupPlanId": ob.plan_id},
                f"delete backup plan {b.plan_name}{why}",
            )
        )
    return actions


def diff_backups(d: DesiredState, obs: Observed, plan: Plan) -> None:
    """Vaults, then the plan, then its selection: each step needs the one before it."""
    b = d.backups
    ob = obs.backups
    if b is None or ob is None:
        return
    if not b.enabled:
        plan.actions.extend(backup_plan_removal(b, ob, " (backups disabled; vaults kept)"))
        return
    if ob.plan_id is None and ob.foreign_plans:
        plan.problems.append(foreign_plan_problem(d, b, ob))
        return  # never touched; the rest of the spec goes on
    copies_off = copies_problem(d, b, ob, obs.account_id)
    if copies_off is not None:
        # The plan is still made (backups in the primary region work); its copies start
        # working once the account setting is on.
        plan.problems.append(copies_off)
    vaults = _vault_creations(b, ob)
    if vaults:
        plan.actions.extend(vaults)
        return  # the plan names the vaults (the copy vault by ARN): next pass
    doc = backup_plan_document(b, ob.vault_arns.get(b.copy_region) if b.copy_region else None)
    if ob.plan_id is None:
        plan.actions.append(
            Action(
                "backup",
                "backup",
                b.primary_region,
                "create_backup_plan",
                {"BackupPlan": doc, "BackupPlanTags": dict(b.tags)},
                f"create backup plan {b.plan_name} ({b.schedule}, {b.retention_days} days"
                + (f", copy to {b.copy_region})" if b.copy_region else ")"),
            )
        )
        return  # the selection needs the plan's id: next pass
    if not _plan_matches(doc, ob.plan):
        plan.actions.append(
            Action(
                "backup",
                "backup",
                b.primary_region,
                "update_backup_plan",
                {"BackupPlanId": ob.plan_id, "BackupPlan": doc},
                f"update backup plan {b.plan_name} to {b.schedule}, {b.retention_days} days"
                + (f", copy to {b.copy_region}" if b.copy_region else ""),
            )
        )
    plan.actions.extend(_selection_actions(d, obs, b, ob))


def foreign_plan_problem(d: DesiredState, b: DesiredBackups, ob: ObservedBackups) -> Problem:
    """A plan under this resource's plan name whose tags are not its ownership record: left
    alone (not adopted, changed or deleted), the name is taken."""
    owners = [p.whose() for p in ob.foreign_plans]
    return Problem(
        "spec.backups",
        f"backup plan {b.plan_name} in {b.primary_region} is not this resource's: "
        f"{'; '.join(owners)}; the operator leaves it alone. Rename or delete that plan, or, "
        f"if it is this resource's, tag it {d.record.as_tags()} (backup:TagResource)",
        "BackupPlanNotOwned",
        blocking=False,
    )


def copies_problem(
    d: DesiredState, b: DesiredBackups, ob: ObservedBackups, account: str | None
) -> Problem | None:
    """Copies to another region asked for while the account's advanced DynamoDB backup is off
    in the plan's region: AWS Backup runs the backups but every copy job fails. The operator
    does not turn the setting on: it is account-wide (every DynamoDB backup of the account in
    that region, and their cost and ARNs), not the resource's."""
    if not b.copy_region or ob.advanced_dynamodb is not False:
        return None
    who = f"account {account}" if account else "the account"
    return Problem(
        "spec.backups.copyRegion",
        f"copies to {b.copy_region} need AWS Backup's advanced features for Amazon DynamoDB "
        f"backups, which are off for {who} in {b.primary_region} (DescribeRegionSettings: "
        'ResourceTypeManagementPreference {"DynamoDB": false}): backups are taken, their copies '
        "fail. Turn them on (aws backup update-region-settings --region "
        f"{b.primary_region} --resource-type-management-preference DynamoDB=true, or AWS "
        "Backup console > Settings) or unset spec.backups.copyRegion; the operator does not "
        "change account settings",
        "AdvancedDynamoDBBackupOff",
        blocking=False,
    )


def _vault_creations(b: DesiredBackups, ob: ObservedBackups) -> list[Action]:
    """A vault in the primary region and, for copies, one in the copy region."""
    regions = [b.primary_region] + ([b.copy_region] if b.copy_region else [])
    return [
        Action(
            "backup",
            "backup",
            r,
            "create_backup_vault",
            {"BackupVaultName": b.vault_name, "BackupVaultTags": dict(b.tags)},
            f"create backup vault {b.vault_name} in {r}",
        )
        for r in regions
        if not ob.vault_arns.get(r)
    ]


def _selection_actions(
    d: DesiredState, obs: Observed, b: DesiredBackups, ob: ObservedBackups
) -> list[Action]:
    """The plan's selection of the tables; one that names other tables or another role is
    replaced (a selection cannot be updated)."""
    arns = []
    for t in d.tables:
        o = obs.table(t.kind, b.primary_region)
        if o is None or not o.arn:
            return []  # tables first
        arns.append(o.arn)
    account = obs.account_id or "000000000000"
    role = b.iam_role_arn or DEFAULT_BACKUP_ROLE.format(
        partition=partition_of(b.primary_region), account=account
    )
    selection = {"SelectionName": b.selection_name, "IamRoleArn": role, "Resources": sorted(arns)}
    actions = []
    have = ob.selection
    if ob.selection_id is not None and have is not None:
        same = (
            sorted(have.get("Resources") or []) == selection["Resources"]
            and have.get("IamRoleArn") == role
        )
        if same:
            return []
        actions.append(
            _delete_selection(
                b, ob, f"replace backup selection {b.selection_name} (its tables or role changed)"
            )
        )
    actions.append(
        Action(
            "backup",
            "backup",
            b.primary_region,
            "create_backup_selection",
            {"BackupPlanId": ob.plan_id, "BackupSelection": selection},
            f"select the tables {', '.join(t.name for t in d.tables)} for backup plan "
            f"{b.plan_name}",
        )
    )
    return actions
