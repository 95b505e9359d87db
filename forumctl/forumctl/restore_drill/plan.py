"""Planning a restore drill: which tables, restored how and from what, before anything is
created (a dry run stops here). Problems found here fail their row; they do not crash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from botocore.exceptions import ClientError

from forumctl.errors import AwsError
from forumctl.restore_drill.aws import (
    RestoreProblem,
    as_problem,
    aws_code,
    check_pitr,
    describe_recovery_point,
    find_latest_recovery_point,
)
from forumctl.restore_drill.model import DrillRestore, Method, drill_table_name
from forumctl.tables_cmd import describe
from forumctl.target import Target
from forumdb import naming
from forumdb.tables import Kind


def vault_and_owner(
    tgt: Target, backup_vault: str | None, owner: str | None
) -> tuple[str | None, str | None]:
    """The backup vault to take recovery points from and the owner tag value: from the flags,
    else the ForumDatabase (--forumdb), else derived from --owner NS/NAME like the operator."""
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


def restore_role(tgt: Target, role_arn: str | None) -> str | None:
    """The IAM role AWS Backup assumes to restore an arn:aws:backup recovery point: the flag,
    else the ForumDatabase's spec.backups.iamRoleArn (the role its backups use); None lets the
    recovery point's own role (DescribeRecoveryPoint IamRoleArn) decide."""
    if role_arn:
        return role_arn
    fdb = tgt.forumdb
    if fdb:
        configured = (fdb.spec.get("backups") or {}).get("iamRoleArn")
        return str(configured) if configured else None
    return None


def plan_drill(
    tgt: Target,
    kinds: tuple[Kind, ...],
    methods: tuple[Method, ...],
    drill: str,
    *,
    point_in_time: datetime | None,
    recovery_point_arn: str | None,
    vault: str | None,
    role_arn: str | None = None,
) -> list[DrillRestore]:
    dynamodb, backup = tgt.pool().get(), tgt.pool().get("backup")
    # Configuration errors (exit 3), not findings of the drill: a source table or a vault
    # that is not there means the flags or the target are wrong, not that restores fail.
    for kind in kinds:
        if describe(dynamodb, tgt.tables[kind]) is None:
            raise AwsError(
                f"source table {tgt.tables[kind]} ({kind}) does not exist in {tgt.region}",
                hint="check the target's tables (--table-prefix, --forumdb, --region)",
            )
    if vault and "recovery-point" in methods and not recovery_point_arn:
        _check_vault(backup, vault, tgt.region)
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
                restore_role_arn=role_arn if method == "recovery-point" else None,
            )
            try:
                _check(dynamodb, backup, plan, tgt.region)
            except RestoreProblem as exc:
                plan.problem = str(exc)
            except ClientError as exc:
                problem = as_problem(exc, f"{method} restore of {source} in {tgt.region}")
                if problem is None:
                    raise
                plan.problem = str(problem)
            plans.append(plan)
    return plans


def _check_vault(backup: Any, vault: str, region: str | None) -> None:
    try:
        backup.describe_backup_vault(BackupVaultName=vault)
    except ClientError as exc:
        if aws_code(exc) not in ("ResourceNotFoundException", "AccessDeniedException"):
            raise
        raise AwsError(
            f"backup vault {vault} does not exist in {region} "
            f"(DescribeBackupVault: {aws_code(exc)})",
            hint="pass an existing vault with --backup-vault, or check --forumdb/--owner "
            "and --region",
        ) from None


def _check(dynamodb: object, backup: object, plan: DrillRestore, region: str | None) -> None:
    if describe(dynamodb, plan.source) is None:
        raise RestoreProblem(f"source table {plan.source} does not exist in {region}")
    if describe(dynamodb, plan.target) is not None:
        raise RestoreProblem(f"{plan.target} already exists in {region}")
    if plan.method == "pitr":
        check_pitr(dynamodb, plan, region)
        return
    if not plan.recovery_point_arn:
        find_latest_recovery_point(backup, dynamodb, plan, region)
        if plan.skip:
            return
    describe_recovery_point(dynamodb, backup, plan, region)
