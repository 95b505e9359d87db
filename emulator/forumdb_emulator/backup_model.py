"""AWS Backup objects moto lacks: selections, backup and copy jobs, recovery points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# (account id, region) -> objects of that regional AWS Backup endpoint
RegionKey = tuple[str, str]


@dataclass
class RegionalBackup:
    # plan id -> selection id -> selection description
    selections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    backup_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    copy_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # vault name -> recovery point arn -> description
    recovery_points: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass
class BackupStore:
    regions: dict[RegionKey, RegionalBackup] = field(default_factory=dict)

    def at(self, account_id: str, region: str) -> RegionalBackup:
        return self.regions.setdefault((account_id, region), RegionalBackup())
