"""The resource's tags on every replica table, in the replica's own region (issue 13, replica
settings). A replica of a global table is a table of its own with its own ARN and tags, made
without the primary's (the emulator models it: test_conformance_tags_pitr.py); the operator
tags each replica it owns there, puts back a tag removed by hand, never tags a table another
resource owns, and the status says per region whether the tags are in shape. Against the
strict emulator in-process."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from typing import Any

import boto3
from botocore.exceptions import ClientError
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import desired_of, in_shape, spec
from test_op_crd_status_schema import pruned, status_schema
from test_op_reconcile_moto import NAME, NS, converge

from forumdb import naming
from forumdb_operator.awsclients import Clients
from forumdb_operator.diff import diff, replica_tags
from forumdb_operator.observed import ObservedPitr
from forumdb_operator.ratelimit import RateLimiter
from forumdb_operator.reconcile import Reconciler
from forumdb_operator.replica_tagger import ReplicaTagger

TABLES = ("forum-Users", "forum-Threads", "forum-Posts")
UID = "0b6f4c52-8d1e-4f0e-9a57-3c2d1e0f9a11"
CLUSTER = "blue"
WEST = "us-west-2"


def raw() -> dict[str, Any]:
    return spec(backups=None, alarms=None)


def reconciler(**kw: Any) -> Reconciler:
    return Reconciler(Clients(), cluster_id=CLUSTER, **kw)


def tags(table: str, region: str) -> dict[str, str]:
    """The table's tags as its own region lists them, by its own ARN."""
    ddb = boto3.client("dynamodb", region_name=region)
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def arn(table: str, region: str) -> str:
    ddb = boto3.client("dynamodb", region_name=region)
    return ddb.describe_table(TableName=table)["Table"]["TableArn"]


def region_entry(status: dict[str, Any], region: str) -> dict[str, Any]:
    return next(x for x in status["regions"] if x["region"] == region)


def listed(r: Reconciler, ready: Any) -> Any:
    """Once DynamoDB lists the replicas' tags that `ready` sent (ListTagsOfResource is
    eventually consistent: AwsRules.tags_settle_seconds), a drift check confirms them: no
    write, status.taggedReplicas empty. Its outcome."""
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        if all(tags(t, WEST).get(naming.TAG_OWNER) for t in TABLES):
            break
        pause(0.2)
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert check.applied == [], check.applied
    assert check.status["taggedReplicas"] == []
    return check


def ownership(kind: str) -> dict[str, str]:
    return {
        naming.TAG_OWNER: f"{NS}/{NAME}",
        naming.TAG_OWNER_UID: UID,
        naming.TAG_CLUSTER: CLUSTER,
        naming.TAG_MANAGED_BY: naming.MANAGED_BY,
        naming.TAG_TABLE_KIND: kind,
    }


def test_replica_tables_get_the_resources_tags_in_their_region(ext):
    """Each replica gets the ownership record by TagResource in its region, once. TagResource's
    success puts the tags in place; ListTagsOfResource may answer the previous (empty) set for
    a few seconds, so the tags sent are remembered (status.taggedReplicas) and taken as in
    place: neither sent again nor waited for (issue 14: no reconcile spent waiting for the
    listing), until a later look sees them listed."""
    ext.configure(tags_settle_seconds=3)  # longer than the pauses: stale reads happen
    r = reconciler()
    ready = converge(r, raw(), uid=UID)
    assert ready.phase == "Ready", ready.status["message"]
    west_tagging = [a for a in ready.applied if a.operation == "tag_resource" and a.region == WEST]
    assert sorted(a.params["ResourceArn"] for a in west_tagging) == sorted(
        arn(t, WEST) for t in TABLES
    )
    assert [e["replica"] for e in ready.status["taggedReplicas"]] == [
        f"{WEST}/{t}" for t in sorted(TABLES)
    ]
    assert all(region["inShape"] for region in ready.status["regions"]), ready.status["regions"]
    check = listed(r, ready)
    for table, kind in zip(TABLES, ("users", "threads", "posts"), strict=True):
        assert tags(table, WEST) == ownership(kind), table
        assert tags(table, "us-east-1") == ownership(kind), table
    assert all(region["inShape"] for region in check.status["regions"]), check.status["regions"]


