"""verify passes on a deployment in shape and fails, naming what and why, on each broken
aspect; against the DR region it checks the replica side. Replicas and AWS Backup come from
the moto extension (in-process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import REGION, forumctl

from forumctl.errors import ExitCode
from forumdb import naming
from forumdb.tables import KINDS, table_name
from harness.backups import daily_backup_plan
from harness.emulator_support import enable_pitr, wait_settled, wait_until

DR = "us-west-2"
NS, NAME = "shop", "forum"
OWNER = f"{NS}/{NAME}"
UID = "5f1c2d3e-0000-4000-8000-00000000a11c"
ROLE = "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole"
TABLES = [table_name(k) for k in KINDS]


@dataclass
class Deployment:
    control: Any

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, region_name=region)

    @property
    def plan_id(self) -> str:
        plans = self.client("backup").list_backup_plans()["BackupPlansList"]
        return next(
            p["BackupPlanId"] for p in plans if p["BackupPlanName"] == naming.plan_name(NS, NAME)
        )


@pytest.fixture
def deployment(moto: Any) -> Deployment:
    """What the operator would build: tables with a DR replica, PITR on both sides, a backup
    plan with a copy to the DR vault (run once), and alarms."""
    moto.set_replication(replica_activation_calls=0)
    # how long backup and copy jobs run is not what these tests are about
    moto.configure(job_created_seconds=0.05, job_running_seconds=0.05)
    dep = Deployment(moto)
    forumctl("tables", "create")
    ddb, ddb_dr = dep.client("dynamodb"), dep.client("dynamodb", DR)
    for name in TABLES:
        ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": DR}}])
    arns = []
    for name in TABLES:
        # as on AWS: the replica is there once ACTIVE, PITR can be enabled seconds after create
        # (the replicas were all asked for first, so those seconds pass once, not per table)
        wait_settled(ddb, name)
        for client in (ddb, ddb_dr):
            enable_pitr(client, name)
        arns.append(ddb.describe_table(TableName=name)["Table"]["TableArn"])
    vault = naming.vault_name(NS, NAME)
    plan = daily_backup_plan(
        dep.client("backup"),
        plan_name=naming.plan_name(NS, NAME),
        vault=vault,
        resources=arns,
        selection_name=naming.selection_name(NS, NAME),
        role_arn=ROLE,
        copy_to=dep.client("backup", DR),
        tags=naming.owner_tags(NS, NAME, UID),  # the operator's ownership record
    )
    moto.run_backup_plan_now(plan.plan_id)
    cw = dep.client("cloudwatch")
    for name in TABLES:
        cw.put_metric_alarm(
            AlarmName=naming.table_alarm_name(NS, NAME, name, "SystemErrors"),
            MetricName="SystemErrors",
            Namespace="AWS/DynamoDB",
            Dimensions=[{"Name": "TableName", "Value": name}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    return dep


def verify(*args: str, expect: int | None) -> dict[str, Any]:
    out = forumctl(
        "verify", "--owner", OWNER, "--replica-region", DR, "-o", "json", *args, expect=expect
    ).json
    return out


def outcomes(result: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["outcome"] for c in result["checks"]}


def test_a_deployment_in_shape_passes_every_check(deployment: Deployment) -> None:
    result = verify(expect=ExitCode.OK)
    assert result["ok"] is True
    assert result["side"] == "primary"
    assert set(outcomes(result).values()) == {"pass"}
    names = set(outcomes(result))
    for kind in KINDS:
        assert {f"table/{kind}", f"indexes/{kind}", f"pitr/{kind}", f"replicas/{kind}"} <= names
    assert {"backup-plan", "recovery-point", "alarms"} <= names


def test_the_dr_region_checks_the_replica_side(deployment: Deployment) -> None:
    result = verify("--region", DR, "--primary-region", REGION, expect=ExitCode.OK)
    assert result["side"] == "replica"
    got = outcomes(result)
    for kind in KINDS:
        assert got[f"table/{kind}"] == "pass"
        assert got[f"replicas/{kind}"] == "pass"  # the DR table sees the primary ACTIVE
        assert got[f"pitr/{kind}"] == "pass"
    assert got["recovery-point"] == "pass"  # the copy in the DR vault
    assert got["backup-plan"] == "skip"


def _delete_replica(dep: Deployment) -> None:
    dep.client("dynamodb").update_table(
        TableName="forum-Users", ReplicaUpdates=[{"Delete": {"RegionName": DR}}]
    )


def _pitr_off(dep: Deployment) -> None:
    dep.client("dynamodb").update_continuous_backups(
        TableName="forum-Posts",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )


def _drop_index(dep: Deployment) -> None:
    dep.client("dynamodb").update_table(
        TableName="forum-Posts",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "UserIndex"}}],
    )


def _drop_plan(dep: Deployment) -> None:
    backup = dep.client("backup")
    for sel in backup.list_backup_selections(BackupPlanId=dep.plan_id)["BackupSelectionsList"]:
        backup.delete_backup_selection(BackupPlanId=dep.plan_id, SelectionId=sel["SelectionId"])
    backup.delete_backup_plan(BackupPlanId=dep.plan_id)


def _drop_alarm(dep: Deployment) -> None:
    dep.client("cloudwatch").delete_alarms(
        AlarmNames=[naming.table_alarm_name(NS, NAME, "forum-Threads", "SystemErrors")]
    )


def _nothing(dep: Deployment) -> None:
    pass


@pytest.mark.parametrize(
    ("breakage", "args", "check", "reason"),
    [
        (_delete_replica, (), "replicas/users", f"{DR} not a replica"),
        (_pitr_off, (), "pitr/posts", "is DISABLED"),
        (_drop_index, (), "indexes/posts", "UserIndex missing"),
        (_drop_plan, (), "backup-plan", "not found"),
        (_drop_alarm, (), "alarms", "forum-Threads"),
        (_nothing, ("--max-backup-age", "0"), "recovery-point", "older than"),
        (_nothing, ("--expect", "posts=5"), "items/posts", "expected 5"),
    ],
    ids=["replica", "pitr", "index", "plan", "alarm", "backup-age", "count"],
)
def test_each_broken_aspect_fails_with_its_reason(
    deployment: Deployment,
    breakage: Callable[[Deployment], None],
    args: tuple[str, ...],
    check: str,
    reason: str,
) -> None:
    breakage(deployment)
    result = verify(*args, expect=ExitCode.CHECK_FAILED)
    failed = {c["name"]: c["detail"] for c in result["checks"] if c["outcome"] == "fail"}
    assert list(failed) == [check], failed
    assert reason in failed[check]
    assert result["ok"] is False


def test_a_missing_replica_table_fails_on_the_dr_side(deployment: Deployment) -> None:
    _delete_replica(deployment)

    # on AWS the removed replica's table is DELETING in its region for a while (DDB-TABLE-228);
    # this test is about the table once it is gone
    def gone() -> bool:
        deployment.client("dynamodb").describe_table(TableName="forum-Users")  # calls mode
        return "forum-Users" not in deployment.client("dynamodb", DR).list_tables()["TableNames"]

    wait_until(gone, "forum-Users gone from the DR region")
    result = verify("--region", DR, "--primary-region", REGION, expect=ExitCode.CHECK_FAILED)
    failed = {c["name"]: c["detail"] for c in result["checks"] if c["outcome"] == "fail"}
    assert "table/users" in failed
    assert f"replica table forum-Users in {DR} does not exist" in failed["table/users"]


def test_human_output_names_each_failure_on_stderr(deployment: Deployment) -> None:
    _pitr_off(deployment)
    run = forumctl("verify", "--owner", OWNER, "--replica-region", DR, expect=1)
    assert "FAIL" in run.stdout
    assert "pitr/posts" in run.stderr
    assert "point-in-time recovery on forum-Posts" in run.stderr


def test_without_names_backup_and_alarm_checks_are_skipped_not_failed(moto: Any) -> None:
    forumctl("tables", "create")
    ddb = boto3.client("dynamodb", region_name=REGION)
    for name in TABLES:
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    result = forumctl("verify", "-o", "json").json
    got = outcomes(result)
    assert got["backup-plan"] == got["alarms"] == got["replicas/users"] == "skip"
    assert result["ok"] is True


def test_names_and_regions_come_from_the_forumdatabase() -> None:
    from forumctl.kube import ForumDbTarget
    from forumctl.verify_cmd import _from_forumdb

    fdb = ForumDbTarget(
        name="forum",
        namespace="shop",
        config={"AWS_REGION": "eu-west-1"},
        spec={"primaryRegion": "us-east-1", "backups": {"enabled": False}, "alarms": {}},
        status={
            "backups": {"planName": "p", "vaultName": "v"},
            "alarms": {"items": [{"name": "a", "region": REGION}, {"name": "b", "region": DR}]},
        },
    )
    known = _from_forumdb(fdb, REGION)
    assert known.primary == "us-east-1"  # the spec, not the ConfigMap's (maybe failed-over) one
    assert known.owner == "shop/forum"
    assert (known.plan, known.vault) == ("p", "v")
    assert known.alarm_names == ("a",)
    assert known.backups is False  # backups switched off: none expected
    assert known.alarms is False  # empty alarms spec: unmanaged


def _nesting(text: str) -> int:
    """How deep parentheses nest in text: `a (b (c))` is 2."""
    depth = deepest = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        deepest = max(deepest, depth)
    return deepest


@pytest.mark.parametrize(
    ("breakage", "args"),
    [
        (_nothing, ()),
        (_nothing, ("--expect", "posts=5", "--max-backup-age", "0")),
        (_delete_replica, ()),
        (_drop_plan, ()),
    ],
    ids=["in-shape", "count-and-age", "replica", "plan"],
)
def test_details_read_without_nested_parentheses(
    deployment: Deployment, breakage: Callable[[Deployment], None], args: tuple[str, ...]
) -> None:
    breakage(deployment)
    result = verify(*args, expect=None)
    nested = [f"{c['name']}: {c['detail']}" for c in result["checks"] if _nesting(c["detail"]) > 1]
    assert nested == []


def test_the_shared_account_alarm_outside_the_prefix_is_found_by_name(moto: Any) -> None:
    """status.alarms.items lists the account-level UserErrors alarm the resources share; it is
    outside the resource's prefix, so verify looks it up by name (present: pass; gone: fail)."""
    from forumctl.checks import Plan, alarm_checks

    cw = boto3.client("cloudwatch", region_name=REGION)
    mine = naming.table_alarm_name(NS, NAME, "forum-Posts", "SystemErrors")
    shared = naming.shared_alarm_name("UserErrors")
    for name in (mine, shared):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/DynamoDB",
            MetricName="UserErrors",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=10.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    plan = Plan(
        region=REGION,
        primary_region=REGION,
        tables={k: table_name(k) for k in KINDS},
        alarm_prefix=naming.alarm_prefix(NS, NAME),
        alarm_names=(mine, shared),
    )

    class Pool:
        def get(self, service: str) -> Any:
            return boto3.client(service, region_name=REGION)

    (check,) = alarm_checks(Pool(), plan)  # type: ignore[arg-type]
    assert check.outcome == "pass", check.detail
    cw.delete_alarms(AlarmNames=[shared])
    (check,) = alarm_checks(Pool(), plan)  # type: ignore[arg-type]
    assert check.outcome == "fail"
    assert shared in check.detail


