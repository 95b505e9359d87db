"""The kind suite's scenario against a real AWS account: apply a ForumDatabase, the operator
(a local process against the envtest apiserver) makes it Ready; then deletionPolicy Delete
removes what it created. A cleanup pass deletes anything left, whatever the outcome."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from forumdb.naming import ResourceNames
from harness.kube import FORUMDB_RESOURCE, Kubectl
from harness.operator_runner import OperatorRunner
from harness.procs import wait_for
from harness.scenario import (
    apply_and_wait_ready,
    check_configmap,
    check_tables,
    example_forumdatabase,
)

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(3600)]

NAME = "forum"
PRIMARY = os.environ.get("FORUMDB_LIVE_REGION", "us-east-1")
REPLICA = os.environ.get("FORUMDB_LIVE_REPLICA_REGION", "us-west-2")
BACKUP_ROLE = os.environ.get("FORUMDB_LIVE_BACKUP_ROLE_ARN")


def _spec(prefix: str) -> dict:
    backups = (
        {"enabled": True, "iamRoleArn": BACKUP_ROLE, "retentionDays": 1}
        if BACKUP_ROLE
        else {"enabled": False}
    )
    return {
        "tablePrefix": prefix,
        "primaryRegion": PRIMARY,
        "replicaRegions": [REPLICA] if REPLICA else [],
        "backups": backups,
        "alarms": {"enabled": True, "createTopic": False},
        "deletionPolicy": "Delete",
    }


def _delete_leftovers(names: ResourceNames, regions: list[str]) -> list[str]:
    """Delete the replicas, tables, alarms and backup plan a failed run left behind; returns
    what could not be deleted (to be removed by hand)."""
    problems: list[str] = []
    primary = boto3.client("dynamodb", region_name=PRIMARY)

    def table_status(table: str) -> str | None:
        try:
            return primary.describe_table(TableName=table)["Table"]["TableStatus"]
        except primary.exceptions.ResourceNotFoundException:
            return None

    for table in names.tables.values():
        try:
            if table_status(table) is None:
                continue
            wait_for(lambda t=table: table_status(t) == "ACTIVE", timeout=1200, interval=10)
            replicas = primary.describe_table(TableName=table)["Table"].get("Replicas", [])
            for region in [r["RegionName"] for r in replicas if r["RegionName"] != PRIMARY]:
                primary.update_table(
                    TableName=table, ReplicaUpdates=[{"Delete": {"RegionName": region}}]
                )
                wait_for(lambda t=table: table_status(t) == "ACTIVE", timeout=1800, interval=10)
            primary.update_table(TableName=table, DeletionProtectionEnabled=False)
            primary.delete_table(TableName=table)
        except (ClientError, TimeoutError) as exc:
            problems.append(f"table {table} in {PRIMARY}: {exc}")
    for region in regions:
        cloudwatch = boto3.client("cloudwatch", region_name=region)
        try:
            alarms = cloudwatch.describe_alarms(AlarmNamePrefix=names.alarm_prefix)["MetricAlarms"]
            if alarms:
                cloudwatch.delete_alarms(AlarmNames=[a["AlarmName"] for a in alarms])
        except ClientError as exc:
            problems.append(f"alarms {names.alarm_prefix}* in {region}: {exc}")
    backup = boto3.client("backup", region_name=PRIMARY)
    try:
        for plan in backup.list_backup_plans()["BackupPlansList"]:
            if plan["BackupPlanName"] != names.plan:
                continue
            plan_id = plan["BackupPlanId"]
            for sel in backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]:
                backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=sel["SelectionId"])
            backup.delete_backup_plan(BackupPlanId=plan_id)
    except ClientError as exc:
        problems.append(f"backup plan {names.plan} in {PRIMARY}: {exc}")
    return problems


@pytest.fixture
def live_names(live_aws_env: dict[str, str], namespace: str) -> Iterator[ResourceNames]:
    """Names of this run's AWS resources; whatever exists of them afterwards is deleted."""
    names = ResourceNames(
        namespace=namespace, name=NAME, table_prefix=f"forumdb-live-{uuid.uuid4().hex[:8]}-"
    )
    yield names
    problems = _delete_leftovers(names, [PRIMARY, *([REPLICA] if REPLICA else [])])
    assert not problems, "delete by hand:\n" + "\n".join(problems)


@pytest.fixture
def live_operator(
    live_aws_env: dict[str, str], apiserver, namespace: str, tmp_path: Path
) -> Iterator[OperatorRunner]:
    runner = OperatorRunner(
        kube_env=apiserver.env, aws_env={**live_aws_env, "AWS_REGION": PRIMARY}, workdir=tmp_path
    )
    runner.start("--namespace", namespace, FORUMDB_DRIFT_INTERVAL="30")
    yield runner
    runner.stop_all()
    for handle in runner.handles:
        print(handle.logs())


def test_live_forumdatabase_ready_then_deleted(
    live_names: ResourceNames, live_operator: OperatorRunner, kubectl: Kubectl, namespace: str
) -> None:
    manifest = example_forumdatabase(NAME, **_spec(live_names.table_prefix))
    apply_and_wait_ready(kubectl, namespace, manifest, timeout=1800)
    check_configmap(kubectl, namespace, manifest)
    check_tables(lambda region: boto3.client("dynamodb", region_name=region), manifest["spec"])

    kubectl("delete", FORUMDB_RESOURCE, NAME, "-n", namespace, "--timeout=1800s", timeout=1830)
    primary = boto3.client("dynamodb", region_name=PRIMARY)
    for table in live_names.tables.values():
        with pytest.raises(primary.exceptions.ResourceNotFoundException):
            primary.describe_table(TableName=table)  # deletionPolicy Delete removed it
