"""deletionPolicy Delete: what to remove, in order, and what blocks it."""

from __future__ import annotations

from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.alarms import delete_alarms
from forumdb_operator.diff.autoscaling import autoscaling_removal
from forumdb_operator.diff.backups import backup_plan_removal
from forumdb_operator.diff.model import Action, Plan, Problem
from forumdb_operator.diff.ownership import foreign_record, owns, owns_replica
from forumdb_operator.diff.shared_alarm import leave_shared_alarm
from forumdb_operator.diff.terminal import terminal_problems
from forumdb_operator.observed import Observed, ObservedTable


def deletion_plan(d: DesiredState, obs: Observed) -> Plan:
    """deletionPolicy Delete: alarms, topic, backup selection and plan, replicas, then tables.
    Vaults stay (they hold the recovery points). Deletion protection blocks it all."""
    plan = Plan()
    if _protection_blocks(d, obs, plan):
        return plan
    oa, a = obs.alarms, d.alarms
    if oa is not None and a is not None:
        leave_shared_alarm(a, oa, plan, "deleting")
        # ours in every region of the resource (ReplicationLatency follows the active region),
        # and where the status saw ours in a region that left the spec
        for region in oa.regions_of_ours(a.region, a.regions or ()):
            plan.actions.extend(
                delete_alarms(list(oa.alarms_in(region, a.region)), region, "deleting")
            )
            topic = oa.topic_in(region, a.region)
            if topic:
                plan.actions.append(
                    Action(
                        "topic",
                        "sns",
                        region,
                        "delete_topic",
                        {"TopicArn": topic},
                        f"delete SNS topic {topic}",
                    )
                )
    ob = obs.backups
    if ob is not None and d.backups is not None:
        plan.actions.extend(backup_plan_removal(d.backups, ob))
    for t in d.tables:
        _table_removal(d, t, obs, plan)
    return plan


def _protection_blocks(d: DesiredState, obs: Observed, plan: Plan) -> bool:
    """A table with deletion protection on: turn it off when the spec asks for it off, else a
    problem. True: nothing else may be deleted in this pass."""
    # Only this resource's tables: another resource's (a colliding prefix, here or in a
    # replica region) are never changed, not even their deletion protection.
    protected = sorted(
        (t for t in owned_tables(d, obs) if t.deletion_protection),
        key=lambda t: (t.name, t.region),
    )
    if not protected:
        return False
    if d.tables[0].deletion_protection is False:
        # The spec asks for protection off: that is the user's way to unblock the deletion.
        for t in protected:
            plan.actions.append(
                Action(
                    "protection",
                    "dynamodb",
                    t.region,
                    "update_table",
                    {"TableName": t.name, "DeletionProtectionEnabled": False},
                    f"turn deletion protection off for {t.name} in {t.region}",
                )
            )
        plan.waiting.append("deletion protection is being turned off")
        return True
    plan.problems.append(
        Problem(
            "spec.deletionProtection",
            "deletion protection is on for "
            + ", ".join(f"{t.name} in {t.region}" for t in protected)
            + "; turn it off "
            "(spec.deletionProtection: false) or set spec.deletionPolicy: Retain",
            "DeletionProtected",
        )
    )
    return True


def owned_tables(d: DesiredState, obs: Observed) -> list[ObservedTable]:
    """The primary tables this resource owns and their replicas that carry no other resource's
    ownership record (a table of the same name in a replica region that is not a replica of
    the primary, or is tagged for another resource, is not this resource's)."""
    out = []
    for t in d.tables:
        primary = obs.table(t.kind, d.primary_region)
        if primary is None or not owns(d, primary, obs):
            continue
        out.append(primary)
        out.extend(
            o
            for (kind, region), o in obs.tables.items()
            if kind == t.kind and region != d.primary_region and o is not None
            if owns_replica(d, primary, o)
        )
    return out


def _table_removal(d: DesiredState, t: DesiredTable, obs: Observed, plan: Plan) -> None:
    """One owned table: its write auto scaling, then one replica at a time, then the table."""
    o = obs.table(t.kind, d.primary_region)
    if o is None:
        return
    if not owns(d, o, obs):
        return  # never delete a table this resource does not own
    if terminal_problems(d, t, obs, plan):
        return  # waiting would be for ever: the problem says what to do
    plan.actions.extend(autoscaling_removal(t, obs, o.region))
    if o.busy or any(r.status != "ACTIVE" for r in o.replicas.values()):
        plan.waiting.append(f"table {t.name} in {o.region} is {o.status}")
        return
    foreign = [
        r
        for r in sorted(o.replicas)
        if (seen := obs.table(t.kind, r)) is not None and seen.tags is not None
        if foreign_record(d, seen) and not owns_replica(d, o, seen)
    ]
    if foreign:
        plan.problems.append(
            Problem(
                "spec.replicaRegions",
                f"the replica of {t.name} in {foreign[0]} is tagged for another ForumDatabase; "
                "remove its tags or the replica by hand, or set spec.deletionPolicy: Retain",
                "TableOwnedByAnother",
            )
        )
        return
    if o.replicas:
        region = sorted(o.replicas)[0]
        plan.actions.append(
            Action(
                "replica",
                "dynamodb",
                o.region,
                "update_table",
                {"TableName": t.name, "ReplicaUpdates": [{"Delete": {"RegionName": region}}]},
                f"remove the replica of {t.name} in {region}",
            )
        )
        plan.waiting.append(f"replica of {t.name} in {region} is being removed")
        return
    plan.actions.append(
        Action(
            "table",
            "dynamodb",
            o.region,
            "delete_table",
            {"TableName": t.name},
            f"delete table {t.name} in {o.region}",
        )
    )
    plan.waiting.append(f"table {t.name} in {o.region} is being deleted")