# Same-named plans that are not the deployment's (the operator's rule, forumdb.ownership).
THEIRS = {
    "another-resource": {
        naming.TAG_OWNER: "team-b/forum",
        naming.TAG_MANAGED_BY: "forumdb-operator",
    },
    "a-person": {"team": "payments"},
    "a-recreated-resource": naming.owner_tags(NS, NAME, "0000-old-uid"),
}


def _foreign_plan(dep: Deployment, tags: dict[str, str]) -> str:
    """A plan of the deployment's plan name made by someone else. AWS refuses only an identical
    plan document under a name, moto any same name (a deleted one too): made under another
    name and renamed into it (UpdateBackupPlan keeps the id)."""
    backup = dep.client("backup")
    rules = [{"RuleName": "theirs", "TargetBackupVaultName": "elsewhere"}]
    plan_id = str(
        backup.create_backup_plan(
            BackupPlan={"BackupPlanName": "placeholder", "Rules": rules}, BackupPlanTags=tags
        )["BackupPlanId"]
    )
    backup.update_backup_plan(
        BackupPlanId=plan_id,
        BackupPlan={"BackupPlanName": naming.plan_name(NS, NAME), "Rules": rules},
    )
    return plan_id


def _someone_elses_plan(dep: Deployment, tags: dict[str, str]) -> str:
    """Our plan gone, a plan of its name made by someone else."""
    _drop_plan(dep)
    return _foreign_plan(dep, tags)


