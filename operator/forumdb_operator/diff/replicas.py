"""Replicas of a table: added or removed one region at a time, never while one is changing."""

from __future__ import annotations

from typing import Any

from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.model import Action, Plan, Problem
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

    for region in missing:
        left = obs.table(t.kind, region) if obs is not None else None
        if left is not None and left.status == "DELETING":
            # a replica removed moments ago: its table stays DELETING in its region for a while
            # and AWS refuses the region until it is gone ("already existed as tables",
            # DDB-TABLE-228)
            plan.waiting.append(f"table {t.name} in {region} is still DELETING")
            return None
        if left is not None:
            # A table of that name there that is no replica of ours (the primary does not list
            # the region): AWS refuses the replica ("... already existed as tables",
            # DDB-TABLE-225, -203). Said before asking; only this replica is held back.
            _table_in_the_way(d, t, left, plan)
            continue
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


def _table_in_the_way(d: DesiredState, t: DesiredTable, seen: ObservedTable, plan: Plan) -> None:
    """A problem for a table that stands where a replica is wanted, or a wait while it is being
    created (a replica of ours that the primary does not list yet looks the same for a moment,
    DDB-TABLE-226)."""
    if seen.status == "CREATING":
        plan.waiting.append(f"table {t.name} in {seen.region} is CREATING (no replica of ours yet)")
        return
    plan.problems.append(
        Problem(
            "spec.replicaRegions",
            f"table {t.name} in {seen.region} exists and is not a replica of {t.name} in "
            f"{d.primary_region}, so AWS refuses a replica there; delete or rename that table, "
            f"or remove {seen.region} from spec.replicaRegions",
            "ReplicaRegionTableExists",
            blocking=False,
        )
    )