def test_a_tag_removed_by_hand_from_a_replica_is_shown_per_region_and_put_back(ext):
    r = reconciler()
    ready = listed(r, converge(r, raw(), uid=UID))
    assert ready.phase == "Ready", ready.status["message"]
    ext.configure(tags_settle_seconds=0)  # the hand-made change is listed at once
    west = boto3.client("dynamodb", region_name=WEST)
    west.untag_resource(ResourceArn=arn("forum-Posts", WEST), TagKeys=[naming.TAG_OWNER_UID])

    # a look without a write (no pass): the status as it stands before the repair
    look = reconciler(max_passes=0).reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert look.applied == []
    assert region_entry(look.status, WEST)["notInShape"] == [
        f"tags of forum-Posts not set: {naming.TAG_OWNER_UID}"
    ]
    assert region_entry(look.status, "us-east-1")["inShape"] is True

    repaired = converge(r, raw(), previous=look.status, uid=UID)
    assert repaired.phase == "Ready", repaired.status["message"]
    assert tags("forum-Posts", WEST) == ownership("posts")
    assert [str(a) for a in repaired.applied] == [
        f"tag table forum-Posts in {WEST} (tags {naming.TAG_OWNER_UID})"
    ]
    assert any(WEST in e.message for e in repaired.events if e.reason == "DriftRepaired")
    assert all(region["inShape"] for region in repaired.status["regions"])


def other_owner() -> list[dict[str, str]]:
    return [
        {"Key": naming.TAG_OWNER, "Value": "team-b/forum"},
        {"Key": naming.TAG_OWNER_UID, "Value": "7d0c9a4e-0000-4000-8000-000000000b0b"},
        {"Key": naming.TAG_MANAGED_BY, "Value": naming.MANAGED_BY},
    ]


def test_a_table_another_resource_owns_in_a_replica_region_is_never_tagged(ext):
    """The same prefix in another region: team-b's forum-Posts in us-west-2 (its primary) is
    neither tagged nor made a replica; the problem names its owner, and the region's status
    says so. Before: the operator asked AWS for a replica there and failed on its answer."""
    ext.configure(tags_settle_seconds=0)
    theirs = boto3.client("dynamodb", region_name=WEST).create_table(
        TableName="forum-Posts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=other_owner(),
    )["TableDescription"]["TableArn"]
    out = converge(reconciler(), raw(), uid=UID)
    assert out.phase == "Failed", out.status["message"]
    assert (
        "table forum-Posts in us-west-2 belongs to ForumDatabase team-b/forum"
        in (out.status["message"])
    )
    assert [a for a in out.applied if a.region == WEST] == []
    assert not [a for a in out.applied if "ReplicaUpdates" in a.params]
    assert tags("forum-Posts", WEST) == {t["Key"]: t["Value"] for t in other_owner()}
    assert arn("forum-Posts", WEST) == theirs
    west = region_entry(out.status, WEST)
    assert "table forum-Posts belongs to ForumDatabase team-b/forum (uid 7d0c9a4e-" in (
        " ".join(west["notInShape"])
    )


def test_a_replica_tagged_for_another_resource_is_left_as_it_is(ext):
    """A replica whose tags name another owner (tagged by hand, or by another cluster) is not
    re-tagged over: a problem says whose it claims to be."""
    r = reconciler()
    ready = listed(r, converge(r, raw(), uid=UID))
    assert ready.phase == "Ready", ready.status["message"]
    ext.configure(tags_settle_seconds=0)
    west = boto3.client("dynamodb", region_name=WEST)
    west.tag_resource(ResourceArn=arn("forum-Threads", WEST), Tags=other_owner())
    out = converge(r, raw(), previous=ready.status, uid=UID)
    assert out.phase == "Failed", out.status["message"]
    assert (
        "table forum-Threads in us-west-2 belongs to ForumDatabase team-b/forum"
        in (out.status["message"])
    )
    assert out.applied == []
    assert tags("forum-Threads", WEST)[naming.TAG_OWNER] == "team-b/forum"
    assert region_entry(out.status, WEST)["inShape"] is False