@pytest.mark.parametrize("who", ["another-resource", "a-person"])
def test_a_same_named_plan_of_someone_else_fails_naming_its_owner_tags(
    deployment: Deployment, who: str
) -> None:
    """Before: the name alone passed. Now the plan's tags must carry the ownership record; the
    failure names the plan, its id, the region and the owner tags it has."""
    plan_id = _someone_elses_plan(deployment, THEIRS[who])
    result = verify(expect=ExitCode.CHECK_FAILED)
    failed = {c["name"]: c["detail"] for c in result["checks"] if c["outcome"] == "fail"}
    assert list(failed) == ["backup-plan"], failed
    detail = failed["backup-plan"]
    for words in (naming.plan_name(NS, NAME), REGION, plan_id, "not this deployment's"):
        assert words in detail, (words, detail)
    if who == "a-person":
        assert "no owner tags" in detail
    else:
        assert f"{naming.TAG_OWNER}=team-b/forum" in detail
    assert f"{naming.TAG_OWNER}={OWNER}" in detail  # what the operator's would carry


def _check(plan: Any) -> dict[str, str]:
    from forumctl.checks import backup_checks
    from forumctl.clients import ClientPool

    got = backup_checks(ClientPool(REGION, None, None), plan)
    return {c.name: f"{c.outcome}: {c.detail}" for c in got}


