"""AWS Backup objects moto lacks: selections, backup, copy and restore jobs, recovery points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# (account id, region) -> objects of that regional AWS Backup endpoint
RegionKey = tuple[str, str]


def _management_defaults() -> dict[str, bool]:
    """ResourceTypeManagementPreference of an account that started using AWS Backup after
    November 2021: advanced DynamoDB backup on ("enabled by default to customers who have not
    created a backup vault prior to November 21, 2021", AWS Backup developer guide, Advanced
    DynamoDB backup); EFS is always fully managed."""
    return {"DynamoDB": True, "EFS": True}


def _opt_in_defaults() -> dict[str, bool]:
    """ResourceTypeOptInPreference: the services forumdb uses, opted in."""
    return {"DynamoDB": True, "EFS": True, "EBS": True, "EC2": True, "RDS": True, "S3": True}


@dataclass
class RegionalBackup:
    # plan id -> selection id -> selection description
    selections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    backup_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    copy_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    restore_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # vault name -> recovery point arn -> description
    recovery_points: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # recovery point arn -> the table's data (a moto DynamoDB Backup registered nowhere) of an
    # AWS Backup resource (arn:aws:backup:...): advanced DynamoDB backups and copies, which
    # DynamoDB's own backup calls do not know
    snapshots: dict[str, Any] = field(default_factory=dict)
    # the account's settings in this region (DescribeRegionSettings / UpdateRegionSettings)
    management_preference: dict[str, bool] = field(default_factory=_management_defaults)
    opt_in_preference: dict[str, bool] = field(default_factory=_opt_in_defaults)


@dataclass
class PendingJob:
    """A backup, copy or restore job on its way: CREATED (a restore job: PENDING) until
    `running_at`, RUNNING until `done_at` (monotonic times); what it does on the way is in
    backup_runs."""

    kind: Literal["backup", "copy", "restore"]
    account: str
    region: str
    job_id: str
    running_at: float
    done_at: float
    # a backup job started by a plan: the rule's CopyActions, started when it completes
    copy_actions: list[dict[str, Any]] = field(default_factory=list)
    # a backup job: the DynamoDB backup taken when it starts running
    backup_arn: str | None = None
    # a restore job: the table it creates
    target_table: str | None = None


@dataclass
class BackupStore:
    regions: dict[RegionKey, RegionalBackup] = field(default_factory=dict)
    pending: list[PendingJob] = field(default_factory=list)

    def at(self, account_id: str, region: str) -> RegionalBackup:
        return self.regions.setdefault((account_id, region), RegionalBackup())
