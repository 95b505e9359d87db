"""Table and replica states DynamoDB does not leave by itself: problems with a hint, not waits.

TableStatus and ReplicaStatus enums of the botocore DynamoDB model; the hints follow the
DescribeTable API reference and the global tables guide.
"""

from __future__ import annotations

from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.model import Plan, Problem
from forumdb_operator.observed import Observed

# status -> (reason, what to do)
TERMINAL: dict[str, tuple[str, str]] = {
    "CREATION_FAILED": (
        "ReplicaCreationFailed",
        "DynamoDB could not create the replica (often its KMS key or the region's "
        "permissions); remove the region from spec.replicaRegions, fix the cause, then add it "
        "again",
    ),
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS": (
        "KMSKeyInaccessible",
        "DynamoDB cannot use the table's KMS key (disabled, scheduled for deletion, or its grant "
        "revoked); re-enable the key or restore its grants: after 7 days the table is archived",
    ),
    "REGION_DISABLED": (
        "RegionDisabled",
        "the region is disabled for this account; enable it in the account settings or remove "
        "it from spec.replicaRegions",
    ),
    "REPLICATION_NOT_AUTHORIZED": (
        "ReplicationNotAuthorized",
        "DynamoDB may not replicate to this region (the replication service-linked role or an "
        "SCP denies it); restore the permission or remove the region from spec.replicaRegions",
    ),
    "ARCHIVING": (
        "TableArchived",
        "DynamoDB is archiving the table because its KMS key stayed inaccessible; restore it "
        "from a backup (forumctl restore) once the key is usable",
    ),
    "ARCHIVED": (
        "TableArchived",
        "DynamoDB archived the table because its KMS key stayed inaccessible; restore it from "
        "a backup (forumctl restore) once the key is usable",
    ),
}


def terminal_states(d: DesiredState, t: DesiredTable, obs: Observed) -> dict[str, str]:
    """region -> terminal status, for the table in every region it is seen in (its own
    TableStatus there, or the primary's Replicas entry of that region)."""
    found: dict[str, str] = {}
    primary = obs.table(t.kind, d.primary_region)
    for (kind, region), o in obs.tables.items():
        if kind == t.kind and o is not None and o.status in TERMINAL:
            found[region] = o.status
    for region, replica in (primary.replicas if primary else {}).items():
        if replica.status in TERMINAL:
            found.setdefault(region, replica.status)
    return found


def terminal_problems(d: DesiredState, t: DesiredTable, obs: Observed, plan: Plan) -> bool:
    """A problem per region where the table is stuck; True when there was one (nothing else
    is done to the table: AWS would refuse or the change would not take)."""
    found = terminal_states(d, t, obs)
    for region, state in sorted(found.items()):
        reason, hint = TERMINAL[state]
        where = "spec.primaryRegion" if region == d.primary_region else "spec.replicaRegions"
        if state == "INACCESSIBLE_ENCRYPTION_CREDENTIALS":
            where = "spec.encryption"
        plan.problems.append(
            Problem(where, f"table {t.name} in {region} is {state}: {hint}", reason)
        )
    return bool(found)
