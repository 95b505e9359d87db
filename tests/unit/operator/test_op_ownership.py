"""Ownership (issue 13): the owner record is NAMESPACE/NAME plus the resource's UID and the
operator's cluster id, so a recreated resource or one of the same name in another cluster never
takes, changes or deletes the other's tables; adoption is opt-in, compares more than the key
schema, and leaves unset fields (billing) alone; tag values and alarm names stay within AWS's
limits for any name the CRD allows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from op_factories import desired, desired_of, in_shape, spec, untagged, with_table
from test_op_reconcile_moto import NAME, NS, converge

from forumdb import naming, tables
from forumdb_operator.awsclients import Clients
from forumdb_operator.diff import deletion_plan, diff, ownership
from forumdb_operator.observed import ObservedIndex
from forumdb_operator.reconcile import Reconciler
from forumdb_operator.spec import parse_spec

UID_A = "0b7c5e0e-1111-4a4a-8a8a-000000000001"
UID_B = "0b7c5e0e-2222-4b4b-8b8b-000000000002"


def _table_ops(plan: Any, name: str) -> list[str]:
    return [
        a.operation
        for a in plan.actions
        if a.params.get("TableName") == name or str(a.params.get("ResourceArn", "")).endswith(name)
    ]


# ---------------------------------------------------------------- the record


def test_tables_made_by_a_resource_carry_its_uid_and_cluster_id():
    d = desired_of(UID_A, "east")
    tags = d.table("users").tags
    assert tags[naming.TAG_OWNER] == "ns1/forum"
    assert tags[naming.TAG_OWNER_UID] == UID_A
    assert tags[naming.TAG_CLUSTER] == "east"
    assert d.backups is not None
    assert d.backups.tags[naming.TAG_OWNER_UID] == UID_A


@pytest.mark.parametrize("adopt", [False, True])
def test_a_recreated_resource_does_not_claim_its_predecessors_tables(adopt):
    """Same NAMESPACE/NAME, another UID: refused whatever spec.adopt says, with the way out."""
    old = desired_of(UID_A)
    obs = in_shape(old)
    plan = diff(desired_of(UID_B, adopt=adopt, deletionProtection=False), obs)
    reasons = {p.reason for p in plan.problems}
    assert reasons == {"TableOwnedByAnother"}
    msg = plan.problems[0].message
    assert UID_A in msg
    assert naming.TAG_OWNER_UID in msg
    assert "spec.adopt" in msg
    for t in old.tables:
        assert _table_ops(plan, t.name) == []


def test_a_resource_of_the_same_name_in_another_cluster_is_refused():
    obs = in_shape(desired_of(UID_A, "east"))
    plan = diff(desired_of(UID_B, "west", adopt=True), obs)
    assert {p.reason for p in plan.problems} == {"TableOwnedByAnother"}
    assert "cluster east" in plan.problems[0].message
    assert not [a for a in plan.actions if a.operation in ("tag_resource", "update_table")]


def test_deletion_never_touches_tables_of_a_predecessor_or_another_cluster():
    for other in (desired_of(UID_A), desired_of(UID_A, "east")):
        obs = in_shape(other)
        mine = desired_of(UID_B, deletionPolicy="Delete")
        plan = deletion_plan(mine, obs)
        assert not [
            a
            for a in plan.actions
            if a.service == "dynamodb" or a.service == "application-autoscaling"
        ], plan.actions


def test_tables_tagged_before_the_uid_was_recorded_stay_this_resources():
    """An operator upgrade: the tables carry NAMESPACE/NAME only, and this resource's own status
    says it provisioned them: they are its, and get the UID tag."""
    d = desired_of(UID_A)
    obs = in_shape(desired())  # tagged without a UID
    obs.provisioned_here = True
    plan = diff(d, obs)
    assert not plan.problems
    tagging = [a for a in plan.actions if a.operation == "tag_resource"]
    assert len(tagging) == 3
    assert all({"Key": naming.TAG_OWNER_UID, "Value": UID_A} in a.params["Tags"] for a in tagging)


def test_name_only_tables_without_a_status_of_ours_need_adopt():
    """NAMESPACE/NAME without a UID, and no status of this object records them (a resource of
    the same name deleted with Retain, then created again): adoption rules apply."""
    obs = in_shape(desired())
    refused = diff(desired_of(UID_B), obs)
    assert {p.reason for p in refused.problems} == {"TableExists"}
    assert not [a for a in refused.actions if a.operation == "tag_resource"]
    adopted = diff(desired_of(UID_B, adopt=True), obs)
    assert not adopted.problems
    assert sum(a.operation == "tag_resource" for a in adopted.actions) == 3


def _retained(old: Any, primary_uid: bool) -> Any:
    """`old`'s tables as a deletion with Retain leaves them: every replica tagged with the
    record too; `primary_uid` False: the person removed the UID tag from the primaries."""
    obs = in_shape(old)
    for (kind, region), o in list(obs.tables.items()):
        tags = dict(old.table(kind).tags)
        if region == old.primary_region and not primary_uid:
            del tags[naming.TAG_OWNER_UID]
        obs.tables[(kind, region)] = replace(o, tags=tags)
    return obs


def test_replicas_of_an_adopted_primary_follow_it_others_stay_foreign():
    """A recreated resource adopts its retained primaries (UID tag removed, spec.adopt true):
    their replicas, still carrying the earlier UID under the same name and cluster, are
    re-tagged with the new record, not called another resource's. While a primary is still
    the earlier resource's, nothing of its replicas is touched (diff or deletion), and a
    replica tagged for a resource of another name is foreign whatever its primary."""
    old = desired_of(UID_A, "east")
    new = desired_of(UID_B, "east", adopt=True, deletionPolicy="Delete")
    plan = diff(new, _retained(old, primary_uid=False))
    assert plan.problems == []
    replicas = {r for r in new.replica_regions}
    assert replicas
    tagged = [a for a in plan.actions if a.operation == "tag_resource" and a.region in replicas]
    assert len(tagged) == 3 * len(replicas)
    for a in tagged:
        assert {"Key": naming.TAG_OWNER_UID, "Value": UID_B} in a.params["Tags"]

    theirs = _retained(old, primary_uid=True)
    refused = diff(new, theirs)
    assert {p.reason for p in refused.problems} == {"TableOwnedByAnother"}
    assert not [a for a in refused.actions if a.service == "dynamodb"]
    assert not [a for a in deletion_plan(new, theirs).actions if a.service == "dynamodb"]

    other = _retained(old, primary_uid=False)
    region = new.replica_regions[0]
    posts = other.tables[("posts", region)]
    other.tables[("posts", region)] = replace(
        posts, tags={**(posts.tags or {}), naming.TAG_OWNER: "team-b/forum"}
    )
    plan = diff(new, other)
    assert [p.reason for p in plan.problems] == ["TableOwnedByAnother"]
    assert "team-b/forum" in plan.problems[0].message
    assert not [a for a in plan.actions if posts.arn == a.params.get("ResourceArn")]


# ---------------------------------------------------------------- adoption


def test_adopt_defaults_to_false():
    assert parse_spec({"primaryRegion": "us-east-1"}).adopt is False
    plan = diff(desired(adopt=None), untagged(in_shape(desired())))
    assert {p.reason for p in plan.problems} == {"TableExists"}


def test_adoption_compares_key_types():
    d = desired(adopt=True)
    obs = with_table(untagged(in_shape(d)), "users", "us-east-1", attribute_types={"userId": "S"})
    plan = diff(d, obs)
    assert plan.problems[0].reason == "IncompatibleTable"
    assert "userId of type S" in plan.problems[0].message
    assert _table_ops(plan, "forum-Users") == []


def test_adoption_compares_index_keys():
    d = desired(adopt=True)
    obs = untagged(in_shape(d))
    t = obs.table("users", "us-east-1")
    assert t is not None
    bad = {"EmailIndex": ObservedIndex("EmailIndex", "ACTIVE", (("userId", "HASH"),), 0, 0)}
    obs = with_table(obs, "users", "us-east-1", indexes=bad)
    plan = diff(d, obs)
    assert plan.problems[0].reason == "IncompatibleTable"
    assert "index EmailIndex" in plan.problems[0].message


def test_adopting_a_provisioned_table_without_billing_keeps_it_provisioned():
    """spec.billing unset is not managed (the CRD's own rule): no switch to on-demand."""
    d = desired(adopt=True, billing=None, replicaRegions=[])
    obs = untagged(in_shape(d))
    for kind in tables.KINDS:
        obs = with_table(obs, kind, "us-east-1", billing_mode="PROVISIONED")
    plan = diff(d, obs)
    assert not plan.problems
    assert not [a for a in plan.actions if "BillingMode" in a.params], plan.actions


# ---------------------------------------------------------------- AWS's limits


def test_owner_tag_and_alarm_names_fit_aws_limits_for_the_longest_names():
    ns, name = "n" * 63, "x" * 253  # Kubernetes' longest namespace and object name
    prefix = "p" * 200  # the CRD's longest tablePrefix
    long = naming.owner_value(ns, name)
    assert len(long) <= 256
    assert long != naming.owner_value(ns, name[:-1] + "y")  # still distinct
    table = tables.table_name("threads", prefix)
    for cluster in ("", "c" * 32):
        names = [
            naming.table_alarm_name(ns, name, table, "WriteThrottleEvents", cluster),
            naming.replication_alarm_name(ns, name, table, "ap-southeast-2", cluster),
            naming.account_alarm_name(ns, name, "UserErrors", cluster),
        ]
        assert all(len(n) <= 255 for n in names), [len(n) for n in names]
        assert all(n.startswith(naming.alarm_prefix(ns, name, cluster)) for n in names)
        assert len(set(names)) == 3
    # short names are unchanged (existing alarms keep their names)
    assert naming.table_alarm_name("ns1", "forum", "forum-Users", "ReadThrottleEvents") == (
        "forumdb/ns1/forum/forum-Users/ReadThrottleEvents"
    )


def test_cluster_id_keeps_names_of_two_clusters_apart():
    a, b = desired_of(UID_A, "east"), desired_of(UID_B, "west")
    assert a.backups is not None
    assert b.backups is not None
    assert a.backups.plan_name != b.backups.plan_name
    assert a.backups.vault_name != b.backups.vault_name
    assert a.alarms is not None
    assert b.alarms is not None
    assert a.alarms.prefix != b.alarms.prefix
    assert not b.alarms.prefix.startswith(a.alarms.prefix)


# ---------------------------------------------------------------- against the emulator


def _ddb(region: str) -> Any:
    return boto3.client("dynamodb", region_name=region)


def _raw(**changes: Any) -> dict[str, Any]:
    return spec(replicaRegions=[], backups=None, alarms=None, **changes)


def test_two_clusters_with_the_same_resource_never_share_tables(ext):
    """Cluster east makes the tables; cluster west's ForumDatabase of the same name and
    namespace is refused, and its deletion (Delete) leaves east's tables in place."""
    east = Reconciler(Clients(), cluster_id="east")
    west = Reconciler(Clients(), cluster_id="west")
    raw = _raw(deletionPolicy="Delete")
    ready = converge(east, raw, uid=UID_A)
    assert ready.phase == "Ready", ready.status["message"]
    out = west.reconcile(namespace=NS, name=NAME, spec=raw, generation=1, uid=UID_B)
    assert out.phase == "Failed", out.status["message"]
    assert "TableOwnedByAnother" in {c.get("reason") for c in out.status["conditions"]}
    assert out.foreign_tables == sorted(tables.table_name(k) for k in tables.KINDS)
    assert not out.calls.writes
    gone = west.delete(namespace=NS, name=NAME, spec=raw, previous=out.status, uid=UID_B)
    assert not [w for w in gone.calls.writes if w[0] == "dynamodb"], gone.calls.writes
    for kind in tables.KINDS:
        desc = _ddb("us-east-1").describe_table(TableName=tables.table_name(kind))["Table"]
        assert desc["TableStatus"] == "ACTIVE"


def test_a_recreated_resource_is_refused_its_predecessors_tables(ext):
    r = Reconciler(Clients())
    raw = _raw()
    assert converge(r, raw, uid=UID_A).phase == "Ready"
    # a new object of the same name: no status of its own
    again = r.reconcile(namespace=NS, name=NAME, spec=raw, generation=1, uid=UID_B)
    assert again.phase == "Failed"
    assert UID_A in again.status["message"]
    assert not again.calls.writes


# ---------------------------------------------------------------- claims bound to a TableId


USERS = tables.table_name("users")


def _made_again(tags: dict[str, str]) -> str:
    """forum-Users deleted and made again by someone else (another resource of the prefix,
    `forumctl tables create`): the same layout, PITR off, `tags`; its new TableId."""
    east = _ddb("us-east-1")
    before = east.describe_table(TableName=USERS)["Table"]["TableId"]
    east.delete_table(TableName=USERS)
    request = dict(desired_of(UID_A).table("users").create_request)
    request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    if not request["Tags"]:
        del request["Tags"]
    made = east.create_table(**request)["TableDescription"]["TableId"]
    assert made != before
    return str(made)


def _touches(actions: list[Any], name: str) -> list[Any]:
    return [
        a
        for a in actions
        if a.params.get("TableName") == name
        or str(a.params.get("ResourceArn", "")).endswith("/" + name)
    ]


FOREIGN = {naming.TAG_OWNER: "team-b/forum", naming.TAG_OWNER_UID: UID_B}


def _provisioning_then_made_again(tags: dict[str, str]) -> tuple[Reconciler, Any, Any, str]:
    """A's first reconcile (deletionPolicy Delete), its status as Provisioning, then forum-Users
    made again by someone else with `tags`: the reconciler, spec, status and new TableId."""
    r = Reconciler(Clients())
    raw = _raw(deletionPolicy="Delete", deletionProtection=False)
    first = r.reconcile(namespace=NS, name=NAME, spec=raw, generation=1, uid=UID_A)
    assert USERS in str(first.status["claimedTables"]), first.status
    provisioning = {**first.status, "phase": "Provisioning", "observedGeneration": 1}
    return r, raw, provisioning, _made_again(tags)


@pytest.mark.parametrize(
    ("tags", "reason"),
    [(FOREIGN, "TableOwnedByAnother"), ({}, "TableExists")],
    ids=["foreign", "untagged"],
)
def test_a_table_made_again_while_provisioning_is_judged_by_its_own_tags(ext, tags, reason):
    """status.claimedTables binds each claim to the TableId of the table claimed: a claimed
    table deleted and made again by someone else while the spec is provisioned has another
    TableId, so its tags are read (not taken as the ones this resource sent) and it is judged
    by them: never tagged, changed (PITR, UpdateTable) or claimed again."""
    # the made-again table's tags listed, and its PITR open to changes, at once
    ext.configure(tags_settle_seconds=0, pitr_unavailable_seconds=0)
    r, raw, provisioning, _ = _provisioning_then_made_again(tags)
    out = r.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=provisioning, uid=UID_A
    )
    assert _touches(out.applied, USERS) == []
    assert reason in {c.get("reason") for c in out.status["conditions"]}, out.status
    assert USERS not in str(out.status["claimedTables"])
    assert USERS in out.foreign_tables
    east = _ddb("us-east-1")
    pitr = east.describe_continuous_backups(TableName=USERS)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    arn = east.describe_table(TableName=USERS)["Table"]["TableArn"]
    listed = {t["Key"]: t["Value"] for t in east.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert listed == tags


@pytest.mark.parametrize("tags", [FOREIGN, {}], ids=["foreign", "untagged"])
def test_a_deletion_leaves_a_table_made_again_while_provisioning(ext, tags):
    """deletionPolicy Delete right after (the status still claims forum-Users): the table made
    again has another TableId, so the claim does not make it this resource's, and a table whose
    tags are not listed yet (or that has none) is not deleted; the resource's own tables go."""
    ext.configure(tags_settle_seconds=5)  # the made-again table's tags not listed yet
    r, raw, provisioning, table_id = _provisioning_then_made_again(tags)
    gone = r.delete(namespace=NS, name=NAME, spec=raw, previous=provisioning, uid=UID_A)
    assert _touches(gone.applied, USERS) == []
    assert _touches(gone.applied, tables.table_name("posts")), gone.applied
    assert _ddb("us-east-1").describe_table(TableName=USERS)["Table"]["TableId"] == table_id


def test_claims_of_an_earlier_status_are_unbound_and_bound_once_kept():
    """status.claimedTables of an operator before TableIds: bare names, read as unbound
    claims (tags read, not taken as sent); one kept is bound to the TableId seen then. A
    bound claim holds only for the table of its TableId."""
    claimed = ownership.from_status(["forum-Users", {"name": "forum-Posts", "tableId": "p1"}])
    assert claimed == {"forum-Users": "", "forum-Posts": "p1"}
    d = desired_of(UID_A, replicaRegions=[])
    obs = untagged(in_shape(d))
    for kind, table_id in (("users", "u1"), ("posts", "p2"), ("threads", "t1")):
        obs = with_table(obs, kind, "us-east-1", table_id=table_id)
    obs.claimed = claimed
    users, posts = obs.table("users", "us-east-1"), obs.table("posts", "us-east-1")
    assert users is not None
    assert posts is not None
    assert ownership.awaiting_tags(d, users, obs)
    assert not ownership.awaiting_tags(d, posts, obs)  # made again: p2, not p1
    assert ownership.unconfirmed(d, obs, claimed) == {"forum-Users": "u1"}
    assert ownership.as_status({"forum-Users": "u1", "forum-Posts": ""}) == [
        {"name": "forum-Posts"},
        {"name": "forum-Users", "tableId": "u1"},
    ]
