"""forum-operator as a process against a real kube-apiserver and the moto server (with the
forumdb extension: global tables, AWS Backup, fault injection): the scenarios of the issue."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml
from op_example import EXAMPLE, NAME, example

from forumdb import naming
from harness.kube import forumdb_status, wait_for_phase
from harness.procs import wait_for

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]


def ddb(region: str) -> Any:
    return boto3.client("dynamodb", region_name=region)


def replica_regions(table: str = "forum-Users") -> list[str]:
    desc = ddb("us-east-1").describe_table(TableName=table)["Table"]
    return sorted(r["RegionName"] for r in desc.get("Replicas", []))


def events(kubectl, namespace: str, reason: str | None = None) -> list[dict[str, Any]]:
    items = kubectl.json("get", "events", "-n", namespace)["items"]
    return [e for e in items if reason is None or e.get("reason") == reason]


def reconciles(op) -> list[dict[str, Any]]:
    out = []
    for line in op.logs().splitlines():
        if '"reconciled"' in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def aws_write_calls(op) -> float:
    text = requests.get(op.metrics_url, timeout=5).text
    return sum(
        float(m.group(1))
        for m in re.finditer(
            r'^forumdb_aws_calls_total\{[^}]*kind="write"[^}]*\} (\S+)$', text, re.M
        )
    )


@pytest.fixture
def operator(operator_runner, namespace):
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy()
    return op


def test_example_becomes_ready_and_kubectl_get_shows_it(aws, kubectl, namespace, operator):
    aws.control.set_replication(replica_activation_calls=2)
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    assert status["replication"] == "2/2 ACTIVE"
    assert status["pitr"] == "Enabled"
    assert status["configMap"] == "forumdb-forum"
    table = kubectl("get", "forumdb", "-n", namespace).stdout
    assert re.search(r"forum\s+Ready\s+us-east-1\s+2/2 ACTIVE\s+Enabled\s+never", table), table
    # -o wide: replica regions, copy region, table prefix, message (priority-1 columns)
    wide = kubectl("get", "forumdb", "-n", namespace, "-o", "wide").stdout
    header, row = wide.splitlines()[:2]
    assert header.split()[-4:] == ["REPLICAS", "COPY-REGION", "PREFIX", "MESSAGE"], wide
    assert "REPLICAS" not in table
    assert re.search(r'\["?us-west-2"?\]\s+us-west-2\s+forum-\s+every table', row), wide
    cm = kubectl.json("get", "configmap", "forumdb-forum", "-n", namespace)
    assert cm["data"] == {
        "STORAGE_MODE": "dynamodb",
        "TABLE_PREFIX": "forum-",
        "USERS_TABLE": "forum-Users",
        "THREADS_TABLE": "forum-Threads",
        "POSTS_TABLE": "forum-Posts",
        "AWS_REGION": "us-east-1",
        "REPLICA_REGIONS": "us-west-2",
    }
    assert cm["metadata"]["ownerReferences"][0]["kind"] == "ForumDatabase"
    assert replica_regions() == ["us-west-2"]
    assert (
        ddb("us-west-2").describe_table(TableName="forum-Posts")["Table"]["TableStatus"] == "ACTIVE"
    )
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == dict.fromkeys(
        [
            "Ready",
            "TablesReady",
            "ReplicationHealthy",
            "PointInTimeRecovery",
            "BackupsConfigured",
            "AlarmsConfigured",
        ],
        "True",
    )


def test_steady_state_reconcile_makes_no_aws_write(aws, kubectl, namespace, operator):
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    seen = len(reconciles(operator))
    wait_for(lambda: len(reconciles(operator)) >= seen + 1, timeout=30, what="one more reconcile")
    writes = aws_write_calls(operator)
    wait_for(lambda: len(reconciles(operator)) >= seen + 3, timeout=30, what="two more reconciles")
    assert aws_write_calls(operator) == writes
    steady = reconciles(operator)[-1]
    assert steady["phase"] == "Ready"
    assert steady["aws_writes"] == 0
    assert steady["aws_calls"] > 0


def test_add_a_region_then_remove_one(aws, kubectl, namespace, operator):
    aws.control.set_replication(replica_activation_calls=2)
    kubectl.apply(example(), namespace=namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    kubectl.apply(example(replicaRegions=["us-west-2", "eu-west-1"]), namespace=namespace)
    wait_for(
        lambda: (
            forumdb_status(kubectl, NAME, namespace).get("replication") == "3/3 ACTIVE"
            and forumdb_status(kubectl, NAME, namespace).get("phase") == "Ready"
        ),
        timeout=90,
        what="3/3 ACTIVE",
    )
    assert replica_regions("forum-Posts") == ["eu-west-1", "us-west-2"]
    kubectl.apply(example(replicaRegions=["eu-west-1"]), namespace=namespace)
    wait_for(
        lambda: (
            forumdb_status(kubectl, NAME, namespace).get("replication") == "2/2 ACTIVE"
            and replica_regions("forum-Posts") == ["eu-west-1"]
        ),
        timeout=90,
        what="the us-west-2 replica gone",
    )
    assert replica_regions("forum-Users") == ["eu-west-1"]
    assert ConfigMapRegions(kubectl, namespace) == "eu-west-1"


def ConfigMapRegions(kubectl, namespace: str) -> str:
    cm = kubectl.json("get", "configmap", "forumdb-forum", "-n", namespace)
    return cm["data"]["REPLICA_REGIONS"]


def test_drift_made_by_hand_is_repaired_with_an_event(aws, kubectl, namespace, operator):
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    ddb("us-west-2").update_continuous_backups(
        TableName="forum-Threads",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    # the account-level alarm, shared by every ForumDatabase of the operator in the region
    cw.delete_alarms(AlarmNames=[naming.shared_alarm_name("UserErrors")])
    wait_for(
        lambda: len(events(kubectl, namespace, "DriftRepaired")) >= 2,
        timeout=30,
        what="DriftRepaired events",
    )
    messages = [e["message"] for e in events(kubectl, namespace, "DriftRepaired")]
    assert "repaired drift: enable PITR on forum-Threads in us-west-2 (it was disabled)" in messages
    pitr = ddb("us-west-2").describe_continuous_backups(TableName="forum-Threads")
    assert (
        pitr["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )
    assert cw.describe_alarms(AlarmNames=[naming.shared_alarm_name("UserErrors")])["MetricAlarms"]
    metrics = requests.get(operator.metrics_url, timeout=5).text
    repaired = re.search(r'^forumdb_drift_repairs_total\{feature="pitr"\} (\S+)$', metrics, re.M)
    assert repaired
    assert float(repaired.group(1)) >= 1
    assert re.search(r'^forumdb_aws_calls_total\{.*operation="DescribeTable".*\} ', metrics, re.M)


def test_schema_errors_are_rejected_by_the_apiserver_naming_the_field(kubectl, namespace):
    bad = example(billing={"mode": "FREE"}, pointInTimeRecovery={"recoveryPeriodDays": 99})
    result = kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert result.returncode != 0
    assert "spec.billing.mode" in result.stderr
    assert "spec.pointInTimeRecovery.recoveryPeriodDays" in result.stderr


def test_cross_field_errors_fail_with_a_message_and_no_aws_resources(
    aws, kubectl, namespace, operator
):
    bad = example(replicaRegions=["us-east-1"], backups={"copyRegion": "us-east-1"})
    kubectl.apply(bad, namespace=namespace)
    status = wait_for_phase(kubectl, NAME, namespace, "Failed", timeout=60)
    assert "spec.replicaRegions[0]: us-east-1 is the primary region" in status["message"]
    assert "spec.backups.copyRegion" in status["message"]
    warnings = events(kubectl, namespace, "InvalidSpec")
    assert warnings
    assert warnings[0]["type"] == "Warning"
    assert ddb("us-east-1").list_tables()["TableNames"] == []
    # fixing the spec is enough: the operator picks the new generation up
    kubectl.apply(example(), namespace=namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)


def test_killed_mid_reconcile_and_restarted_converges_without_duplicates(
    aws, kubectl, namespace, operator_runner
):
    aws.control.set_replication(replica_activation_calls=3)
    op = operator_runner.start("--namespace", namespace)
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    op.wait_for_log(r"create table forum-", timeout=60)
    op.kill()
    op2 = operator_runner.start("--namespace", namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    assert sorted(ddb("us-east-1").list_tables()["TableNames"]) == [
        "forum-Posts",
        "forum-Threads",
        "forum-Users",
    ]
    backup = boto3.client("backup", region_name="us-east-1")
    plans = backup.list_backup_plans()["BackupPlansList"]
    assert len(plans) == 1
    assert (
        len(
            backup.list_backup_selections(BackupPlanId=plans[0]["BackupPlanId"])[
                "BackupSelectionsList"
            ]
        )
        == 1
    )
    alarms = boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()["MetricAlarms"]
    assert len(alarms) == 23  # 13 table/account alarms, 10 index throttle alarms (5 GSIs)
    assert replica_regions() == ["us-west-2"]
    assert op2.alive


def test_twenty_percent_throttling_still_converges(aws, kubectl, namespace, operator):
    aws.control.set_fault(throttle_rate=0.2, seed=7)
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=180)
    assert status["replication"] == "2/2 ACTIVE"
    stats = aws.control.stats()
    assert json.dumps(stats)  # the extension reports what it injected
    aws.control.clear_faults()


def test_delete_with_retain_keeps_the_tables(aws, kubectl, namespace, operator):
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    kubectl("delete", "forumdb", NAME, "-n", namespace, "--timeout=60s")
    assert not kubectl.exists("forumdb", NAME, namespace=namespace)
    assert len(ddb("us-east-1").list_tables()["TableNames"]) == 3
    assert len(ddb("us-west-2").list_tables()["TableNames"]) == 3
    retained = [e["message"] for e in events(kubectl, namespace, "Retained")]
    assert retained
    assert retained[0].startswith("deletionPolicy Retain: left tables forum-Users")


def test_delete_with_delete_removes_tables_replicas_alarms_and_plan(
    aws, kubectl, namespace, operator
):
    kubectl.apply(example(deletionPolicy="Delete"), namespace=namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    kubectl("delete", "forumdb", NAME, "-n", namespace, "--timeout=90s")
    assert not kubectl.exists("forumdb", NAME, namespace=namespace)
    assert ddb("us-east-1").list_tables()["TableNames"] == []
    # a removed replica's table stays DELETING in its region for a while after it left the
    # global table (DDB-TABLE-228: 10-35 s on AWS): gone soon after, not at once
    wait_for(
        lambda: ddb("us-west-2").list_tables()["TableNames"] == [],
        timeout=20,
        interval=0.5,
        what="the replica tables in us-west-2 to be gone",
    )
    assert (
        boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()["MetricAlarms"] == []
    )
    assert (
        boto3.client("backup", region_name="us-east-1").list_backup_plans()["BackupPlansList"] == []
    )


def test_deletion_protection_blocks_delete_with_a_clear_condition(
    aws, kubectl, namespace, operator
):
    kubectl.apply(example(deletionPolicy="Delete", deletionProtection=True), namespace=namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    kubectl("delete", "forumdb", NAME, "-n", namespace, "--wait=false")

    def blocked() -> bool:
        conds = forumdb_status(kubectl, NAME, namespace).get("conditions", [])
        return any(c["type"] == "DeletionBlocked" and c["status"] == "True" for c in conds)

    wait_for(blocked, timeout=30, what="DeletionBlocked condition")
    assert "deletion protection is on" in forumdb_status(kubectl, NAME, namespace)["message"]
    assert len(ddb("us-east-1").list_tables()["TableNames"]) == 3
    # the way out the message names: protection off in the spec, then the deletion proceeds
    kubectl(
        *("patch", "forumdb", NAME, "-n", namespace, "--type=merge"),
        *("-p", '{"spec":{"deletionProtection":false}}'),
    )
    wait_for(
        lambda: not kubectl.exists("forumdb", NAME, namespace=namespace),
        timeout=60,
        what="the resource to be gone",
    )
    assert ddb("us-east-1").list_tables()["TableNames"] == []


def test_with_kopf_peering_the_operator_creates_its_peering_object_and_works(
    aws, kubectl, namespace, operator_runner
):
    operator_runner.standalone = False
    op = operator_runner.start("--namespace", namespace, "--peering", "forumdb")
    op.wait_healthy()
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    peering = kubectl.json("get", "kopfpeerings.kopf.dev", "forumdb", "-n", namespace)
    assert peering["status"], "kopf keeps its keep-alive in the peering object's status"


@pytest.fixture
def webhook_certs(tmp_path) -> Path:
    """A self-signed serving certificate for 127.0.0.1 (cert-manager's Secret layout)."""
    import subprocess

    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(tmp_path / "tls.key"), "-out", str(tmp_path / "tls.crt")),
        ],
        check=True,
        capture_output=True,
    )
    return tmp_path


