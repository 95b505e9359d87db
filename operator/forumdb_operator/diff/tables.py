"""The tables in the primary region: create, adopt (owner tag), then one update_table at a
time (stream, index, billing and capacity, encryption, deletion protection); the table's
PITR, write auto scaling, replicas and the replicas' tags come from their own modules, in the
order AWS needs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from forumdb import naming
from forumdb.ownership import describe_owner
from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.autoscaling import autoscaling_actions, autoscaling_removal
from forumdb_operator.diff.model import Action, Feature, Plan, Problem
from forumdb_operator.diff.ownership import (
    awaiting_tags,
    owns,
    stands_apart,
    unrecorded_uid,
)
from forumdb_operator.diff.pitr import pitr_actions
from forumdb_operator.diff.replica_tags import foreign_replica_tables, replica_tag_actions
from forumdb_operator.diff.replicas import replica_update
from forumdb_operator.diff.terminal import terminal_problems
from forumdb_operator.observed import Observed, ObservedTable


def _key_schema(request_schema: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in request_schema)


def _fmt_keys(schema: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{n} {t}" for n, t in schema) or "none"


def _adoption_mismatch(t: DesiredTable, o: ObservedTable) -> str | None:
    """What makes an existing table unlike forumdb's layout: its keys, their attribute types,
    or an index of forumdb's name with other keys. None: it can be adopted."""
    expected = _key_schema(t.create_request["KeySchema"])
    if o.key_schema != expected:
        return f"keys ({_fmt_keys(o.key_schema)}) where forumdb needs ({_fmt_keys(expected)})"
    if o.attribute_types:
        wanted = {
            a["AttributeName"]: a["AttributeType"] for a in t.create_request["AttributeDefinitions"]
        }
        for attr, _ in expected:
            if o.attribute_types.get(attr, wanted[attr]) != wanted[attr]:
                return (
                    f"key attribute {attr} of type {o.attribute_types[attr]} where forumdb "
                    f"needs {wanted[attr]}"
                )
    for gsi in t.indexes:
        have = o.indexes.get(gsi["IndexName"])
        want = _key_schema(gsi["KeySchema"])
        if have is not None and have.key_schema != want:
            return (
                f"index {gsi['IndexName']} with keys ({_fmt_keys(have.key_schema)}) where "
                f"forumdb needs ({_fmt_keys(want)})"
            )
    return None


def _foreign(d: DesiredState, t: DesiredTable, o: ObservedTable, plan: Plan) -> None:
    """Another resource's ownership record: never adopted, whatever spec.adopt says."""
    tags = o.tags or {}
    who = describe_owner(tags)
    if tags.get(naming.TAG_OWNER) == d.owner and tags.get(naming.TAG_CLUSTER, "") == d.cluster:
        # Same NAMESPACE/NAME, another UID: a resource deleted (Retain) and created again.
        how = (
            f"an earlier ForumDatabase of the same name ({who}), not this one (uid "
            f"{d.uid or 'unknown'}); to take it over, remove the table's "
            f"{naming.TAG_OWNER_UID} tag and set spec.adopt: true (its replicas, still "
            "tagged for the earlier resource, are re-tagged with this one's record)"
        )
    else:
        how = f"ForumDatabase {who}; choose another tablePrefix"
    plan.problems.append(
        Problem(
            "spec.tablePrefix",
            f"table {t.name} in {o.region} belongs to {how}",
            "TableOwnedByAnother",
        )
    )