def test_deletion_leaves_a_table_another_resource_owns_in_a_replica_region_alone(ext):
    """deletionPolicy Delete with deletionProtection false turns protection off and deletes
    only what the resource owns: team-b's forum-Posts in the replica region (same prefix) keeps
    its protection and its tags. Before: every table of an owned kind, in every region, had
    its deletion protection turned off."""
    ext.configure(tags_settle_seconds=0)
    west = boto3.client("dynamodb", region_name=WEST)
    west.create_table(
        TableName="forum-Posts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
        Tags=other_owner(),
    )
    doomed = spec(backups=None, alarms=None, deletionPolicy="Delete", deletionProtection=False)
    r = reconciler()
    refused = converge(r, doomed, uid=UID)
    assert refused.phase == "Failed", refused.status["message"]
    for _ in reconcile_rounds():
        out = r.delete(namespace=NS, name=NAME, spec=doomed, previous=refused.status, uid=UID)
        if out.done:
            break
        pause(out.requeue_after)
    assert out.done, out.status.get("message")
    desc = west.describe_table(TableName="forum-Posts")["Table"]
    assert desc["DeletionProtectionEnabled"] is True
    assert tags("forum-Posts", WEST) == {t["Key"]: t["Value"] for t in other_owner()}
    east = boto3.client("dynamodb", region_name="us-east-1")
    assert east.list_tables()["TableNames"] == []