def test_validating_webhook_rejects_cross_field_errors_at_apply(
    aws, kubectl, namespace, operator_runner, webhook_certs
):
    from harness.procs import free_port

    port = free_port()
    op = operator_runner.start(
        *("--namespace", namespace, "--webhook-port", str(port)),
        *("--webhook-host", "127.0.0.1", "--webhook-cert-dir", str(webhook_certs)),
    )
    try:
        op.wait_healthy()
        wait_for(
            lambda: kubectl.exists("validatingwebhookconfiguration", "forumdb.io"),
            timeout=30,
            what="the managed ValidatingWebhookConfiguration",
        )
        bad = example(replicaRegions=["us-east-1"], backups={"copyRegion": "us-east-1"})
        result = kubectl(
            "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(bad), check=False
        )
        assert result.returncode != 0
        assert "spec.replicaRegions[0]: us-east-1 is the primary region" in result.stderr
        assert "spec.backups.copyRegion" in result.stderr
        # an unknown field reaches the webhook (the CRD keeps it) and is named, not pruned
        # (without kubectl's client-side check, as server-side tools such as GitOps apply)
        unknown = example(retention=30)
        result = kubectl(
            *("apply", "--validate=false", "-n", namespace, "-f", "-"),
            input=yaml.safe_dump(unknown),
            check=False,
        )
        assert result.returncode != 0
        assert "spec.retention: unknown field" in result.stderr
        kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
        wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    finally:
        op.stop()
        kubectl("delete", "validatingwebhookconfiguration", "forumdb.io", check=False)


def test_a_backup_run_shows_in_kubectl_get(aws, kubectl, namespace, operator):
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    assert status["lastBackup"] == "never"
    aws.control.run_backup_plan_now(status["backups"]["planId"], region="us-east-1")
    wait_for(
        lambda: forumdb_status(kubectl, NAME, namespace).get("lastBackup", "never") != "never",
        timeout=30,
        what="status.lastBackup",
    )
    status = forumdb_status(kubectl, NAME, namespace)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", status["lastBackup"])
    row = kubectl("get", "forumdb", NAME, "-n", namespace).stdout
    assert status["lastBackup"] in row
