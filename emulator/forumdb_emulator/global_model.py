"""Global tables (version 2019.11.21) as the extension tracks them next to moto's tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

GLOBAL_TABLE_VERSION = "2019.11.21"


@dataclass
class Transition:
    """A replica change in flight: done after `calls_left` observations or at `done_at`."""

    final_status: str | None  # None: the replica goes away (a delete)
    calls_left: int
    done_at: float | None

    def tick(self) -> None:
        self.calls_left = max(0, self.calls_left - 1)

    def due(self) -> bool:
        if self.done_at is not None:
            return time.monotonic() >= self.done_at
        return self.calls_left <= 0


@dataclass
class Replica:
    region: str
    status: str = "ACTIVE"
    kms_key_id: str | None = None
    read_capacity_override: int | None = None
    table_class: str | None = None
    transition: Transition | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"RegionName": self.region, "ReplicaStatus": self.status}
        if self.status == "CREATING":
            out["ReplicaStatusPercentProgress"] = "0"
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
        return "UPDATING" if self.busy() else "ACTIVE"

    def others(self, region: str) -> list[Replica]:
        return [r for name, r in sorted(self.replicas.items()) if name != region]