def test_an_untagged_table_of_that_name_in_a_replica_region_holds_back_only_that_replica(ext):
    """Someone's untagged forum-Posts in us-west-2, no replica of ours: AWS refuses the replica
    there ("... because one or more replicas already existed as tables.", DDB-TABLE-225, -203;
    the emulator's test_conformance_global_tables.py). The operator says so before asking,
    naming the table, the region and the way out; it never touches that table (no tags, no
    PITR, no protection), and the other replicas (forum-Posts in eu-west-1, the other tables
    in both regions) are made all the same. Before: the UpdateTable was sent and refused."""
    ext.configure(tags_settle_seconds=0)
    other = "eu-west-1"
    west = boto3.client("dynamodb", region_name=WEST)
    theirs = west.create_table(
        TableName="forum-Posts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    west.put_item(TableName="forum-Posts", Item={"pk": {"S": "theirs"}})
    out = converge(
        reconciler(),
        spec(backups=None, alarms=None, replicaRegions=[WEST, other], deletionProtection=True),
        uid=UID,
    )

    cond = next(c for c in out.status["conditions"] if c["type"] == "ReplicationHealthy")
    assert cond["reason"] == "ReplicaRegionTableExists", cond
    for words in (
        "table forum-Posts in us-west-2",
        "not a replica",
        "delete or rename",
        "remove us-west-2 from spec.replicaRegions",
    ):
        assert words in cond["message"], (words, cond["message"])
    # a problem that holds back only that replica (non-blocking): Degraded, not Failed
    assert out.phase == "Degraded", out.status["message"]
    next_tables = next(c for c in out.status["conditions"] if c["type"] == "TablesReady")
    assert next_tables["status"] == "True", next_tables
    # never asked for, never touched
    touching = [
        a
        for a in out.applied
        if (a.region == WEST and "forum-Posts" in str(a.params))
        or any(
            u.get("Create", {}).get("RegionName") == WEST
            for u in a.params.get("ReplicaUpdates", [])
            if a.params.get("TableName") == "forum-Posts"
        )
    ]
    assert touching == [], touching
    assert not [e for e in out.events if "already existed" in e.message]
    assert arn("forum-Posts", WEST) == theirs
    assert tags("forum-Posts", WEST) == {}
    pitr = west.describe_continuous_backups(TableName="forum-Posts")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    assert (
        west.describe_table(TableName="forum-Posts")["Table"]["DeletionProtectionEnabled"] is False
    )
    assert west.scan(TableName="forum-Posts")["Items"] == [{"pk": {"S": "theirs"}}]
    # only that replica held back
    east = boto3.client("dynamodb", region_name="us-east-1")
    for table in TABLES:
        listed = {
            r["RegionName"]: r["ReplicaStatus"]
            for r in east.describe_table(TableName=table)["Table"].get("Replicas", [])
        }
        want = {other: "ACTIVE"} if table == "forum-Posts" else {WEST: "ACTIVE", other: "ACTIVE"}
        assert {k: v for k, v in listed.items() if k != "us-east-1"} == want, (table, listed)
    assert "not a replica" in " ".join(region_entry(out.status, WEST)["notInShape"])


def _a_table_of_its_own(status: str) -> tuple[Any, Any]:
    """Desired with replicas in us-west-2 and eu-west-1, observed in shape but for forum-Posts:
    its primary lists no replica, us-west-2 holds an untagged table of that name (PITR off,
    no deletion protection) and eu-west-1 none."""
    d = desired_of(UID, CLUSTER, replicaRegions=[WEST, "eu-west-1"], deletionProtection=True)
    obs = in_shape(d)
    primary = obs.tables[("posts", "us-east-1")]
    obs.tables[("posts", "us-east-1")] = replace(primary, replicas={})
    apart = obs.tables[("posts", WEST)]
    obs.tables[("posts", WEST)] = replace(apart, status=status, tags={}, deletion_protection=False)
    obs.pitr[("posts", WEST)] = ObservedPitr(False, None)
    del obs.tables[("posts", "eu-west-1")]
    del obs.pitr[("posts", "eu-west-1")]
    return d, obs


def test_a_table_of_its_own_is_a_problem_that_holds_back_only_its_replica():
    """Pure diff: ReplicaRegionTableExists (not blocking), the replica in eu-west-1 asked for,
    and nothing at all for the table in us-west-2 (no PITR, protection or tags)."""
    d, obs = _a_table_of_its_own("ACTIVE")
    plan = diff(d, obs)
    assert [p.reason for p in plan.problems] == ["ReplicaRegionTableExists"]
    assert not plan.blocked
    assert [a.summary for a in plan.actions] == ["add a replica of forum-Posts in eu-west-1"]
    assert all(a.region != WEST for a in plan.actions)


def test_a_table_being_created_where_a_replica_is_wanted_is_waited_for():
    """CREATING: the primary may not list a replica of ours yet (DDB-TABLE-226): a wait, no
    problem and no request for that region."""
    d, obs = _a_table_of_its_own("CREATING")
    plan = diff(d, obs)
    assert plan.problems == []
    assert any("forum-Posts in us-west-2 is CREATING" in w for w in plan.waiting), plan.waiting
    assert [a.summary for a in plan.actions] == ["add a replica of forum-Posts in eu-west-1"]


def test_a_recreated_resource_takes_over_its_retained_tables_with_their_replicas(ext):
    """Deleted with deletionPolicy Retain and created again (a new metadata.uid): the person
    follows the operator's advice (remove the UID tag from the primaries, set spec.adopt:
    true). The primaries are adopted and their replicas, still tagged with the earlier UID,
    are re-tagged with the new one (the primary's ownership decides): Ready. Before: the
    replicas counted as another resource's tables and the resource stayed Failed."""
    ext.configure(tags_settle_seconds=0)
    r = reconciler()
    first = converge(r, raw(), uid=UID)
    assert first.phase == "Ready", first.status["message"]
    gone = r.delete(namespace=NS, name=NAME, spec=raw(), previous=first.status, uid=UID)
    assert gone.done
    assert gone.applied == []  # Retain: nothing changed in AWS
    new_uid = "5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"
    refused = converge(reconciler(), spec(backups=None, alarms=None, adopt=True), uid=new_uid)
    assert refused.phase == "Failed"
    message = refused.status["message"]
    assert f"remove the table's {naming.TAG_OWNER_UID} tag and set spec.adopt: true" in message
    east = boto3.client("dynamodb", region_name="us-east-1")
    for t in TABLES:  # the advice
        east.untag_resource(ResourceArn=arn(t, "us-east-1"), TagKeys=[naming.TAG_OWNER_UID])

    again = converge(
        reconciler(),
        spec(backups=None, alarms=None, adopt=True),
        previous=refused.status,
        uid=new_uid,
    )
    assert again.phase == "Ready", again.status["message"]
    for table in TABLES:
        for region in ("us-east-1", WEST):
            assert tags(table, region)[naming.TAG_OWNER_UID] == new_uid, (table, region)
    assert sorted(
        a.params["ResourceArn"]
        for a in again.applied
        if a.operation == "tag_resource"
        if a.region == WEST
    ) == sorted(arn(t, WEST) for t in TABLES)
    assert not [a for a in again.applied if a.operation in ("create_table", "delete_table")]
    assert all(region["inShape"] for region in again.status["regions"]), again.status["regions"]


def test_an_earlier_resources_table_that_is_not_a_replica_of_ours_stays_foreign(ext):
    """A table of the same name in a replica region tagged by an earlier resource of the same
    name and cluster, but not a replica of this resource's primary: not taken over (only a
    primary's own replicas follow it); the problem says so and what to do."""
    ext.configure(tags_settle_seconds=0)
    earlier = [
        {"Key": naming.TAG_OWNER, "Value": f"{NS}/{NAME}"},
        {"Key": naming.TAG_OWNER_UID, "Value": "uid-of-an-earlier-object"},
        {"Key": naming.TAG_CLUSTER, "Value": CLUSTER},
        {"Key": naming.TAG_MANAGED_BY, "Value": naming.MANAGED_BY},
    ]
    boto3.client("dynamodb", region_name=WEST).create_table(
        TableName="forum-Posts",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=earlier,
    )
    out = converge(reconciler(), spec(backups=None, alarms=None, adopt=True), uid=UID)
    assert out.phase == "Failed", out.status["message"]
    message = out.status["message"]
    assert "table forum-Posts in us-west-2 belongs to ForumDatabase" in message
    assert "is not a replica of forum-Posts in us-east-1" in message
    assert [a for a in out.applied if a.region == WEST] == []
    assert not [a for a in out.applied if "ReplicaUpdates" in a.params]
    assert tags("forum-Posts", WEST) == {t["Key"]: t["Value"] for t in earlier}


def _ago(seconds: float) -> str:
    then = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    return then.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_replica_tag_lost_while_waited_for_is_sent_again_after_a_bounded_wait(ext):
    """Tags sent to a replica and not listed are taken as in place (status.taggedReplicas
    records when they were sent), not for ever: removed by hand meanwhile, they are sent again
    once RESEND_AFTER_SECONDS have passed since (TagResource is idempotent). Before: the
    operator waited for the listing for ever."""
    r = reconciler()
    ready = listed(r, converge(r, raw(), uid=UID))
    assert ready.phase == "Ready", ready.status["message"]
    ext.configure(tags_settle_seconds=0)
    west = boto3.client("dynamodb", region_name=WEST)
    posts = arn("forum-Posts", WEST)
    west.untag_resource(ResourceArn=posts, TagKeys=[naming.TAG_OWNER_UID])

    def again(previous: dict[str, Any]) -> Any:
        return r.reconcile(
            namespace=NS, name=NAME, spec=raw(), generation=1, previous=previous, uid=UID
        )

    sent = again(ready.status)
    assert [str(a) for a in sent.applied] == [
        f"tag table forum-Posts in {WEST} (tags {naming.TAG_OWNER_UID})"
    ]
    entries = sent.status["taggedReplicas"]
    assert [e["replica"] for e in entries] == [f"{WEST}/forum-Posts"]
    assert list(pruned(entries, status_schema()["properties"]["taggedReplicas"])) == []
    west.untag_resource(ResourceArn=posts, TagKeys=[naming.TAG_OWNER_UID])  # lost meanwhile

    waiting = again(sent.status)  # within the bound: taken as sent, not sent again
    assert waiting.applied == []
    assert waiting.status["taggedReplicas"] == entries
    assert waiting.phase == "Ready", waiting.status["message"]
    assert region_entry(waiting.status, WEST)["inShape"] is True

    aged = {
        **waiting.status,
        "taggedReplicas": [
            {**e, "taggedAt": _ago(replica_tags.RESEND_AFTER_SECONDS + 1)} for e in entries
        ],
    }
    resent = again(aged)
    assert [str(a) for a in resent.applied] == [
        f"tag table forum-Posts in {WEST} (tags {naming.TAG_OWNER_UID})"
    ]
    assert [e["taggedAt"] for e in resent.status["taggedReplicas"]] > [
        e["taggedAt"] for e in aged["taggedReplicas"]
    ]  # the wait starts again
    done = converge(r, raw(), previous=resent.status, uid=UID)
    assert done.phase == "Ready", done.status["message"]
    assert tags("forum-Posts", WEST) == ownership("posts")
    assert done.status["taggedReplicas"] == []


def test_tagged_replicas_of_an_earlier_status_are_read_and_bounded():
    """A bare REGION/TABLE (the status of an operator before taggedAt) counts as sent now; an
    entry is waited on until RESEND_AFTER_SECONDS have passed."""
    now = "2026-01-01T00:10:00Z"
    sent = replica_tags.from_status(
        [
            f"{WEST}/forum-Posts",
            {"replica": f"{WEST}/forum-Users", "taggedAt": "2026-01-01T00:00:00Z"},
        ],
        now,
    )
    assert sent == {("forum-Posts", WEST): now, ("forum-Users", WEST): "2026-01-01T00:00:00Z"}
    assert replica_tags.waiting_on(sent, now, after=601) == set(sent)
    assert replica_tags.waiting_on(sent, now, after=600) == {("forum-Posts", WEST)}
    assert replica_tags.as_status(set(sent), sent, now) == [
        {"replica": f"{WEST}/forum-Posts", "taggedAt": now},
        {"replica": f"{WEST}/forum-Users", "taggedAt": "2026-01-01T00:00:00Z"},
    ]


class HeldClients:
    """The sender's clients: every call waits for `release` (a queued call's moment is the
    test's); with `refuse_tags`, TagResource answers AccessDeniedException."""

    def __init__(self) -> None:
        self.clients = Clients(limiter=None)
        self.release = threading.Event()
        self.refuse_tags = False

    def __call__(self, service: str, region: str) -> Any:
        client = self.clients(service, region)
        held = self

        class Held:
            def __getattr__(self, operation: str) -> Any:
                method = getattr(client, operation)

                def call(**params: Any) -> Any:
                    assert held.release.wait(SETTLE_TIMEOUT_SECONDS)
                    if operation == "tag_resource" and held.refuse_tags:
                        raise ClientError(
                            {"Error": {"Code": "AccessDeniedException", "Message": "denied"}},
                            "TagResource",
                        )
                    return method(**params)

                return call

        return Held()


def backed_up(seconds: float) -> RateLimiter:
    """A limiter whose TagResource calls in the replica region wait `seconds` for their turn
    (other resources' calls ahead of them)."""
    limiter = RateLimiter(sleep=lambda _: None)  # takes turns without waiting for them
    rate = limiter.limit("dynamodb", "TagResource") or 1.0
    for _ in range(int(seconds * rate) + 1):
        limiter.take(WEST, "dynamodb", "TagResource")
    assert limiter.backlog(WEST, "dynamodb", "TagResource") > seconds - 1
    return limiter


def test_replica_tags_backed_up_in_the_region_are_queued_and_ready_does_not_wait(ext):
    """Issue 14: 100 resources provisioned at once tag 300 replicas in one region, where
    TagResource is limited to 5 calls a second per account. A reconcile whose replica tags
    would wait for their turn hands them to the operator's queue (replica_tagger), which
    sends them at the allowed rate; the status takes them as sent (taggedReplicas) and the
    resource is Ready without holding a worker for a minute. Once sent and listed, a drift
    check confirms them and writes nothing."""
    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(30.0))
    r = reconciler(tagger=tagger)
    ready = converge(r, raw(), uid=UID)
    assert ready.phase == "Ready", ready.status["message"]
    assert tagger.queued() == 3
    assert all(tags(t, WEST) == {} for t in TABLES)  # not sent yet
    assert [e["replica"] for e in ready.status["taggedReplicas"]] == [
        f"{WEST}/{t}" for t in sorted(TABLES)
    ]
    assert region_entry(ready.status, WEST)["inShape"] is True

    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    for table, kind in zip(TABLES, ("users", "threads", "posts"), strict=True):
        assert tags(table, WEST) == ownership(kind), table
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert check.applied == []
    assert check.status["taggedReplicas"] == []


