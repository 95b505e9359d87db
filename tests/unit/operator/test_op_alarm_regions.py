"""ReplicationLatency alarms follow the active region: DynamoDB publishes the metric in the
region the write came from (dimensions TableName and ReceivingRegion), so after a failover the
latency is measured from the region in force, towards every other region; ours in the region
left are removed, alarms that are not ours stay. An alarm's action topic must be of the alarm's
region (the strict emulator refuses another's)."""

from __future__ import annotations

from typing import Any

import boto3
from op_calls import CallCounter
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import spec

from forumdb import naming
from forumdb_operator.awsclients import Clients
from forumdb_operator.desired import desired_state
from forumdb_operator.reconcile import Outcome, Reconciler
from forumdb_operator.spec import parse_spec

NS, NAME = "ns1", "forum"
EAST, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
PREFIX = naming.alarm_prefix(NS, NAME)


def lean(**changes: Any) -> dict[str, Any]:
    """One replica, alarms; no backups or PITR (not what these tests look at)."""
    return spec(backups=None, pointInTimeRecovery=None, **changes)


def converge(r: Reconciler, raw: dict, previous: dict | None, active: str | None) -> Outcome:
    previous = previous or {}
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.reconcile(
            namespace=NS,
            name=NAME,
            spec=raw,
            generation=1,
            previous=previous,
            active_region=active,
        )
        previous = out.status
        if out.phase in ("Ready", "Failed") and out.requeue_after is None:
            return out
        pause(out.requeue_after)
    raise AssertionError(f"not converged: {previous}")


def alarms(region: str, prefix: str = PREFIX) -> dict[str, dict[str, Any]]:
    cw = boto3.client("cloudwatch", region_name=region)
    found = cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def latency(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: a for n, a in found.items() if a.get("MetricName") == "ReplicationLatency"}


def receiving(alarm: dict[str, Any]) -> str:
    return next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "ReceivingRegion")


def test_latency_alarms_are_made_in_the_region_in_force_towards_every_other_region():
    parsed = parse_spec(spec(replicaRegions=[WEST, EU]))
    before = desired_state(parsed, NS, NAME)
    after = desired_state(parsed, NS, NAME, region_in_force=WEST)
    assert before.alarms is not None
    assert after.alarms is not None
    moved = [a for a in after.alarms.alarms if a.metric_name == "ReplicationLatency"]
    assert {a.region for a in moved} == {WEST}
    assert {receiving({"Dimensions": a.put_request([])["Dimensions"]}) for a in moved} == {
        EAST,
        EU,
    }
    assert len(moved) == 6  # three tables, two receiving regions
    # the table, index and account alarms stay in the primary
    others = [a for a in after.alarms.alarms if a.metric_name != "ReplicationLatency"]
    assert {a.region for a in others} == {EAST}
    assert after.alarms.alarm_regions == (EAST, WEST)
    # a region that is not the resource's (a stale status) is not a source
    stale = desired_state(parsed, NS, NAME, region_in_force="ap-south-1")
    assert stale.alarms == before.alarms


