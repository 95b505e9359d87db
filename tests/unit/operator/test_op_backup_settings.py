"""Copies of backups to another region need the account's "advanced DynamoDB backup" setting
(AWS Backup DescribeRegionSettings: ResourceTypeManagementPreference {"DynamoDB": bool}; the
developer guide's "Advanced DynamoDB backup": it unlocks cross-Region copy). While it is off the
status says so, with the way out, instead of "copied to X"; the operator reads it (at most once
a reconcile) and never changes it: it is the account's, not the resource's (issue 13)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from op_calls import CallCounter
from op_clock import settle_outcomes
from op_factories import desired, in_shape, spec

from forumdb_operator import status
from forumdb_operator.awsclients import Clients
from forumdb_operator.diff import diff
from forumdb_operator.reconcile import Outcome, Reconciler

NS, NAME, UID = "ns1", "forum", "uid-1"
PRIMARY, COPY = "us-east-1", "us-west-2"


def _raw() -> dict[str, Any]:
    """Tables in us-east-1 only, backups copied to us-west-2, no alarms (fewer calls)."""
    return spec(replicaRegions=[], alarms=None)


def settle(r: Reconciler, raw: dict[str, Any], previous: dict[str, Any]) -> list[Outcome]:
    """Reconciles until nothing is left to wait for (requeue_after None); every outcome."""
    return settle_outcomes(r, namespace=NS, name=NAME, spec=raw, previous=previous, uid=UID)


def condition(out: Outcome, kind: str) -> dict[str, Any]:
    return next(c for c in out.status["conditions"] if c["type"] == kind)


def advanced_dynamodb(on: bool) -> None:
    """What a person does (or an account older than November 2021 has): the setting itself."""
    boto3.client("backup", region_name=PRIMARY).update_region_settings(
        ResourceTypeManagementPreference={"DynamoDB": on}
    )


def all_text(out: Outcome) -> str:
    return " ".join(
        [str(out.status.get("message", ""))]
        + [str(c.get("message", "")) for c in out.status["conditions"]]
    )


def test_copies_are_not_reported_while_advanced_dynamodb_backup_is_off(ext: Any):
    """Off: the plan and its copy rule are still made (the backups run), the tables are made
    (the problem holds back nothing else: the resource is Degraded, not Failed, and its
    readyGeneration is set, which arms automatic failover), and the status names the setting,
    the region and the way out instead of "copied to us-west-2"; a run of the plan shows why
    (its copy job FAILED). The operator never calls UpdateRegionSettings. Turned on by a
    person, the next reconcile reports the copies and a run copies."""
    advanced_dynamodb(False)
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    outs = settle(r, _raw(), {})
    out = outs[-1]
    backups = condition(out, "BackupsConfigured")
    assert backups["status"] == "False"
    assert backups["reason"] == "AdvancedDynamoDBBackupOff"
    for words in ("advanced features for Amazon DynamoDB backups", PRIMARY, COPY):
        assert words in backups["message"]
    assert "--resource-type-management-preference DynamoDB=true" in backups["message"]
    assert "spec.backups.copyRegion" in backups["message"]
    assert "copied to" not in all_text(out)
    # A non-blocking problem: Degraded, not Failed, and readyGeneration recorded (the health
    # monitor arms automatic failover on it); the condition and a Warning event say why.
    assert out.phase == "Degraded"
    assert out.status["readyGeneration"] == 1
    assert condition(out, "Ready")["reason"] == "AdvancedDynamoDBBackupOff"
    assert condition(out, "TablesReady")["status"] == "True"
    assert condition(out, "ReplicationHealthy")["status"] == "True"
    warnings = [e for o in outs for e in o.events if e.reason == "AdvancedDynamoDBBackupOff"]
    assert warnings
    assert {e.type for e in warnings} == {"Warning"}
    assert "spec.backups.copyRegion" in warnings[0].message
    assert "UpdateRegionSettings" not in {c.operation for c in counter.calls}
    # at most one read of the setting per reconcile, however many passes it made
    assert counter.by_operation()["backup:DescribeRegionSettings"] <= len(outs)

    plan_id = out.status["backups"]["planId"]
    plan = boto3.client("backup", region_name=PRIMARY).get_backup_plan(BackupPlanId=plan_id)
    assert plan["BackupPlan"]["Rules"][0]["CopyActions"]  # made, waiting for the setting
    run = ext.run_backup_plan_now(plan_id, region=PRIMARY)
    assert {j["State"] for j in run["backup_jobs"]} == {"COMPLETED"}
    assert {j["State"] for j in run["copy_jobs"]} == {"FAILED"}

    advanced_dynamodb(True)
    counter.reset()
    on = settle(r, _raw(), out.status)[-1]
    assert on.phase == "Ready", on.status["message"]
    assert f"copied to {COPY}" in condition(on, "BackupsConfigured")["message"]
    assert "UpdateRegionSettings" not in {c.operation for c in counter.calls}
    again = ext.run_backup_plan_now(plan_id, region=PRIMARY)
    assert {j["State"] for j in again["copy_jobs"]} == {"COMPLETED"}


def test_without_copies_the_setting_is_not_read(ext: Any):
    """No copyRegion: the setting does not matter and costs no call, even when off."""
    advanced_dynamodb(False)
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = _raw()
    raw["backups"] = {k: v for k, v in raw["backups"].items() if k != "copyRegion"}
    out = settle(r, raw, {})[-1]
    assert out.phase == "Ready", out.status["message"]
    assert counter.by_operation()["backup:DescribeRegionSettings"] == 0


def _denying(clients: Clients) -> Any:
    """A client factory whose backup clients are refused DescribeRegionSettings, as a role
    from a policy written before the operator read the setting."""

    def factory(service: str, region: str) -> Any:
        client = clients(service, region)
        if service == "backup":

            def refuse(**_: Any) -> None:
                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                    "DescribeRegionSettings",
                )

            client.describe_region_settings = refuse
        return client

    return factory


def test_a_role_that_may_not_read_the_setting_says_so_and_still_converges(ext: Any):
    """backup:DescribeRegionSettings denied: the reconcile does not fail (the rest is made and
    the resource is Ready) and the status does not claim the copies, it says they are unchecked
    and why."""
    r = Reconciler(_denying(Clients()))
    out = settle(r, _raw(), {})[-1]
    assert out.phase == "Ready", out.status["message"]
    message = condition(out, "BackupsConfigured")["message"]
    assert "copied to" not in message
    assert "backup:DescribeRegionSettings" in message
    assert "denied" in message


@pytest.mark.parametrize("on", [True, False])
def test_the_setting_is_read_in_the_plans_region(ext: Any, on: bool):
    """The copy's source region decides (the backups are taken there): the copy region's own
    setting is not what the status reports."""
    boto3.client("backup", region_name=COPY).update_region_settings(
        ResourceTypeManagementPreference={"DynamoDB": not on}
    )
    advanced_dynamodb(on)
    out = settle(Reconciler(Clients()), _raw(), {})[-1]
    assert (out.phase == "Ready") is on, out.status["message"]


def _backups_condition(obs: Any, d: Any) -> status.Cond:
    return next(c for c in status.conditions(d, obs, diff(d, obs)) if c.type == "BackupsConfigured")


def test_the_setting_off_is_a_problem_that_holds_back_nothing_else():
    """Pure diff: the problem does not block (Plan.blocked False), so a table missing at the
    same time is still created; on, the condition says "copied to"."""
    d = desired(replicaRegions=[])
    obs = in_shape(d)
    assert obs.backups is not None
    assert f"copied to {COPY}" in _backups_condition(obs, d).message
    obs.backups.advanced_dynamodb = False
    del obs.tables[("posts", PRIMARY)]
    plan = diff(d, obs)
    assert [p.reason for p in plan.problems] == ["AdvancedDynamoDBBackupOff"]
    assert not plan.blocked
    assert "create_table" in [a.operation for a in plan.actions]
    assert _backups_condition(obs, d).reason == "AdvancedDynamoDBBackupOff"