def test_without_a_backlog_the_reconcile_sends_its_replica_tags_itself(ext):
    """A lone resource: its replicas are tagged by its own reconcile, before Ready."""
    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    held.release.set()
    tagger = ReplicaTagger(held, RateLimiter())
    ready = converge(reconciler(tagger=tagger), raw(), uid=UID)
    assert ready.phase == "Ready", ready.status["message"]
    assert tagger.queued() == 0
    assert [a.region for a in ready.applied if a.operation == "tag_resource"] == [WEST] * 3
    for table, kind in zip(TABLES, ("users", "threads", "posts"), strict=True):
        assert tags(table, WEST) == ownership(kind), table


OWNER = (f"{NS}/{NAME}", UID)


class Looped(Reconciler):
    """Called as the operator's reconcile loop calls it: with the loop's hooks (whether the
    resource is still reconciled here, and how to wake its loop)."""

    def __init__(self, hooks: Any, **kw: Any) -> None:
        super().__init__(Clients(), cluster_id=CLUSTER, **kw)
        self.hooks = hooks

    def reconcile(self, **kw: Any) -> Any:
        return super().reconcile(**kw, hooks=self.hooks)


def queued_and_ready(r: Reconciler, tagger: ReplicaTagger, raw_spec: Any = None, **kw: Any) -> Any:
    ready = converge(r, raw_spec or raw(), **kw)
    assert ready.phase == "Ready", ready.status["message"]
    assert tagger.queued() >= 3
    assert all(tags(t, WEST) == {} for t in TABLES)  # not sent yet
    return ready