def _ownership(
    d: DesiredState, t: DesiredTable, o: ObservedTable, obs: Observed, plan: Plan
) -> bool:
    """Check the ownership record; adopt (tag) where allowed. False: leave this table alone."""
    tags = o.tags or {}
    owner = tags.get(naming.TAG_OWNER)
    if awaiting_tags(d, o, obs):
        # made or tagged by this resource moments ago: wait for the tags, never call it foreign
        plan.waiting.append(f"tags of table {t.name} in {o.region} are not listed yet")
        return True
    owned = owns(d, o, obs)
    unrecorded = not owned and unrecorded_uid(d, o)
    if owner is not None and not owned and not unrecorded:
        _foreign(d, t, o, plan)
        return False
    if not owned:
        # No owner, or this resource's name without a UID and no status of ours saying so.
        what = (
            "is tagged for this resource's name but by no resource UID (an earlier "
            "ForumDatabase of the same name?)"
            if unrecorded
            else "is not managed by forumdb"
        )
        if not d.adopt:
            plan.problems.append(
                Problem(
                    "spec.adopt",
                    f"table {t.name} already exists in {o.region} and {what}; "
                    "set spec.adopt: true to adopt it",
                    "TableExists",
                )
            )
            return False
        mismatch = _adoption_mismatch(t, o)
        if mismatch is not None:
            plan.problems.append(
                Problem(
                    "spec.tablePrefix",
                    f"table {t.name} in {o.region} exists with {mismatch}; it cannot be adopted",
                    "IncompatibleTable",
                )
            )
            return False
    missing = {k: v for k, v in t.tags.items() if tags.get(k) != v}
    if missing:
        verb = "adopt" if not owned else "tag"
        plan.actions.append(
            Action(
                "tags",
                "dynamodb",
                o.region,
                "tag_resource",
                {
                    "ResourceArn": o.arn,
                    "Tags": [{"Key": k, "Value": v} for k, v in sorted(missing.items())],
                },
                f"{verb} table {t.name} in {o.region} (tags {', '.join(sorted(missing))})",
            )
        )
    return True


def _throughput(t: DesiredTable) -> dict[str, int]:
    # spec validation guarantees both for PROVISIONED
    return {"ReadCapacityUnits": t.read_capacity or 1, "WriteCapacityUnits": t.write_capacity or 1}


def _update(t: DesiredTable, region: str, feature: Feature, summary: str, **params: Any) -> Action:
    return Action(
        feature, "dynamodb", region, "update_table", {"TableName": t.name, **params}, summary
    )


def _table_update(
    d: DesiredState, t: DesiredTable, o: ObservedTable, obs: Observed
) -> Action | None:
    """The first update_table this table needs, by priority; None if in shape."""
    return (
        _stream_update(t, o)
        or _index_update(t, o)
        or _billing_update(t, o)
        or _encryption_update(t, o, obs)
        or _protection_update(t, o)
    )


def _stream_update(t: DesiredTable, o: ObservedTable) -> Action | None:
    if t.stream_required and not o.stream_enabled:
        return _update(
            t,
            o.region,
            "stream",
            f"enable the NEW_AND_OLD_IMAGES stream on {t.name} in {o.region} (replicas need it)",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
    return None


def _stream_view_wrong(t: DesiredTable, o: ObservedTable, plan: Plan) -> bool:
    """Replicas need the NEW_AND_OLD_IMAGES stream, and a stream's view type cannot change in
    place (UpdateTable refuses it while the stream is on): said before any replica is asked."""
    view = o.stream_view_type
    if not (t.stream_required and o.stream_enabled and view and view != "NEW_AND_OLD_IMAGES"):
        return False
    plan.problems.append(
        Problem(
            "spec.replicaRegions",
            f"table {t.name} in {o.region} has a {view} stream; global-table replicas need "
            "NEW_AND_OLD_IMAGES: disable its stream (aws dynamodb update-table "
            "--stream-specification StreamEnabled=false), then the operator enables the right one",
            "StreamViewType",
        )
    )
    return True


def _index_update(t: DesiredTable, o: ObservedTable) -> Action | None:
    for gsi in t.indexes:
        if gsi["IndexName"] not in o.indexes:
            create = {k: v for k, v in gsi.items()}
            return _update(
                t,
                o.region,
                "index",
                f"create index {gsi['IndexName']} on {t.name} in {o.region} (it was missing)",
                AttributeDefinitions=t.create_request["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": create}],
            )
    return None