def test_after_a_failover_latency_alarms_move_and_ours_in_the_region_left_go(ext):
    raw = lean(alarms={"enabled": True, "createTopic": True})
    ready = converge(Reconciler(Clients()), raw, None, None)
    assert ready.phase == "Ready", ready.status["message"]
    assert {receiving(a) for a in latency(alarms(EAST)).values()} == {WEST}
    # someone else's alarm on the same metric in the primary: never ours to remove
    foreign = "other-team/forum-Posts/ReplicationLatency/us-west-2"
    boto3.client("cloudwatch", region_name=EAST).put_metric_alarm(
        AlarmName=foreign,
        Namespace="AWS/DynamoDB",
        MetricName="ReplicationLatency",
        Dimensions=[
            {"Name": "TableName", "Value": "forum-Posts"},
            {"Name": "ReceivingRegion", "Value": WEST},
        ],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1000.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    failed_over = converge(Reconciler(Clients()), raw, ready.status, WEST)

    assert failed_over.phase == "Ready", failed_over.status["message"]
    moved = latency(alarms(WEST))
    assert len(moved) == 3  # one per table
    assert {receiving(a) for a in moved.values()} == {EAST}
    west_topic = failed_over.status["alarms"]["topicArn"].replace(EAST, WEST)
    assert all(a["AlarmActions"] == [west_topic] for a in moved.values())
    assert latency(alarms(EAST)) == {}  # ours left the region
    assert foreign in alarms(EAST, "other-team/")
    # the table and account alarms stay in the primary
    assert any(n.endswith("/forum-Posts/SystemErrors") for n in alarms(EAST))
    assert naming.shared_alarm_name("UserErrors") in alarms(EAST, naming.SHARED_ALARM_ROOT)
    regions = {i["region"] for i in failed_over.status["alarms"]["items"]}
    assert regions == {EAST, WEST}

    back = converge(Reconciler(Clients()), raw, failed_over.status, None)
    assert back.phase == "Ready"
    assert {receiving(a) for a in latency(alarms(EAST)).values()} == {WEST}
    assert alarms(WEST) == {}


def test_a_spec_topic_of_another_region_is_no_action_of_the_moved_alarms(ext):
    """The spec's topic is in the primary; CloudWatch refuses it as the action of an alarm in
    another region: the moved alarms are made without one, and the condition says so."""
    topic = boto3.client("sns", region_name=EAST).create_topic(Name="ops")["TopicArn"]
    raw = lean(alarms={"enabled": True, "snsTopicArn": topic})
    ready = converge(Reconciler(Clients()), raw, None, WEST)
    assert ready.phase == "Ready", ready.status["message"]
    moved = latency(alarms(WEST))
    assert len(moved) == 3
    assert all(a["AlarmActions"] == [] for a in moved.values())
    assert all(a["AlarmActions"] == [topic] for a in alarms(EAST).values())
    (cond,) = [c for c in ready.status["conditions"] if c["type"] == "AlarmsConfigured"]
    assert f"the alarms in {WEST} notify no one" in cond["message"]


def test_alarms_are_looked_for_where_wanted_or_last_seen_and_everywhere_on_deletion(ext):
    """A drift check lists the resource's alarms (DescribeAlarms by prefix) in the regions that
    hold wanted alarms or held ours at the last look (status.alarms.items), not in every
    region of the resource: one read less per check for the example (issue 14). An earlier
    operator's status (no items), a caller unsure its last status was written, and deletion
    look in every region."""
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = lean(alarms={"enabled": True})
    ready = converge(r, raw, None, None)
    assert ready.phase == "Ready", ready.status["message"]

    def looked_in(previous: dict[str, Any], everywhere: bool = False) -> set[str]:
        counter.reset()
        r.reconcile(
            namespace=NS,
            name=NAME,
            spec=raw,
            generation=1,
            previous=previous,
            alarms_everywhere=everywhere,
        )
        return {
            c.region
            for c in counter.calls
            if c.operation == "DescribeAlarms" and "AlarmNamePrefix" in c.params
        }

    assert looked_in(ready.status) == {EAST}
    # a caller unsure its last status was written (a restart, a failed status patch)
    assert looked_in(ready.status, everywhere=True) == {EAST, WEST}
    listed_west = {
        **ready.status,
        "alarms": {**ready.status["alarms"], "items": [{"name": f"{PREFIX}x", "region": WEST}]},
    }
    assert looked_in(listed_west) == {EAST, WEST}
    unlisted = {k: v for k, v in ready.status["alarms"].items() if k != "items"}
    assert looked_in({**ready.status, "alarms": unlisted}) == {EAST, WEST}

    counter.reset()
    raw_delete = {**raw, "deletionPolicy": "Delete"}
    deleting = r.delete(namespace=NS, name=NAME, spec=raw_delete, previous=ready.status)
    assert deleting.status["phase"] == "Deleting"
    assert {
        c.region
        for c in counter.calls
        if c.operation == "DescribeAlarms" and "AlarmNamePrefix" in c.params
    } == {EAST, WEST}


def test_alarms_a_failed_reconcile_made_are_looked_for_after_the_active_region_moves_back(ext):
    """A failover reconcile makes the ReplicationLatency alarms in the new active region, then
    a later action fails: its status keeps the last status's alarms and adds the ones it made,
    so once the active region is back before a clean reconcile, ours there are still looked
    for and removed (they were left firing, absent from status, for good)."""
    r = Reconciler(Clients())
    raw = lean(alarms={"enabled": True})
    ready = converge(r, raw, None, None)
    assert ready.phase == "Ready", ready.status["message"]
    # failover: the alarms are made in WEST, then removing ours from EAST fails
    ext.set_fault(region=EAST, operation="DeleteAlarms", error_rate=1.0)
    failed = r.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=ready.status, active_region=WEST
    )
    assert failed.phase == "Degraded", failed.status["message"]
    made = latency(alarms(WEST))
    assert len(made) == 3
    items = {(i["region"], i["name"]) for i in failed.status["alarms"]["items"]}
    assert {(WEST, n) for n in made} <= items
    ext.clear_faults()

    back = converge(r, raw, failed.status, None)

    assert back.phase == "Ready", back.status["message"]
    assert alarms(WEST) == {}
    assert {receiving(a) for a in latency(alarms(EAST)).values()} == {WEST}
    assert {i["region"] for i in back.status["alarms"]["items"]} == {EAST}


def test_a_move_of_the_active_region_looks_for_ours_in_every_region(ext):
    """The alarms of a failover to EU were made but no status recorded them (the process
    ended first); the active region then moves to WEST: that move lists every region of the
    resource, so ours in EU are found and removed. A settled drift check reads no more."""
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = lean(replicaRegions=[WEST, EU], alarms={"enabled": True})
    ready = converge(r, raw, None, None)
    assert ready.phase == "Ready", ready.status["message"]
    converge(r, raw, ready.status, EU)  # its status is lost
    assert len(latency(alarms(EU))) == 6  # three tables, two receiving regions

    moved = converge(r, raw, ready.status, WEST)

    assert moved.phase == "Ready", moved.status["message"]
    assert alarms(EU) == {}
    assert {receiving(a) for a in latency(alarms(WEST)).values()} == {EAST, EU}
    counter.reset()
    r.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=moved.status, active_region=WEST
    )
    listed = [
        c.region
        for c in counter.calls
        if c.operation == "DescribeAlarms" and "AlarmNamePrefix" in c.params
    ]
    assert sorted(listed) == [EAST, WEST]


def test_ours_in_a_region_that_left_the_spec_are_removed(ext):
    """The status saw ours in a region that is no longer the resource's (a replica removed
    while the alarms were measured from there): they are looked for there, and removed, on a
    drift check as on deletion."""
    r = Reconciler(Clients())
    three = lean(replicaRegions=[WEST, EU], alarms={"enabled": True})
    ready = converge(r, three, None, None)
    in_eu = converge(r, three, ready.status, EU)
    assert len(latency(alarms(EU))) == 6  # three tables, two receiving regions
    two = lean(alarms={"enabled": True})  # EU left the spec (the replica is not looked at)

    out = converge(r, two, in_eu.status, None)

    assert out.phase == "Ready", out.status["message"]
    assert alarms(EU) == {}
    assert {i["region"] for i in out.status["alarms"]["items"]} == {EAST}