def test_queued_replica_tags_are_told_as_queued_not_as_done(ext):
    """The events and the ready conditions say the replica tags are queued, not sent: no
    "tag table ..." in the Provisioned event as if it were done. Once sent, the message no
    longer says so. Before: a queued tag was reported as done."""
    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(60.0))
    r = reconciler(tagger=tagger)
    ready = queued_and_ready(r, tagger, uid=UID)
    said = [e.message for e in ready.events]
    assert not [m for m in said if f"in {WEST} (tags" in m], said
    queued = [e.message for e in ready.events if e.reason == "ReplicaTagsQueued"]
    assert queued == [
        "3 replica tags queued (TagResource backlog): forum-Posts, forum-Threads, forum-Users "
        f"in {WEST}"
    ]
    assert "3 replica tags queued" in ready.status["message"]
    tables = next(c for c in ready.status["conditions"] if c["type"] == "TablesReady")
    assert "3 replica tags queued" in tables["message"]

    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert "queued" not in check.status["message"]


def test_replica_tags_queued_to_repair_drift_are_not_counted_as_repaired(ext):
    """A tag removed by hand from a replica while the region is backed up: the tag is queued,
    and said to be; forumdb_drift_repairs_total counts only what was done."""
    from prometheus_client import REGISTRY

    ext.configure(tags_settle_seconds=0)
    ready = listed(reconciler(), converge(reconciler(), raw(), uid=UID))
    west = boto3.client("dynamodb", region_name=WEST)
    west.untag_resource(ResourceArn=arn("forum-Posts", WEST), TagKeys=[naming.TAG_OWNER_UID])
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(60.0))

    def repaired() -> float:
        value = REGISTRY.get_sample_value("forumdb_drift_repairs_total", {"feature": "tags"})
        return value or 0.0

    before = repaired()
    out = reconciler(tagger=tagger).reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert [e.reason for e in out.events] == ["ReplicaTagsQueued"]
    assert [str(a) for a in out.queued] == [
        f"tag table forum-Posts in {WEST} (tags {naming.TAG_OWNER_UID})"
    ]
    assert repaired() == before
    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    assert tags("forum-Posts", WEST) == ownership("posts")