def _billing_update(t: DesiredTable, o: ObservedTable) -> Action | None:
    """The billing mode, then (PROVISIONED) the capacities of the table and its indexes;
    nothing when spec.billing is unset (an adopted PROVISIONED table stays PROVISIONED)."""
    region = o.region
    if not t.billing_managed:
        return None
    if t.billing_mode == "PAY_PER_REQUEST" and o.billing_mode != "PAY_PER_REQUEST":
        return _update(
            t,
            region,
            "billing",
            f"switch {t.name} in {region} to PAY_PER_REQUEST (it was {o.billing_mode})",
            BillingMode="PAY_PER_REQUEST",
        )
    if t.billing_mode != "PROVISIONED":
        return None
    tp = _throughput(t)
    managed_gsis = [i for i in o.indexes if i in {g["IndexName"] for g in t.indexes}]
    if o.billing_mode != "PROVISIONED":
        return _update(
            t,
            region,
            "billing",
            f"switch {t.name} in {region} to PROVISIONED {tp['ReadCapacityUnits']}/"
            f"{tp['WriteCapacityUnits']} (it was {o.billing_mode})",
            BillingMode="PROVISIONED",
            ProvisionedThroughput=tp,
            GlobalSecondaryIndexUpdates=[
                {"Update": {"IndexName": i, "ProvisionedThroughput": tp}} for i in managed_gsis
            ],
        )
    return _capacity_update(t, o, managed_gsis)


def _capacity_update(t: DesiredTable, o: ObservedTable, managed_gsis: list[str]) -> Action | None:
    """Provisioned capacity of a PROVISIONED table and of the indexes it manages."""
    tp = _throughput(t)
    # Under write auto scaling, write capacity is auto scaling's to change: compare reads
    # only and keep whatever write capacity it has set.
    scaled = t.write_autoscaling is not None

    def differs(read: int, write: int) -> bool:
        return read != t.read_capacity or (not scaled and write != t.write_capacity)

    def throughput(write: int) -> dict[str, int]:
        return {**tp, "WriteCapacityUnits": write or tp["WriteCapacityUnits"]} if scaled else tp

    table_differs = differs(o.read_capacity, o.write_capacity)
    gsi_differs = [
        i for i in managed_gsis if differs(o.indexes[i].read_capacity, o.indexes[i].write_capacity)
    ]
    if not (table_differs or gsi_differs):
        return None
    params: dict[str, Any] = {}
    if table_differs:
        params["ProvisionedThroughput"] = throughput(o.write_capacity)
    if gsi_differs:
        params["GlobalSecondaryIndexUpdates"] = [
            {
                "Update": {
                    "IndexName": i,
                    "ProvisionedThroughput": throughput(o.indexes[i].write_capacity),
                }
            }
            for i in gsi_differs
        ]
    return _update(
        t,
        o.region,
        "billing",
        f"set capacity of {t.name} in {o.region} to {tp['ReadCapacityUnits']}/"
        f"{tp['WriteCapacityUnits']} (was {o.read_capacity}/{o.write_capacity})",
        **params,
    )


def _encryption_update(t: DesiredTable, o: ObservedTable, obs: Observed) -> Action | None:
    region = o.region
    if t.kms_key == "" and o.kms_key is not None:
        return _update(
            t,
            region,
            "encryption",
            f"encrypt {t.name} in {region} with the AWS owned key (it used {o.kms_key})",
            SSESpecification={"Enabled": False},
        )
    if t.kms_key:
        arn = obs.kms_arns.get((region, t.kms_key))
        if o.kms_key not in {t.kms_key, arn}:
            return _update(
                t,
                region,
                "encryption",
                f"encrypt {t.name} in {region} with KMS key {t.kms_key} "
                f"(it used {o.kms_key or 'the AWS owned key'})",
                SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": t.kms_key},
            )
    return None


def _protection_update(t: DesiredTable, o: ObservedTable) -> Action | None:
    if t.deletion_protection is not None and t.deletion_protection != o.deletion_protection:
        state = "on" if t.deletion_protection else "off"
        return _update(
            t,
            o.region,
            "protection",
            f"turn deletion protection {state} for {t.name} in {o.region}",
            DeletionProtectionEnabled=t.deletion_protection,
        )
    return None


