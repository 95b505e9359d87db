"""forumctl restore-drill against the harness's moto server: a deployment made by the real
operator (recovery points from its vault, found through --forumdb), a point-in-time drill over
HTTP, and a drill killed with SIGTERM that still deletes its tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from forumctl.main import cli
from forumdb.ids import format_ts
from harness.kube import wait_for_phase

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "forumdatabase.yaml"
SAMPLE_DIR = ROOT / "examples" / "sample-data"
SOURCES = ["forum-Posts", "forum-Threads", "forum-Users"]


def forumctl(*args: str, expect: int = 0) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == expect, (
        f"forumctl {' '.join(map(str, args))} exited {result.exit_code}, expected {expect}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return json.loads(result.stdout) if result.stdout.startswith("{") else result.stdout


def _list_tables(region: str = "us-east-1") -> list[str]:
    return sorted(boto3.client("dynamodb", region_name=region).list_tables()["TableNames"])


def _until(check: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_drill_passes_on_an_operator_deployment(
    aws, apiserver, kubectl, namespace, operator_runner
):
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy()
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_for_phase(kubectl, "forum", namespace, "Ready", timeout=90)
    target = ("--forumdb", "forum", "-n", namespace, "--kubeconfig", apiserver.kubeconfig)
    forumctl("migrate", "--from", SAMPLE_DIR, *target)
    aws.control.run_backup_plan_now(status["backups"]["planId"], region="us-east-1")

    report = forumctl("restore-drill", "-o", "json", "--poll-interval", "0.1", *target)

    assert report["ok"] is True
    assert report["region"] == "us-east-1"
    assert len(report["tables"]) == 6
    vault = boto3.client("backup", region_name="us-east-1")
    points = vault.list_recovery_points_by_backup_vault(
        BackupVaultName=status["backups"]["vaultName"]
    )["RecoveryPoints"]
    from_points = [r for r in report["tables"] if r["method"] == "recovery-point"]
    assert {r["recoveryPointArn"] for r in from_points} == {p["RecoveryPointArn"] for p in points}
    # advanced DynamoDB backup is on (a new account's default): AWS Backup resources, restored
    # by AWS Backup restore jobs
    for row in from_points:
        assert row["recoveryPointArn"].startswith("arn:aws:backup:us-east-1:")
        job = vault.describe_restore_job(RestoreJobId=row["restoreJobId"])
        assert job["Status"] == "COMPLETED"
    for row in report["tables"]:
        assert row["ok"] is True, row
        assert row["sourceCount"] == row["restoredCount"] > 0
        assert row["checksumMatch"] is True
        assert row["cleanedUp"] is True
    assert _list_tables() == SOURCES


def test_point_in_time_drill_over_http_leaves_out_later_writes(aws):
    forumctl("tables", "create")
    forumctl("migrate", "--from", SAMPLE_DIR)
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_continuous_backups(
        TableName="forum-Users",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    time.sleep(0.05)  # separates the clock readings, asserts nothing about time
    moment = datetime.now(UTC)
    time.sleep(0.05)
    dynamodb.put_item(
        TableName="forum-Users",
        Item={"userId": {"N": "900"}, "updatedAt": {"S": format_ts(datetime.now(UTC))}},
    )
    report = forumctl(
        "restore-drill",
        *("-o", "json", "--table", "users", "--method", "pitr", "--keep"),
        *("--point-in-time", moment.isoformat(), "--poll-interval", "0.1"),
    )
    (row,) = report["tables"]
    assert row["ok"] is True, row
    assert (row["sourceCount"], row["restoredCount"]) == (5, 4)
    assert row["comparison"]["changedSince"] == 1
    restored = dynamodb.get_item(TableName=row["target"], Key={"userId": {"N": "900"}})
    assert "Item" not in restored  # written after the restore point
    dynamodb.delete_table(TableName=row["target"])


@pytest.mark.parametrize("output", ["text", "json"])
def test_sigterm_during_a_drill_deletes_its_tables(aws, output: str):
    forumctl("tables", "create")
    forumctl("migrate", "--from", SAMPLE_DIR)
    dynamodb = boto3.client("dynamodb")
    for name in SOURCES:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    # Every Scan is slow, so the drill is still comparing when it is told to stop.
    aws.control.set_fault(service="dynamodb", operation="Scan", latency_ms=3000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forumctl.main",
            "restore-drill",
            "--method",
            "pitr",
            "-o",
            output,
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _until(lambda: len(_list_tables()) > len(SOURCES), timeout=60, what="the drill tables")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    aws.control.clear_faults()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "deleting the drill tables" in stderr
    if output == "json":  # the CLI's error document, after the cleanup
        doc = json.loads(stdout)
        assert doc["exitCode"] == 128 + signal.SIGTERM
        assert "interrupted by SIGTERM" in doc["error"]
    assert _list_tables() == SOURCES
