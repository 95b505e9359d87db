"""Per-region settings of a global table's replicas (issue 13): deletion protection is a
setting of each replica (AWS: DeletionProtectionEnabled of the replica's own table, set by
UpdateTable in its region; a replica added with ReplicaUpdates starts without it), and the
status says per region what is and is not in shape. Against the strict emulator in-process."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from op_factories import spec
from test_op_reconcile_moto import NAME, NS, converge

from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Reconciler
from forumdb_operator.spec import SpecInvalid, parse_spec
from harness.emulator_support import wait_settled

TABLES = ("forum-Users", "forum-Threads", "forum-Posts")


def protection(region: str) -> dict[str, bool]:
    ddb = boto3.client("dynamodb", region_name=region)
    return {
        n: ddb.describe_table(TableName=n)["Table"]["DeletionProtectionEnabled"] for n in TABLES
    }


def raw(**changes: Any) -> dict[str, Any]:
    return spec(backups=None, alarms=None, deletionProtection=True, **changes)


def test_deletion_protection_is_on_in_every_replica_region_and_repaired_there(ext):
    r = Reconciler(Clients())
    ready = converge(r, raw())
    assert ready.phase == "Ready", ready.status["message"]
    assert protection("us-east-1") == dict.fromkeys(TABLES, True)
    assert protection("us-west-2") == dict.fromkeys(TABLES, True)

    boto3.client("dynamodb", region_name="us-west-2").update_table(
        TableName="forum-Posts", DeletionProtectionEnabled=False
    )
    # a look without a write (no pass): the status as it stands before the repair
    look = Reconciler(Clients(), max_passes=0)
    drifted = look.reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status
    )
    assert [str(a) for a in drifted.applied] == []
    west = next(x for x in drifted.status["regions"] if x["region"] == "us-west-2")
    assert west["inShape"] is False
    assert any("deletion protection" in p and "forum-Posts" in p for p in west["notInShape"]), west
    repaired = converge(r, raw(), previous=drifted.status)
    assert protection("us-west-2")["forum-Posts"] is True
    assert any("us-west-2" in e.message for e in repaired.events if e.reason == "DriftRepaired")
    for region in repaired.status["regions"]:
        assert region["inShape"] is True, region
        assert "notInShape" not in region


def kms_key(region: str) -> str:
    return boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]


def replica_key(table: str, region: str) -> str | None:
    desc = boto3.client("dynamodb", region_name=region).describe_table(TableName=table)
    return (desc["Table"].get("SSEDescription") or {}).get("KMSMasterKeyArn")


def test_a_changed_replica_kms_key_is_applied_in_the_replicas_region(ext):
    """AWS refuses a new KMSMasterKeyId through ReplicaUpdates; the replica's own table takes
    one through SSESpecification in its region. Before: the change was silently ignored."""
    east, west_1, west_2 = kms_key("us-east-1"), kms_key("us-west-2"), kms_key("us-west-2")

    def encrypted(west: str) -> dict[str, Any]:
        return spec(
            backups=None,
            alarms=None,
            encryption={"kmsKeyId": east, "replicaKmsKeyIds": {"us-west-2": west}},
        )

    r = Reconciler(Clients())
    ready = converge(r, encrypted(west_1))
    assert ready.phase == "Ready", ready.status["message"]
    assert {replica_key(n, "us-west-2") for n in TABLES} == {west_1}

    look = Reconciler(Clients(), max_passes=0).reconcile(
        namespace=NS, name=NAME, spec=encrypted(west_2), generation=2, previous=ready.status
    )
    west = next(x for x in look.status["regions"] if x["region"] == "us-west-2")
    assert west["inShape"] is False
    assert any(f"(spec: {west_2})" in p for p in west["notInShape"]), west
    east_entry = next(x for x in look.status["regions"] if x["region"] == "us-east-1")
    assert east_entry["inShape"] is True, east_entry

    changed = converge(r, encrypted(west_2), previous=ready.status, generation=2)
    assert changed.phase == "Ready", changed.status["message"]
    assert {replica_key(n, "us-west-2") for n in TABLES} == {west_2}
    assert {replica_key(n, "us-east-1") for n in TABLES} == {east}
    assert all(region["inShape"] for region in changed.status["regions"])


def provisioned(west_read: int | None) -> dict[str, Any]:
    billing: dict[str, Any] = {"mode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 5}
    if west_read is not None:
        billing["replicaReadCapacity"] = {"us-west-2": west_read}
    return spec(backups=None, alarms=None, billing=billing)


def read_capacity(table: str, region: str) -> int:
    desc = boto3.client("dynamodb", region_name=region).describe_table(TableName=table)
    return int(desc["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"])


def test_a_replicas_read_capacity_is_its_own_and_kept(ext):
    """spec.billing.replicaReadCapacity: the replica is created with its read capacity
    (ProvisionedThroughputOverride), a change is applied, a hand-made change is repaired, and
    the primary's capacity is left as readCapacity says."""
    r = Reconciler(Clients())
    ready = converge(r, provisioned(20))
    assert ready.phase == "Ready", ready.status["message"]
    assert {read_capacity(n, "us-west-2") for n in TABLES} == {20}
    assert {read_capacity(n, "us-east-1") for n in TABLES} == {5}

    changed = converge(r, provisioned(30), previous=ready.status, generation=2)
    assert changed.phase == "Ready", changed.status["message"]
    assert {read_capacity(n, "us-west-2") for n in TABLES} == {30}
    assert {read_capacity(n, "us-east-1") for n in TABLES} == {5}

    boto3.client("dynamodb", region_name="us-east-1").update_table(
        TableName="forum-Posts",
        ReplicaUpdates=[
            {
                "Update": {
                    "RegionName": "us-west-2",
                    "ProvisionedThroughputOverride": {"ReadCapacityUnits": 7},
                }
            }
        ],
    )
    wait_settled(boto3.client("dynamodb", region_name="us-east-1"), name="forum-Posts")
    drifted = Reconciler(Clients(), max_passes=0).reconcile(
        namespace=NS, name=NAME, spec=provisioned(30), generation=2, previous=changed.status
    )
    west = next(x for x in drifted.status["regions"] if x["region"] == "us-west-2")
    assert "read capacity of forum-Posts is 7 (spec: 30)" in west["notInShape"], west
    repaired = converge(r, provisioned(30), previous=drifted.status, generation=2)
    assert read_capacity("forum-Posts", "us-west-2") == 30
    assert all(region["inShape"] for region in repaired.status["regions"])


@pytest.mark.parametrize(
    ("billing", "why"),
    [
        (
            {"mode": "PAY_PER_REQUEST", "replicaReadCapacity": {"us-west-2": 5}},
            "spec.billing.replicaReadCapacity: only valid when mode is PROVISIONED",
        ),
        (
            {
                "mode": "PROVISIONED",
                "readCapacity": 5,
                "writeCapacity": 5,
                "replicaReadCapacity": {"eu-west-1": 5},
            },
            "spec.billing.replicaReadCapacity.eu-west-1: eu-west-1 is not one of",
        ),
    ],
)
def test_replica_read_capacity_is_refused_where_it_cannot_apply(billing: dict, why: str):
    with pytest.raises(SpecInvalid) as info:
        parse_spec(spec(billing=billing))
    assert any(e.startswith(why) for e in info.value.errors), info.value.errors
