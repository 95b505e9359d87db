"""The account-level UserErrors alarm: one per account, region and operator cluster id, shared
by every ForumDatabase there (each recorded on it as a tag), at their most sensitive settings,
deleted only by the last one that leaves; the per-resource alarm of earlier versions goes where
it is the resource's own. Against the strict emulator."""

from __future__ import annotations

from typing import Any

import boto3
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import spec

from forumdb import naming
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler
from harness.alarms import user_errors_alarm

NS = "ns1"
EAST = "us-east-1"
SHARED = naming.shared_alarm_name("UserErrors")


def raw(prefix: str, threshold: int = 10, **alarms: Any) -> dict[str, Any]:
    """One region, no backups or PITR: only the alarms matter here."""
    return spec(
        tablePrefix=prefix,
        replicaRegions=[],
        backups=None,
        pointInTimeRecovery=None,
        deletionPolicy="Delete",
        alarms={"enabled": True, "userErrorsThreshold": threshold, **alarms},
    )


def converge(r: Reconciler, name: str, doc: dict, previous: dict | None = None) -> Outcome:
    previous = previous or {}
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.reconcile(namespace=NS, name=name, spec=doc, generation=1, previous=previous)
        previous = out.status
        if out.phase in ("Ready", "Failed") and out.requeue_after is None:
            assert out.phase == "Ready", out.status["message"]
            return out
        pause(out.requeue_after)
    raise AssertionError(f"not converged: {previous}")


def delete(r: Reconciler, name: str, doc: dict, previous: dict) -> None:
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.delete(namespace=NS, name=name, spec=doc, previous=previous)
        if out.done:
            return
        pause(out.requeue_after)
    raise AssertionError(f"{name} not deleted")


def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name=EAST)


def user_errors_alarms() -> dict[str, dict[str, Any]]:
    found = cloudwatch().describe_alarms()["MetricAlarms"]
    return {a["AlarmName"]: a for a in found if a.get("MetricName") == "UserErrors"}


def users(name: str = SHARED) -> set[str]:
    arn = user_errors_alarms()[name]["AlarmArn"]
    tags = cloudwatch().list_tags_for_resource(ResourceARN=arn)["Tags"]
    return {t["Key"] for t in tags if t["Key"].startswith(naming.TAG_ALARM_USER)}


def test_two_resources_share_one_alarm_the_last_to_leave_deletes_it(ext):
    r = Reconciler(Clients())
    a_doc, b_doc = raw("a-", threshold=5), raw("b-", threshold=10)
    a = converge(r, "a", a_doc)
    b = converge(r, "b", b_doc)
    assert set(user_errors_alarms()) == {SHARED}  # one, not one per resource
    assert users() == {naming.alarm_user_key(NS, "a"), naming.alarm_user_key(NS, "b")}
    assert user_errors_alarms()[SHARED]["Threshold"] == 5.0  # the most sensitive wins
    assert {i["name"] for i in b.status["alarms"]["items"]} >= {SHARED}

    delete(r, "a", a_doc, a.status)
    assert users() == {naming.alarm_user_key(NS, "b")}  # b still needs it: it stays
    b = converge(r, "b", b_doc, b.status)
    assert user_errors_alarms()[SHARED]["Threshold"] == 10.0  # b's own, now a is gone

    delete(r, "b", b_doc, b.status)
    assert user_errors_alarms() == {}


def test_disabling_alarms_leaves_the_shared_alarm_to_the_others(ext):
    r = Reconciler(Clients())
    a = converge(r, "a", raw("a-"))
    converge(r, "b", raw("b-"))
    converge(r, "a", raw("a-", enabled=False), a.status)
    assert users() == {naming.alarm_user_key(NS, "b")}
    assert SHARED in user_errors_alarms()


def test_the_per_resource_alarm_of_earlier_versions_goes_where_it_is_ours(ext):
    legacy = user_errors_alarm()
    mine = naming.account_alarm_name(NS, "a", "UserErrors")
    others = naming.account_alarm_name(NS, "b", "UserErrors")
    for name in (mine, others):
        cloudwatch().put_metric_alarm(AlarmName=name, **legacy)
    converge(Reconciler(Clients()), "a", raw("a-"))
    assert set(user_errors_alarms()) == {SHARED, others}  # b's is b's to remove


def test_two_operator_clusters_keep_an_alarm_each(ext):
    east, west = Reconciler(Clients(), cluster_id="east"), Reconciler(Clients(), cluster_id="west")
    converge(east, "a", raw("a-"))
    west_a = converge(west, "a2", raw("w-"))
    names = {naming.shared_alarm_name("UserErrors", c) for c in ("east", "west")}
    assert set(user_errors_alarms()) == names
    delete(west, "a2", raw("w-"), west_a.status)
    assert set(user_errors_alarms()) == {naming.shared_alarm_name("UserErrors", "east")}
