"""Global tables (version 2019.11.21) as the extension tracks them next to moto's tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

GLOBAL_TABLE_VERSION = "2019.11.21"


@dataclass
class Transition:
    """A replica change in flight: done after `calls_left` observations or at `done_at`.

    While it runs, the table shows UPDATING until `updating_until` (None: for the whole
    change), then ACTIVE although the replica is still CREATING/UPDATING/DELETING."""

    final_status: str | None  # None: the replica goes away (a delete)
    calls_left: int
    done_at: float | None
    updating_until: float | None = None

    def tick(self) -> None:
        self.calls_left = max(0, self.calls_left - 1)

    def due(self) -> bool:
        if self.done_at is not None:
            return time.monotonic() >= self.done_at
        return self.calls_left <= 0

    def table_updating(self) -> bool:
        return self.updating_until is None or time.monotonic() < self.updating_until


@dataclass
class Replica:
    region: str
    status: str = "ACTIVE"
    kms_key_id: str | None = None
    read_capacity_override: int | None = None
    table_class: str | None = None
    transition: Transition | None = None
    # the member whose endpoint created this replica, and when (monotonic)
    source_region: str | None = None
    created_at: float = field(default_factory=time.monotonic)
    # before this (monotonic) time a new replica has no Replicas entry and no visible table
    visible_at: float = 0.0

    def visible(self) -> bool:
        return time.monotonic() >= self.visible_at

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"RegionName": self.region, "ReplicaStatus": self.status}
        if self.kms_key_id:
            out["KMSMasterKeyId"] = self.kms_key_id
        if self.read_capacity_override is not None:
            out["ProvisionedThroughputOverride"] = {
                "ReadCapacityUnits": self.read_capacity_override
            }
        if self.table_class:
            out["ReplicaTableClassSummary"] = {"TableClass": self.table_class}
        return out


@dataclass
class GlobalTable:
    """The replicas of one table name in one account, keyed by region (all members)."""

    account_id: str
    name: str
    replicas: dict[str, Replica] = field(default_factory=dict)

    def busy(self) -> bool:
        return any(r.transition is not None for r in self.replicas.values())

    def table_status(self, region: str) -> str:
        """TableStatus of the table in `region` as DescribeTable shows it."""
        own = self.replicas.get(region)
        if own is not None and own.status in ("CREATING", "DELETING"):
            return own.status
        updating = any(
            r.transition is not None and r.transition.table_updating()
            for r in self.replicas.values()
        )
        return "UPDATING" if updating else "ACTIVE"

    def others(self, region: str) -> list[Replica]:
        """The other members as `region`'s DescribeTable lists them (new ones once visible)."""
        return [r for name, r in sorted(self.replicas.items()) if name != region and r.visible()]

    def sourced_by(self, region: str, hold_seconds: float) -> list[str]:
        """Members created from `region`'s endpoint within the last `hold_seconds`."""
        now = time.monotonic()
        return sorted(
            r.region
            for r in self.replicas.values()
            if r.source_region == region and now - r.created_at < hold_seconds
        )