def diff_tables(d: DesiredState, obs: Observed, plan: Plan) -> None:
    for t in d.tables:
        region = d.primary_region
        o = obs.table(t.kind, region)
        if o is None:
            plan.actions.append(
                Action(
                    "table",
                    "dynamodb",
                    region,
                    "create_table",
                    t.create_request,
                    f"create table {t.name} in {region}",
                )
            )
            plan.waiting.append(f"table {t.name} in {region} is being created")
            continue
        if not _ownership(d, t, o, obs, plan):
            continue
        if terminal_problems(d, t, obs, plan):
            continue
        if foreign_replica_tables(d, t, o, obs, plan):
            continue
        if o.busy:
            plan.waiting.append(f"table {t.name} in {region} is {o.status}")
            continue
        pitr_actions(d, t, obs, plan)
        replica_tag_actions(d, t, o, obs, plan)
        if t.billing_managed and t.write_autoscaling is None:
            # not wanted any more (on-demand, replicas removed, maxWriteCapacity unset): left
            # registered, auto scaling would fight every capacity the operator sets
            plan.actions.extend(autoscaling_removal(t, obs, region))
        changing = [r for r in o.replicas.values() if r.status != "ACTIVE"]
        if changing:
            # AWS applies one change to a global table at a time, whatever the base table's
            # own status says: no UpdateTable while a replica is created, updated or deleted
            plan.waiting.extend(
                f"replica of {t.name} in {r.region} is {r.status}" for r in changing
            )
            continue
        if _stream_view_wrong(t, o, plan):
            continue
        change = _table_update(d, t, o, obs)
        if change is None and o.billing_mode == "PROVISIONED":
            # before any replica: AWS refuses replicas of PROVISIONED tables without it
            scaling = autoscaling_actions(t, obs, region)
            plan.actions.extend(scaling)
            if scaling and t.stream_required and set(d.replica_regions) - set(o.replicas):
                plan.waiting.append(f"table {t.name}: write auto scaling before replicas")
                continue
        change = change or replica_update(d, t, o, plan, obs)
        if change is not None:
            plan.actions.append(change)
            plan.waiting.append(f"table {t.name} in {region}: {change.summary}")
            continue
        for region_name in d.replica_regions:
            replica = obs.table(t.kind, region_name)
            if replica is not None and replica.status != "ACTIVE":
                plan.waiting.append(f"table {t.name} in {region_name} is {replica.status}")
        _replica_settings(d, t, obs, plan)


def _replica_settings(d: DesiredState, t: DesiredTable, obs: Observed, plan: Plan) -> None:
    """Settings AWS keeps per replica, changed by UpdateTable on the replica's own table in its
    region: deletion protection (a replica added with ReplicaUpdates starts without it) and the
    KMS key (ReplicaUpdates refuses a new KMSMasterKeyId; SSESpecification in the replica's
    region changes it). One change per pass, once every replica is ACTIVE."""
    for region in d.replica_regions:
        replica = obs.table(t.kind, region)
        if replica is None or replica.status != "ACTIVE":
            return
    primary = obs.table(t.kind, d.primary_region)
    for region in d.replica_regions:
        replica = obs.table(t.kind, region)
        if replica is None or (primary is not None and stands_apart(d, primary, replica)):
            continue  # a table of its own there (diff.replicas): never touched
        change = (
            _protection_update(t, replica)
            or _replica_encryption_update(t, replica, obs)
            or _replica_capacity_update(d, t, replica)
        )
        if change is not None:
            plan.actions.append(change)
            plan.waiting.append(f"table {t.name} in {region}: {change.summary}")
            return


def _replica_capacity_update(
    d: DesiredState, t: DesiredTable, replica: ObservedTable
) -> Action | None:
    """The replica's own read capacity (spec.billing.replicaReadCapacity), set through the
    primary table's ReplicaUpdates (ProvisionedThroughputOverride)."""
    want = t.replica_read_capacity.get(replica.region)
    if not want or replica.billing_mode != "PROVISIONED" or replica.read_capacity == want:
        return None
    update = {
        "RegionName": replica.region,
        "ProvisionedThroughputOverride": {"ReadCapacityUnits": want},
    }
    return _update(
        t,
        d.primary_region,
        "billing",
        f"set the read capacity of {t.name}'s replica in {replica.region} to {want} "
        f"(it was {replica.read_capacity})",
        ReplicaUpdates=[{"Update": update}],
    )


def _replica_encryption_update(
    t: DesiredTable, replica: ObservedTable, obs: Observed
) -> Action | None:
    """The replica's key as the spec asks (replicaKmsKeyIds, or kmsKeyId when it is an alias);
    unmanaged encryption (kms_key None) is left alone."""
    if t.kms_key is None:
        return None
    want = t.replica_kms_keys.get(replica.region) or ""
    return _encryption_update(replace(t, kms_key=want), replica, obs)
