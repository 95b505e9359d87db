"""Global-table changes (issue 13): no UpdateTable while a replica is being created, updated or
deleted, whatever the base table's status says; write auto scaling that is no longer wanted is
deregistered instead of fighting the operator over capacity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
from op_factories import (
    desired,
    in_shape,
    spec,
    with_table,
)
from test_op_reconcile_moto import converge

from forumdb_operator.awsclients import Clients
from forumdb_operator.diff import diff
from forumdb_operator.observed import ObservedReplica
from forumdb_operator.reconcile import Reconciler


def test_no_update_table_while_a_replica_changes_even_with_the_table_active():
    d = desired(deletionProtection=True)
    obs = in_shape(desired())  # protection off: an update is due
    users = obs.table("users", "us-east-1")
    assert users is not None
    creating = {"us-west-2": ObservedReplica("us-west-2", "CREATING", None)}
    obs = with_table(obs, "users", "us-east-1", replicas=creating)
    plan = diff(d, obs)
    touched = {a.params.get("TableName") for a in plan.actions if a.operation == "update_table"}
    assert "forum-Users" not in touched
    assert {"forum-Threads", "forum-Posts"} <= touched  # the other tables are not held back
    assert any("forum-Users in us-west-2 is CREATING" in w for w in plan.waiting)


def test_auto_scaling_left_from_provisioned_is_removed_before_on_demand():
    was = desired(billing={"mode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 5})
    obs = in_shape(was)  # targets registered for every table and index
    for kind in ("users", "threads", "posts"):
        obs = with_table(obs, kind, "us-east-1", billing_mode="PROVISIONED")
    d = desired()  # PAY_PER_REQUEST
    plan = diff(d, obs)
    users = [
        a.operation
        for a in plan.actions
        if "forum-Users" in str(a.params.get("ResourceId", a.params.get("TableName", "")))
    ]
    assert users[:2] == ["deregister_scalable_target"] * 2  # table and EmailIndex
    assert users[-1] == "update_table"


def test_auto_scaling_unwanted_without_replicas_or_max_is_removed():
    was = desired(billing={"mode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 5})
    obs = in_shape(was)
    d = desired(
        replicaRegions=[], billing={"mode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 5}
    )
    obs.tables = {k: v for k, v in obs.tables.items() if k[1] == "us-east-1"}
    obs.tables = {k: replace(v, replicas={}) for k, v in obs.tables.items() if v is not None}
    plan = diff(d, obs)
    gone = {a.params["ResourceId"] for a in plan.actions if a.operation.startswith("deregister")}
    assert gone == {r for t in was.tables for r, _ in t.autoscaled_resources}


def test_switching_to_on_demand_deregisters_auto_scaling_in_the_emulator(ext: Any):
    r = Reconciler(Clients())
    base: dict[str, Any] = {"replicaRegions": [], "backups": None, "alarms": None}
    provisioned = spec(
        **base,
        billing={
            "mode": "PROVISIONED",
            "readCapacity": 5,
            "writeCapacity": 5,
            "maxWriteCapacity": 10,
        },
    )
    first = converge(r, provisioned)
    assert first.phase == "Ready", first.status["message"]
    aas = boto3.client("application-autoscaling", region_name="us-east-1")
    assert aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"]
    out = converge(r, spec(**base), previous=first.status, generation=2)
    assert out.phase == "Ready", out.status["message"]
    assert aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"] == []
    again = r.reconcile(
        namespace="ns1", name="forum", spec=spec(**base), generation=2, previous=out.status
    )
    assert again.calls.writes == []


def test_a_stream_of_another_view_type_is_reported_before_any_replica():
    d = desired()
    obs = in_shape(d)
    obs = with_table(obs, "users", "us-east-1", stream_view_type="KEYS_ONLY", replicas={})
    plan = diff(d, obs)
    assert [p.reason for p in plan.problems] == ["StreamViewType"]
    assert "KEYS_ONLY" in plan.problems[0].message
    assert not [a for a in plan.actions if a.params.get("TableName") == "forum-Users"]
