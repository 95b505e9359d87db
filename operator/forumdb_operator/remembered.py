"""Ids and ARNs an earlier reconcile found, read back from the status, so a drift check looks
things up by id (GetBackupPlan, DescribeBackupVault, GetTopicAttributes) instead of listing the
whole account: the cost of a resource stays the same however many others the account holds.

A remembered id is a hint, never the truth: the observer checks that what it names still
exists and is the resource's own (name, region), and falls back to a listing when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forumdb_operator.desired import DesiredState


@dataclass(frozen=True)
class Remembered:
    vault_arns: dict[str, str] = field(default_factory=dict)  # region -> ARN
    plan_id: str | None = None
    selection_id: str | None = None
    topic_arn: str | None = None
    # Regions the last look found the resource's alarms in (status.alarms.items); None: not
    # known (an earlier operator's status, or deletion), every region of the resource is read.
    alarm_regions: frozenset[str] | None = None
    # Look for the resource's alarms in every region (its own, and those above) whatever the
    # status says: deletion, or a status that may lack this process's last writes.
    alarms_everywhere: bool = False

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None, desired: DesiredState) -> Remembered:
        """status.backups (vaultArn, copyVaultArn, planId, selectionId), status.alarms
        (topicArn, and the regions of its items)."""
        status = status or {}
        backups = status.get("backups") if isinstance(status.get("backups"), Mapping) else {}
        alarms = status.get("alarms") if isinstance(status.get("alarms"), Mapping) else {}
        vaults: dict[str, str] = {}
        b = desired.backups
        if b is not None:
            if isinstance(backups.get("vaultArn"), str):
                vaults[b.primary_region] = backups["vaultArn"]
            if b.copy_region and isinstance(backups.get("copyVaultArn"), str):
                vaults[b.copy_region] = backups["copyVaultArn"]
        return cls(
            vault_arns=vaults,
            plan_id=_text(backups.get("planId")),
            selection_id=_text(backups.get("selectionId")),
            topic_arn=_text(alarms.get("topicArn")),
            alarm_regions=_regions_of(alarms.get("items")),
        )


def _regions_of(items: Any) -> frozenset[str] | None:
    if not isinstance(items, list):
        return None
    return frozenset(str(x["region"]) for x in items if isinstance(x, Mapping) and x.get("region"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
