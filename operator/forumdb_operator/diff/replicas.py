"""Replicas of a table: added or removed one region at a time, never while one is changing."""

from __future__ import annotations

from typing import Any

from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.model import Action, Plan
from forumdb_operator.observed import Observed, ObservedTable


def replica_update(
    d: DesiredState, t: DesiredTable, o: ObservedTable, plan: Plan, obs: Observed | None = None
) -> Action | None:
    busy = [r for r in o.replicas.values() if r.status != "ACTIVE"]
    if busy:
        plan.waiting.extend(f"replica of {t.name} in {r.region} is {r.status}" for r in busy)
        return None
    if not d.replicas_managed:
        return None
    wanted = [r for r in d.replica_regions if r != o.region]
    missing = [r for r in wanted if r not in o.replicas]
    extra = sorted(r for r in o.replicas if r not in wanted)

    def replica(summary: str, op: dict[str, Any]) -> Action:
        return Action(
            "replica",
            "dynamodb",
            o.region,
            "update_table",
            {"TableName": t.name, "ReplicaUpdates": [op]},
            summary,
        )

    if missing:
        region = missing[0]
        left = obs.table(t.kind, region) if obs is not None else None
        if left is not None and left.status == "DELETING":
            # a replica removed moments ago: its table stays DELETING in its region for a while
            # and AWS refuses the region until it is gone ("already existed as tables",
            # DDB-TABLE-228)
            plan.waiting.append(f"table {t.name} in {region} is still DELETING")
            return None
        create: dict[str, Any] = {"RegionName": region}
        if t.replica_kms_keys.get(region):
            create["KMSMasterKeyId"] = t.replica_kms_keys[region]
        if t.replica_read_capacity.get(region):
            units = t.replica_read_capacity[region]
            create["ProvisionedThroughputOverride"] = {"ReadCapacityUnits": units}
        return replica(f"add a replica of {t.name} in {region}", {"Create": create})
    if extra:
        region = extra[0]
        return replica(
            f"remove the replica of {t.name} in {region} (not in spec.replicaRegions)",
            {"Delete": {"RegionName": region}},
        )
    return None