def _plan(**fields: Any) -> Any:
    from forumctl.checks import Plan

    return Plan(
        region=REGION,
        primary_region=REGION,
        tables={k: table_name(k) for k in KINDS},
        backup_plan=naming.plan_name(NS, NAME),
        **fields,
    )


def test_a_recreated_resource_s_plan_fails_where_the_uid_is_known(deployment: Deployment) -> None:
    """With the ForumDatabase read (--forumdb) its metadata.uid is part of the record: a plan
    of its name and namespace made for an earlier resource of that name is not its."""
    from forumdb.ownership import OwnerRecord

    plan_id = _someone_elses_plan(deployment, THEIRS["a-recreated-resource"])
    record = OwnerRecord.of(NS, NAME, uid=UID, cluster=None)
    got = _check(_plan(owner_record=record))["backup-plan"]
    assert got.startswith("fail: "), got
    assert plan_id in got
    assert f"{naming.TAG_OWNER_UID}=0000-old-uid" in got
    assert f"{naming.TAG_OWNER_UID}={UID}" in got


def test_the_plan_id_the_status_remembers_is_preferred(deployment: Deployment) -> None:
    """status.backups.planId is looked up first (GetBackupPlan), as the operator does: its own
    plan passes by it beside a same-named foreign plan; without the id the plan is found by its
    tags all the same; a remembered id of a deleted plan falls back to the tags, and fails on
    the foreign plan left."""
    from forumdb.ownership import OwnerRecord

    ours = deployment.plan_id
    theirs = _foreign_plan(deployment, THEIRS["another-resource"])
    record = OwnerRecord.of(NS, NAME, uid=UID, cluster=None)
    got = _check(_plan(backup_plan_id=ours, owner_record=record))["backup-plan"]
    assert got == (
        f"pass: backup plan {naming.plan_name(NS, NAME)} present in {REGION}, id {ours} as "
        "the ForumDatabase's status remembers it"
    )
    got = _check(_plan(owner_record=record))["backup-plan"]
    assert got.startswith("pass: "), got
    assert f"id {ours}," in got

    _drop_plan_by_id(deployment, ours)
    got = _check(_plan(backup_plan_id=ours, owner_record=record))["backup-plan"]
    assert got.startswith("fail: "), got
    assert f"plan {theirs} has {naming.TAG_OWNER}=team-b/forum" in got


def _drop_plan_by_id(dep: Deployment, plan_id: str) -> None:
    backup = dep.client("backup")
    for sel in backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]:
        backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=sel["SelectionId"])
    backup.delete_backup_plan(BackupPlanId=plan_id)


def test_the_uid_and_plan_id_come_from_the_forumdatabase() -> None:
    from forumctl.kube import ForumDbTarget
    from forumctl.verify_cmd import _from_forumdb

    fdb = ForumDbTarget(
        name="forum",
        namespace="shop",
        uid=UID,
        status={"backups": {"planName": "p", "planId": "id-1", "vaultName": "v"}},
    )
    known = _from_forumdb(fdb, REGION)
    assert (known.uid, known.plan_id) == (UID, "id-1")