def test_a_queued_replica_tag_is_not_sent_once_the_resources_deletion_began(ext):
    """Deletion begins while the resource's replica tags wait in the queue: they are dropped
    (the delete handler purges them; one already taken by the sender checks before sending).
    Before: sent a minute later, whatever happened to the resource meanwhile."""
    from forumdb_operator.replica_tagger import Hooks

    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(60.0))
    deleting = threading.Event()
    woken: list[int] = []
    r = Looped(Hooks(cancelled=deleting.is_set, wake=lambda: woken.append(1)), tagger=tagger)
    queued_and_ready(r, tagger, uid=UID)
    deleting.set()  # the delete handler marks the resource's guard, then purges its calls
    tagger.purge(OWNER)
    assert tagger.queued() <= 1  # the one the sender took, held before its checks
    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    assert all(tags(t, WEST) == {} for t in TABLES)
    assert woken == []  # nothing to reconcile: the resource goes


def test_a_queued_replica_tag_is_not_sent_to_a_table_made_again_or_now_anothers(ext):
    """While the replica tags wait in the queue, one replica is deleted and a table of its
    name made again (same ARN, another TableId), and another gets another resource's
    ownership record: neither is tagged (TagResource overwrites keys), the third is. The two
    are handed back to the resource's next reconcile. Before: the queued calls were sent by
    ARN whatever the table had become."""
    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(60.0))
    queued_and_ready(reconciler(tagger=tagger), tagger, uid=UID)

    west = boto3.client("dynamodb", region_name=WEST)
    posts = west.describe_table(TableName="forum-Posts")["Table"]
    west.delete_table(TableName="forum-Posts")
    keys = {k["AttributeName"] for k in posts["KeySchema"]}
    west.create_table(
        TableName="forum-Posts",
        KeySchema=posts["KeySchema"],
        AttributeDefinitions=[
            a for a in posts["AttributeDefinitions"] if a["AttributeName"] in keys
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    again = west.describe_table(TableName="forum-Posts")["Table"]
    assert again["TableArn"] == posts["TableArn"]
    assert again["TableId"] != posts["TableId"]
    theirs = {
        naming.TAG_OWNER: "other/db",
        naming.TAG_OWNER_UID: "uid-of-another-resource",
        naming.TAG_CLUSTER: CLUSTER,
        naming.TAG_MANAGED_BY: naming.MANAGED_BY,
    }
    west.tag_resource(
        ResourceArn=arn("forum-Threads", WEST),
        Tags=[{"Key": k, "Value": v} for k, v in theirs.items()],
    )

    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    assert tags("forum-Posts", WEST) == {}
    assert tags("forum-Threads", WEST) == theirs
    assert tags("forum-Users", WEST) == ownership("users")
    assert tagger.take_failed(OWNER) == {("forum-Posts", WEST), ("forum-Threads", WEST)}


def test_a_newer_call_for_a_queued_replica_replaces_the_queued_one(ext):
    """A resource made again under its name (another UID) while its predecessor's replica
    tags still wait in the queue: its own calls replace them, and its replicas get its
    record. Before: the newer call was dropped as a duplicate (and counted as done), and the
    replicas got the earlier UID."""
    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    tagger = ReplicaTagger(held, backed_up(90.0))
    queued_and_ready(reconciler(tagger=tagger), tagger, uid=UID)
    east = boto3.client("dynamodb", region_name="us-east-1")
    for t in TABLES:  # deleted with Retain, made again, its primaries adopted
        east.untag_resource(ResourceArn=arn(t, "us-east-1"), TagKeys=[naming.TAG_OWNER_UID])
    new_uid = "5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"
    adopt = spec(backups=None, alarms=None, adopt=True)
    r = reconciler(tagger=tagger)
    again = queued_and_ready(r, tagger, adopt, uid=new_uid)

    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    uids = {t: tags(t, WEST).get(naming.TAG_OWNER_UID) for t in TABLES}
    # the call the sender had already taken went (the earlier UID); the rest were replaced
    assert sorted(uids.values()).count(new_uid) >= 2, uids
    done = converge(r, adopt, previous=again.status, uid=new_uid)
    assert done.phase == "Ready", done.status["message"]
    for t in TABLES:
        assert tags(t, WEST)[naming.TAG_OWNER_UID] == new_uid, t


def test_a_failed_queued_call_wakes_the_loop_and_the_next_reconcile_sends_it_itself(ext):
    """A queued TagResource that fails wakes the resource's loop; the next reconcile no
    longer takes those tags as in place and sends them itself (its own error, if any, is the
    status's). Before: the failure was only logged, and the status said the tags were in
    place for 300 s."""
    from forumdb_operator.replica_tagger import Hooks

    ext.configure(tags_settle_seconds=0)
    held = HeldClients()
    held.refuse_tags = True
    tagger = ReplicaTagger(held, backed_up(60.0))
    woken = threading.Event()
    r = Looped(Hooks(wake=woken.set), tagger=tagger)
    ready = queued_and_ready(r, tagger, uid=UID)
    held.release.set()
    assert tagger.drain(SETTLE_TIMEOUT_SECONDS)
    assert woken.is_set()
    again = r.reconcile(
        namespace=NS, name=NAME, spec=raw(), generation=1, previous=ready.status, uid=UID
    )
    assert again.queued == []
    assert sorted(
        a.params["ResourceArn"] for a in again.applied if a.operation == "tag_resource"
    ) == sorted(arn(t, WEST) for t in TABLES)
    for table, kind in zip(TABLES, ("users", "threads", "posts"), strict=True):
        assert tags(table, WEST) == ownership(kind), table
